"""Starts the front-end: STARTTLS on the submission port, implicit TLS on the smtps port."""

from __future__ import annotations

import asyncio
import logging
import ssl
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.auth_guard import AuthFailureGuard
from core.config import Settings, load_settings
from core.db import make_engine
from core.logs import setup_logging
from core.metrics import serve_metrics
from core.tls_cert import expires_at, server_context
from core.workers import default_processes, run_processes
from relay.connection_limits import ConnectionLimits, raise_descriptor_limit
from relay.directory import Directory
from relay.handler import RelayHandler
from relay.metrics import CERTIFICATE_EXPIRY
from relay.proxied import balancers
from relay.smtp_protocol import RelaySMTP

log = logging.getLogger(__name__)

# On the implicit-TLS port aiosmtpd cannot see the TLS and warns that AUTH is not
# TLS-only; RelayHandler checks the transport itself before any AUTH.
warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")

STOP_GRACE_SECONDS = 30.0


def protocol_factory(settings: Settings, handler: RelayHandler, tls: ssl.SSLContext, implicit_tls: bool,
                     limits: ConnectionLimits) -> Callable[[], RelaySMTP]:
    common: dict[str, Any] = {
        "limits": limits,
        "greeting_timeout": settings.smtp.greeting_timeout_seconds,
        "hostname": settings.hostname,
        "ident": "mailrelay",
        "data_size_limit": settings.smtp.max_message_size,
        "enable_SMTPUTF8": True,
        "decode_data": False,
        "auth_required": True,
        "timeout": settings.smtp.idle_timeout_seconds,
    }

    proxy_from = balancers(settings.smtp.proxy_protocol_from)

    def make() -> RelaySMTP:
        if implicit_tls:
            # The whole connection is TLS: aiosmtpd does not know, so AUTH's own
            # TLS requirement is checked by RelayHandler against the transport.
            return RelaySMTP(handler, auth_require_tls=False, proxy_from=proxy_from,
                             implicit_tls=tls if proxy_from else None, **common)
        return RelaySMTP(handler, tls_context=tls, require_starttls=True, auth_require_tls=True,
                         proxy_from=proxy_from, **common)

    return make


async def serve(settings: Settings, stop: asyncio.Event, reuse_port: bool = False, worker: int = 0) -> None:
    engine = make_engine(settings.effective_database_url)
    directory = Directory(engine, settings.directory_loaded_file("front-end"))
    guard = AuthFailureGuard(settings.smtp.auth_failures)
    handler = RelayHandler(settings, directory, guard, engine)
    tls = server_context(settings.tls_cert_file, settings.tls_key_file)
    CERTIFICATE_EXPIRY.set(expires_at(settings.tls_cert_file))
    limits = ConnectionLimits(settings.smtp.max_connections, settings.smtp.max_connections_per_client,
                              raise_descriptor_limit())
    loop = asyncio.get_running_loop()
    host = settings.smtp.listen_address
    submission = await loop.create_server(protocol_factory(settings, handler, tls, False, limits),
                                          host, settings.smtp.submission_port, reuse_address=True,
                                          reuse_port=reuse_port)
    # Behind a load balancer, TLS on the TLS port begins after the PROXY header (relay.proxied).
    proxied = bool(settings.smtp.proxy_protocol_from)
    smtps = await loop.create_server(protocol_factory(settings, handler, tls, True, limits),
                                     host, settings.smtp.smtps_port, ssl=None if proxied else tls,
                                     reuse_address=True, reuse_port=reuse_port,
                                     ssl_handshake_timeout=None if proxied else
                                     settings.smtp.greeting_timeout_seconds)
    refresher = asyncio.create_task(directory.keep_fresh())
    metrics = serve_metrics(settings.metrics, "front-end", worker)
    log.info("front-end listening on %s:%d (STARTTLS) and %s:%d (TLS)",
             host, settings.smtp.submission_port, host, settings.smtp.smtps_port)
    await stop.wait()
    log.info("stopping: no new connections; waiting up to %ds for open sessions",
             int(STOP_GRACE_SECONDS))
    refresher.cancel()
    for server in (submission, smtps):
        server.close()
    try:
        await asyncio.wait_for(asyncio.gather(submission.wait_closed(), smtps.wait_closed()),
                               STOP_GRACE_SECONDS)
    except TimeoutError:
        log.warning("open sessions did not end in time; closing them")
    if metrics is not None:
        metrics.close()
    engine.dispose()


def main(config_path: Path | None = None) -> None:
    settings = load_settings(config_path)
    setup_logging(settings, "front-end")
    count = settings.smtp.processes or default_processes()
    run_processes(count, lambda stop, worker: serve(settings, stop, reuse_port=count > 1, worker=worker))
