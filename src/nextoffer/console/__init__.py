"""The web console: server-rendered pages (Jinja2 + htmx) over the services the API uses.

The shell page carries no data; its content region is loaded from fragment routes that
authenticate exactly like the API (the browser sends the API's headers), and forms write
through the JSON API itself, so every rule and error a page shows is the API's own.
"""
