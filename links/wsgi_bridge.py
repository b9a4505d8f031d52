"""A WSGI application (the unsubscribe pages' Flask app) answered from an aiohttp server.

The link service runs on aiohttp because the tracked links it answers come thousands a
second; the unsubscribe pages keep Flask and Flask-WTF's CSRF protection. No kept-up
library bridges the two (aiohttp-wsgi had its last release in 2021), and what is needed
is small: a PEP 3333 environ from the request, the application run in a worker thread
(it blocks on the database), its answer copied back.
"""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote

from aiohttp import web
from multidict import CIMultiDict

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
_NOT_COPIED = frozenset(("content-length", "transfer-encoding", "connection"))


def _environ(request: web.Request, body: bytes, client_address: str) -> dict[str, Any]:
    path = request.raw_path.partition("?")[0]
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method, "SCRIPT_NAME": "", "PATH_INFO": unquote(path, "latin-1"),
        "QUERY_STRING": request.query_string, "SERVER_NAME": request.url.host or "localhost",
        "SERVER_PORT": str(request.url.port or 80),
        "SERVER_PROTOCOL": f"HTTP/{request.version.major}.{request.version.minor}",
        "REMOTE_ADDR": client_address, "CONTENT_TYPE": request.headers.get("Content-Type", ""),
        "CONTENT_LENGTH": str(len(body)), "wsgi.version": (1, 0), "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr, "wsgi.multithread": True,
        "wsgi.multiprocess": False, "wsgi.run_once": False,
    }
    for name in set(request.headers):
        key = "HTTP_" + name.upper().replace("-", "_")
        if key not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
            environ[key] = ("; " if key == "HTTP_COOKIE" else ",").join(request.headers.getall(name))
    return environ


def _run(app: WsgiApp, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    started: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(status: str, headers: list[tuple[str, str]],
                       exc_info: Any = None) -> Callable[[bytes], None]:
        started[:] = [(status, headers)]
        return chunks.append

    chunks: list[bytes] = []
    result = app(environ, start_response)
    try:
        chunks.extend(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    status, headers = started[0]
    return status, headers, b"".join(chunks)


async def answer(app: WsgiApp, request: web.Request, client_address: str) -> web.Response:
    body = await request.read()
    status, headers, content = await asyncio.to_thread(_run, app, _environ(request, body, client_address))
    copied = CIMultiDict((name, value) for name, value in headers if name.lower() not in _NOT_COPIED)
    return web.Response(status=int(status.split()[0]), headers=copied, body=content)
