"""Templates and the headers every console response carries (a strict CSP, no caching of data)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nextoffer.console.fields import input_value, pointer_id, shown

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("nextoffer.console", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(pointer_id=pointer_id, input_value=input_value)
    env.filters["shown"] = shown
    return env


def render(
    template: str,
    context: Mapping[str, Any],
    status: int = 200,
    *,
    cacheable: bool = False,
) -> HTMLResponse:
    """A page or fragment; fragments carry tenant data, so nothing is stored by the browser."""
    html = environment().get_template(template).render(**context)
    headers = dict(SECURITY_HEADERS)
    headers["Cache-Control"] = "no-cache" if cacheable else "no-store"
    headers["Vary"] = "HX-Request"
    return HTMLResponse(html, status_code=status, headers=headers)


class SecurityHeaders:
    """Adds `SECURITY_HEADERS` to every response of the wrapped app (the static files)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
