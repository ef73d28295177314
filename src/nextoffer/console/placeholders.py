"""Pages whose APIs have not landed yet: they say so, inside the layout they will use."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nextoffer.console.pages import Page, PageContext

PENDING = {
    "/reports": (
        "Reports",
        "Reports are not available yet: no reporting API exists. Decision events are recorded "
        "and can be read from /v1/decision-events.",
    ),
    "/experiments": (
        "Experiments",
        "Experiments are not available yet: no experiment API exists.",
    ),
}


def _loader(path: str) -> Any:
    title, text = PENDING[path]

    def load(_ctx: PageContext) -> Mapping[str, Any]:
        return {"title": title, "text": text}

    return load


PAGES = [Page(path, "placeholder.html", _loader(path)) for path in PENDING]
