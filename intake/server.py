"""Starts the bounce intake: LMTP on a Unix socket that Postfix's lmtp client delivers to,
and beside it the mailbox simulator, the Postfix log tailer, the webhook sender and the
reputation guard."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiosmtpd.lmtp import LMTP
from sqlalchemy import Engine

from core import accepted_messages, archive, idempotency, warmup
from core.config import Settings, load_settings
from core.db import make_engine, session_scope
from core.domain_verify import make_resolver
from core.events import record_events
from core.logs import setup_logging
from core.metrics import serve_metrics
from core.postfix.instance import PostfixInstance
from core.reputation import guard
from core.secretbox import SecretBox
from core.service import run_until_signalled
from core.simulator import SimulatorDomain
from core.unix_sockets import give_to_postfix, prepare_socket_path
from core.unsubscribe import token_key
from core.verp import verp_key
from intake.directory import IntakeDirectory
from intake.handler import ReportHandler
from intake.log_tailer import LogTailer
from intake.shaper import Shaper
from intake.simulator import SimulatorHandler
from intake.socketmap import serve_socketmap
from intake.webhook_sender import WebhookSender

log = logging.getLogger(__name__)

POLL_INTERVAL_SECONDS = 1.0
REPUTATION_INTERVAL_SECONDS = 30.0
FORGET_INTERVAL_SECONDS = 3600.0


async def keep_polling(what: str, poll: Callable[[], object],
                       interval: float = POLL_INTERVAL_SECONDS) -> None:
    while True:
        try:
            await asyncio.to_thread(poll)
        except Exception:
            log.exception("%s failed; trying again", what)
        await asyncio.sleep(interval)


def advance_warmups(engine: Engine, settings: Settings) -> int:
    with session_scope(engine) as session:
        return len(record_events(session, warmup.advance_warmups(session, settings.warmup)))


def guard_reputation(engine: Engine, settings: Settings) -> list[str]:
    with session_scope(engine) as session:
        return guard(session, settings.reputation, settings.delivery_profiles)


def forget_old_records(engine: Engine, settings: Settings) -> int:
    with session_scope(engine) as session:
        return (accepted_messages.forget_old(session, settings.milter.record_days)
                + idempotency.sweep(session))


def sweep_archive(engine: Engine, settings: Settings) -> int:
    with session_scope(engine) as session:
        return archive.sweep(session, settings.archive)


async def serve_lmtp(handler: object, path: Path, hostname: str, **options: Any) -> asyncio.Server:
    """An LMTP listener on a Unix socket that Postfix's lmtp client may write to."""
    prepare_socket_path(path)
    server = await asyncio.get_running_loop().create_unix_server(
        lambda: LMTP(handler, hostname=hostname, decode_data=False, **options), str(path))
    give_to_postfix(path)
    return server


async def serve(settings: Settings, stop: asyncio.Event) -> None:
    engine = make_engine(settings.effective_database_url)
    secret_box = SecretBox.from_file(settings.effective_encryption_key_file)
    directory = IntakeDirectory(engine, settings)
    handler = ReportHandler(engine, verp_key(secret_box), directory, settings.hostname,
                            settings.feedback_domain, token_key(secret_box), make_resolver(settings))
    inbound = settings.postfix.inbound_address
    simulator_handler = SimulatorHandler(SimulatorDomain(settings.simulator_domain),
                                         "127.0.0.1" if inbound == "0.0.0.0" else inbound,
                                         settings.postfix.inbound_port)
    paths = (settings.intake_socket, settings.simulator_socket)
    listeners = (await serve_lmtp(handler, paths[0], settings.hostname, data_size_limit=0),
                 await serve_lmtp(simulator_handler, paths[1], settings.hostname))
    socketmap = await serve_socketmap(settings.intake_socketmap, handler.inbound_action)
    log.info("bounce intake listening on %s for %s and %s, mailbox simulator on %s for %s", paths[0],
             settings.bounce_domain, settings.feedback_domain, paths[1], settings.simulator_domain)
    instance = PostfixInstance(settings)
    tailer = LogTailer(engine, instance.log_file, settings.hostname,
                       instance.queue(through_helper=False).queue_ids, settings=settings)
    shaper = Shaper(engine, settings)
    sender = WebhookSender(engine, secret_box, settings.webhooks)
    guard_now = functools.partial(guard_reputation, engine, settings)
    metrics = serve_metrics(settings.metrics, "intake")
    tasks = [asyncio.create_task(directory.keep_fresh()),
             asyncio.create_task(keep_polling("reading the Postfix log", tailer.poll)),
             asyncio.create_task(keep_polling("sending webhooks", sender.poll)),
             asyncio.create_task(keep_polling("adaptive shaping", shaper.poll)),
             asyncio.create_task(keep_polling("warm-up steps",
                                              functools.partial(advance_warmups, engine, settings),
                                              REPUTATION_INTERVAL_SECONDS)),
             asyncio.create_task(keep_polling("the reputation guard", guard_now,
                                              REPUTATION_INTERVAL_SECONDS)),
             asyncio.create_task(keep_polling("forgetting old message records",
                                              functools.partial(forget_old_records, engine, settings),
                                              FORGET_INTERVAL_SECONDS)),
             asyncio.create_task(keep_polling("sweeping the archive",
                                              functools.partial(sweep_archive, engine, settings),
                                              settings.archive.sweep_minutes * 60.0))]
    await stop.wait()
    for task in tasks:
        task.cancel()
    for listener, path in zip((*listeners, socketmap), (*paths, settings.intake_socketmap), strict=True):
        listener.close()
        await listener.wait_closed()
        path.unlink(missing_ok=True)
    if metrics is not None:
        metrics.close()
    engine.dispose()


def main(config_path: Path | None = None) -> None:
    settings = load_settings(config_path)
    setup_logging(settings, "intake")
    run_until_signalled(lambda stop: serve(settings, stop))
