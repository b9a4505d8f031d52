"""The link service's HTTP server: aiohttp, answering tracked links itself (links/tracking.py)
and every other path with the unsubscribe pages' Flask app (links/wsgi_bridge.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from core.config import Settings
from core.metrics import serve_metrics
from core.secretbox import SecretBox
from core.tracking import token_key
from links import MAX_BODY, create_app, tracking, wsgi_bridge


def make_app(settings: Settings) -> web.Application:
    pages = create_app(settings)
    app = web.Application(client_max_size=MAX_BODY * 4)
    key = token_key(SecretBox.from_file(settings.effective_encryption_key_file))
    tracking.add_routes(app, settings.effective_database_url, key, settings.tracking)

    async def other(request: web.Request) -> web.Response:
        return await wsgi_bridge.answer(pages.wsgi_app, request, tracking.client_address(request))

    app.router.add_route("*", "/{path:.*}", other)

    async def metrics(_: web.Application) -> AsyncIterator[None]:
        server = serve_metrics(settings.metrics, "links")
        yield
        if server is not None:
            server.close()

    app.cleanup_ctx.append(metrics)
    return app
