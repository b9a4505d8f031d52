"""Each service's own Prometheus metrics, served on a loopback port of its own.

Every service (front-end, milter, intake, link service, send API) is a process of its own,
so prometheus_client's default registry in each holds that service's metrics and its
process figures. The HTTP server is the standard library's (prometheus_client's own
has no way to ask for a token): a thread answers GET /metrics, with the bearer token the
settings hold the SHA-256 of, so a local user without the token reads nothing either. A
scraper on another box reaches the ports through the box's TLS proxy (ansible
panel_proxy: /metrics/<service>), which passes the token on.

Several processes of one service (smtp.processes, milter.processes) each serve their own
port: process n (from 0) on the service's port + 100 * n.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import REGISTRY, CollectorRegistry, make_wsgi_app

from core.config import MetricsSettings

log = logging.getLogger(__name__)

WORKER_PORT_STEP = 100

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def token_sha256(token: str) -> str:
    """What metrics.token_sha256 holds for a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def bears_token(authorization: str, wanted_sha256: str) -> bool:
    """Whether an Authorization header carries the bearer token whose hash is wanted_sha256."""
    scheme, _, token = authorization.partition(" ")
    given = token_sha256(token.strip()) if scheme.lower() == "bearer" else ""
    return bool(wanted_sha256) and hmac.compare_digest(given, wanted_sha256)


def with_token(app: WsgiApp, wanted_sha256: str) -> WsgiApp:
    """app for requests that carry the token whose hash is wanted_sha256 ("": every request)."""
    def guarded(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if wanted_sha256 and not bears_token(environ.get("HTTP_AUTHORIZATION", ""), wanted_sha256):
            start_response("401 Unauthorized", [("Content-Type", "text/plain"),
                                                ("WWW-Authenticate", 'Bearer realm="metrics"')])
            return [b"a bearer token is needed: the metrics token\n"]
        if environ.get("PATH_INFO") != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"metrics are at /metrics\n"]
        return app(environ, start_response)
    return guarded


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class MetricsServer:
    """The /metrics listener of one service process, in a thread of its own."""

    def __init__(self, settings: MetricsSettings, port: int, registry: CollectorRegistry = REGISTRY) -> None:
        app = with_token(make_wsgi_app(registry), settings.token_sha256)
        self._server = make_server(settings.listen_address, port, app, _ThreadingServer, _QuietHandler)
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def serve_metrics(settings: MetricsSettings, service: str, worker: int = 0) -> MetricsServer | None:
    """Start the service's listener; None when its port is 0 or cannot be had (the service runs
    on without: metrics are not worth a stopped mail flow, and the scraper sees the target down)."""
    port = settings.port(service)
    if not port:
        return None
    port += WORKER_PORT_STEP * worker
    try:
        server = MetricsServer(settings, port)
    except OSError as exc:
        log.error("metrics of the %s not served on %s:%d: %s", service, settings.listen_address, port, exc)
        return None
    log.info("metrics of the %s on http://%s:%d/metrics", service, settings.listen_address, port)
    return server
