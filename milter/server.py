"""Starts the milter on the socket Postfix's smtpd_milters names (settings.milter_socket)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from pathlib import Path

from core.archive import archive_key
from core.config import Settings, load_settings
from core.db import make_engine
from core.logs import setup_logging
from core.metrics import serve_metrics
from core.secretbox import SecretBox
from core.simulator import SimulatorDomain
from core.unix_sockets import give_to_postfix, prepare_socket_path
from core.unsubscribe import UnsubscribeLinks, token_key
from core.verp import verp_key
from core.workers import default_processes, run_processes
from milter.accepted_record import AcceptedRecorder
from milter.directory import MilterDirectory
from milter.policy import MilterPolicy
from milter.protocol.session import MilterSession
from milter.routing import Router
from milter.throttle import Throttle, ThrottleStore
from milter.throttle_fallback import FallbackThrottleStore
from milter.throttle_memory import MemoryThrottleStore
from milter.throttle_redis import RedisThrottleStore

log = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 10.0


def unix_socket_path(settings: Settings) -> Path | None:
    kind, _, where = settings.milter_socket.partition(":")
    return Path(where) if kind == "unix" else None


def bind_unix_listener(path: Path) -> socket.socket:
    """The Unix socket Postfix connects to, bound once and shared by every milter process."""
    prepare_socket_path(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(socket.SOMAXCONN)
    give_to_postfix(path)
    return listener


async def start_listener(settings: Settings, policy: MilterPolicy, unix_listener: socket.socket | None,
                         reuse_port: bool) -> asyncio.Server:
    async def serve_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await MilterSession(reader, writer, policy).run()

    if unix_listener is not None:
        return await asyncio.start_unix_server(serve_connection, sock=unix_listener)
    host, _, port = settings.milter_socket.removeprefix("inet:").rpartition(":")
    return await asyncio.start_server(serve_connection, host, int(port), reuse_address=True,
                                      reuse_port=reuse_port)


def make_store(settings: Settings) -> ThrottleStore:
    if settings.milter.redis_url:
        shared = RedisThrottleStore(settings.milter.redis_url, box_id=f"{socket.gethostname()}:{os.getpid()}")
        return FallbackThrottleStore(shared, settings.milter.redis_unavailable)
    return MemoryThrottleStore(settings.milter_dir / "throttle.json")


def processes(settings: Settings) -> int:
    """milter.processes, or from the core count where Redis holds the throttle counters (each
    process would keep counters of its own in memory)."""
    if settings.milter.processes:
        return settings.milter.processes
    return default_processes() if settings.milter.redis_url else 1


async def serve(settings: Settings, stop: asyncio.Event, unix_listener: socket.socket | None = None,
                reuse_port: bool = False, worker: int = 0) -> None:
    engine = make_engine(settings.effective_database_url)
    secret_box = SecretBox.from_file(settings.effective_encryption_key_file)
    directory = MilterDirectory(engine, settings, secret_box)
    store = make_store(settings)
    accepted = AcceptedRecorder(engine, archive_key(secret_box))
    router = Router(directory, store, settings.delivery_profiles)
    links = UnsubscribeLinks(token_key(secret_box), settings.link_base_url,
                             settings.feedback_domain)
    policy = MilterPolicy(directory, Throttle(store), router, verp_key(secret_box),
                          settings.bounce_domain, accepted, SimulatorDomain(settings.simulator_domain), links,
                          settings.tracking)
    server = await start_listener(settings, policy, unix_listener, reuse_port)
    tasks = [asyncio.create_task(directory.keep_fresh())]
    if isinstance(store, MemoryThrottleStore):
        tasks.append(asyncio.create_task(store.keep_saved()))
    metrics = serve_metrics(settings.metrics, "milter", worker)
    log.info("milter listening on %s", settings.milter_socket)
    await stop.wait()
    server.close()
    for task in tasks:
        task.cancel()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(server.wait_closed(), STOP_GRACE_SECONDS)
    await store.close()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(accepted.flush(), STOP_GRACE_SECONDS)
    if metrics is not None:
        metrics.close()
    engine.dispose()


def main(config_path: Path | None = None) -> None:
    settings = load_settings(config_path)
    setup_logging(settings, "milter")
    path = unix_socket_path(settings)
    unix_listener = bind_unix_listener(path) if path is not None else None
    count = processes(settings)
    try:
        run_processes(count, lambda stop, worker: serve(settings, stop, unix_listener, reuse_port=count > 1,
                                                        worker=worker))
    finally:
        if path is not None:
            path.unlink(missing_ok=True)
