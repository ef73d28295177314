"""Decisioning as a service: catalogs per sandbox, profiles, the engine, decision events.

It ties the pure engine to storage, and is shared by the Decisioning API, the Edge API, the
`nextoffer decide` command and batch runs.
"""
