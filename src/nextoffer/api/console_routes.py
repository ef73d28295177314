"""The console's HTTP routes: static files, one fragment route per page, and the shell.

`/console/...` answers every browser with the same data-free shell; the shell then loads
`/console/fragments/...` for its own path with the API's headers, so deep links and reloads
work and every fragment authenticates exactly as the API does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib import resources

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from nextoffer import __version__
from nextoffer.api.context import call_of, offload, services
from nextoffer.api.problems import status_of
from nextoffer.api.tenancy import ORG_HEADER, SANDBOX_HEADER
from nextoffer.console.pages import NAV, Page, PageContext, all_pages
from nextoffer.console.rendering import SecurityHeaders, render
from nextoffer.errors import NextofferError, NotFound

PREFIX = "/console"
FRAGMENTS = PREFIX + "/fragments"


def problem_fragment(request: Request, exc: NextofferError) -> Response:
    """An error where the page would be: 401 asks to sign in, 403 names what is refused."""
    status = status_of(exc)
    context = {
        "problem": exc,
        "status": status,
        "org": request.headers.get(ORG_HEADER, ""),
        "sandbox": request.headers.get(SANDBOX_HEADER, ""),
    }
    return render("problem.html", context, status)


def fragment_endpoint(page: Page) -> Callable[[Request], Awaitable[Response]]:
    """The page's fragment: authenticated as the API authenticates, its loader in the read lane,
    an error shown where the page would be."""

    async def endpoint(request: Request) -> Response:
        try:
            call = call_of(request)
            context = {}
            if page.load is not None:
                ctx = PageContext(
                    request,
                    call.tenant,
                    call.actor,
                    services(request),
                    request.path_params,
                    request.query_params,
                )
                context = dict(await offload(request, page.load, ctx))
        except NextofferError as exc:
            return problem_fragment(request, exc)
        return render(page.template, {**context, "tenant": call.tenant, "actor": call.actor})

    return endpoint


async def no_such_page(request: Request) -> Response:
    return problem_fragment(
        request,
        NotFound.at(
            f"there is no console page {request.url.path[len(FRAGMENTS) :]}", parameter="path"
        ),
    )


async def shell(request: Request) -> Response:
    """The layout without data; `fragment` is where its content region loads from."""
    path = request.url.path[len(PREFIX) :]
    query = request.url.query
    fragment = FRAGMENTS + path + (f"?{query}" if query else "")
    return render(
        "shell.html",
        {
            "nav": NAV,
            "fragment": fragment,
            "open_mode": request.app.state.auth.open_mode,
            "version": __version__,
        },
    )


async def to_console(_request: Request) -> Response:
    return RedirectResponse(PREFIX, status_code=307)


def console_routes() -> list[BaseRoute]:
    static = StaticFiles(directory=str(resources.files("nextoffer.console").joinpath("static")))
    routes: list[BaseRoute] = [
        Route("/", to_console, methods=["GET"], include_in_schema=False),
        Mount(PREFIX + "/static", SecurityHeaders(static), name="console-static"),
    ]
    for page in all_pages():
        path = FRAGMENTS + ("" if page.path == "/" else page.path)
        routes.append(
            Route(path, fragment_endpoint(page), methods=["GET"], include_in_schema=False)
        )
    routes += [
        Route(FRAGMENTS + "/{rest:path}", no_such_page, methods=["GET"], include_in_schema=False),
        Route(PREFIX, shell, methods=["GET"], include_in_schema=False),
        Route(PREFIX + "/{rest:path}", shell, methods=["GET"], include_in_schema=False),
    ]
    return routes
