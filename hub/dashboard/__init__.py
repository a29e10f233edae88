"""The reference dashboard: static files (index.html, app.js, style.css) served at /dashboard/
from the hub's own origin. The page holds no data: every figure comes from POST /graphql with
the viewer's own token. Its Content-Security-Policy allows only this origin's script, styles
and requests."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

FOLDER = Path(__file__).resolve().parent
MEDIA_TYPES = {
    "index.html": "text/html",
    "app.js": "text/javascript",
    "style.css": "text/css",
}
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache",
}


def routes() -> list[Route]:
    """/dashboard (redirected to /dashboard/, so the page's relative links resolve) and its
    files; any other name under /dashboard/ is 404. The files are read once, here."""
    files = {name: (FOLDER / name).read_bytes() for name in MEDIA_TYPES}

    async def asset(request: Request) -> Response:
        name = request.path_params.get("name") or "index.html"
        if name not in files:
            return Response("no such file of the dashboard", 404, media_type="text/plain")
        return Response(files[name], media_type=MEDIA_TYPES[name], headers=HEADERS)

    async def to_folder(_: Request) -> Response:
        return RedirectResponse("/dashboard/", status_code=308)

    return [
        Route("/dashboard", to_folder, methods=["GET"]),
        Route("/dashboard/", asset, methods=["GET"]),
        Route("/dashboard/{name}", asset, methods=["GET"]),
    ]
