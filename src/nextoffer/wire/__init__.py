"""Wire formats shared by every way in: the HTTP routes, the CLI, the Edge and batch runs.

The Decisioning API's v1.0/v0.9 bodies and responses, the Edge's requests, scope tokens,
experience events and responses, and the one content projection of an offer: pure
translation between what clients send and the services' calls, below every adapter
(DESIGN.md §1), so that no way in re-implements another's reading or shaping.
"""
