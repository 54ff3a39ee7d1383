"""``/docs`` (Swagger UI) and ``/redoc`` from files on this machine: they work offline.

FastAPI's own pages load Swagger UI and ReDoc from a CDN, so without a network ``/docs`` is
blank. The ``fastapi-offline`` package ships both bundles; we serve them from
``/docs-assets``. Without that package (an install without the ``server`` extra) ``/docs``
is a plain page listing the routes and linking ``/openapi.json``, still with nothing loaded
from elsewhere.
"""

from __future__ import annotations

import html
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_URL = "/docs-assets"


def assets_dir() -> Path | None:
    """The folder with swagger-ui-bundle.js, swagger-ui.css and redoc.standalone.js, if any."""
    try:
        import fastapi_offline
    except ImportError:
        return None
    folder = Path(fastapi_offline.__file__).parent / "static"
    needed = ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js")
    return folder if all((folder / n).is_file() for n in needed) else None


def _route_list(app: FastAPI) -> HTMLResponse:
    rows = []
    for path, item in app.openapi().get("paths", {}).items():
        for method, op in item.items():
            rows.append(f"<li><code>{method.upper()} {html.escape(path)}</code> — "
                        f"{html.escape(op.get('summary', ''))}</li>")
    return HTMLResponse(
        f"<!doctype html><meta charset=utf-8><title>{html.escape(app.title)} API</title>"
        f"<h1>{html.escape(app.title)} API</h1><ul>{''.join(rows)}</ul>"
        "<p>The full description: <a href='/openapi.json'>/openapi.json</a>. "
        "(Install <code>textinpaint[server]</code> for the interactive page.)</p>")


def mount_docs(app: FastAPI) -> None:
    """Add ``/docs`` and ``/redoc`` to an app made with ``docs_url=None, redoc_url=None``."""
    folder = assets_dir()
    if folder is not None:
        app.mount(ASSETS_URL, StaticFiles(directory=folder), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger():
        if folder is None:
            return _route_list(app)
        return get_swagger_ui_html(
            openapi_url=app.openapi_url, title=f"{app.title} API",
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/favicon.png")

    @app.get("/redoc", include_in_schema=False)
    async def redoc():
        if folder is None:
            return _route_list(app)
        return get_redoc_html(openapi_url=app.openapi_url, title=f"{app.title} API",
                              redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
                              redoc_favicon_url=f"{ASSETS_URL}/favicon.png",
                              with_google_fonts=False)
