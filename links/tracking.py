"""The tracked links' routes: GET /c/TOKEN redirects to the URL inside the token, GET /o/TOKEN
answers the open pixel. Each answers at once; the open or click it records (core/engagement.py)
waits in memory and is written with the others of its fraction of a second in one transaction.

The writing is done by a process of its own (a pool of one, started with the service and
again if it dies), at a lower CPU priority: building and inserting a few hundred events
costs the CPU of some thousands of redirects; in this process it would hold the event
loop's GIL, and at the same priority it would take the core a redirect is waiting for.

A token that does not open here (changed, cut, made for another host or the other kind, or
older than tracking.token_days) gets 404 and makes no event. The same link fetched again
from the same address and browser within tracking.repeat_seconds (a double click, a
client's retry) is answered and counted once. A HEAD request is answered and never
counted: scanners send them, mail clients do not.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ipaddress
import logging
import multiprocessing
import os
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime

from aiohttp import web
from sqlalchemy import Engine

from core.config import TrackingSettings
from core.db import make_engine
from core.engagement import CLICKED, OPENED, Hit, store_hits
from core.tracking import CLICK, OPEN, read_token
from links.metrics import HITS, WAITING

log = logging.getLogger(__name__)

FLUSH_SECONDS = 0.2
WRITER_NICENESS = 10
# Hits waiting while the database is away; past this the oldest are dropped, and logged.
MAX_WAITING = 100_000
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_STORE = {"Cache-Control": "no-store, private", "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff", "X-Robots-Tag": "noindex, nofollow"}


def client_address(request: web.Request) -> str:
    """The client's address: the proxy's X-Forwarded-For when the peer is the proxy on this box."""
    peer = request.remote or ""
    forwarded = request.headers.get("X-Forwarded-For", "")
    try:
        behind_proxy = bool(forwarded) and ipaddress.ip_address(peer).is_loopback
    except ValueError:
        behind_proxy = False
    return forwarded.rsplit(",", 1)[-1].strip() if behind_proxy else peer


_engine: Engine | None = None


def _open_engine(database_url: str) -> None:
    global _engine
    # Writing can wait a moment; a redirect cannot: the kernel serves the redirects first.
    os.nice(WRITER_NICENESS)
    _engine = make_engine(database_url)


def _ready() -> None:
    pass


def _store(settings: TrackingSettings, hits: list[Hit]) -> int:
    assert _engine is not None
    return store_hits(_engine, settings, hits)


class HitWriter:
    """Hits, written in batches by a task of its own through the writing process."""

    def __init__(self, database_url: str, settings: TrackingSettings) -> None:
        self._database_url = database_url
        self._settings = settings
        self._pool: ProcessPoolExecutor | None = None
        self._waiting: list[Hit] = []
        # When each recent hit was seen, oldest first, keyed by a hash: ints, which the garbage
        # collector never scans, so a busy minute's hits cost it nothing.
        self._recent: OrderedDict[int, float] = OrderedDict()

    def _repeated(self, key: int, now: float) -> bool:
        window = self._settings.repeat_seconds
        while self._recent and now - next(iter(self._recent.values())) >= window:
            self._recent.popitem(last=False)
        if key in self._recent:
            return True
        if window:
            self._recent[key] = now
        return False

    def add(self, hit: Hit, token: str) -> None:
        if self._repeated(hash((hit.kind, token, hit.address, hit.user_agent)), time.monotonic()):
            HITS.labels(hit.kind, "repeat").inc()
            return
        HITS.labels(hit.kind, "recorded").inc()
        if len(self._waiting) >= MAX_WAITING:
            log.error("%d opens and clicks wait for the database; the oldest is dropped", MAX_WAITING)
            del self._waiting[0]
        self._waiting.append(hit)

    async def flush(self) -> None:
        batch, self._waiting = self._waiting, []
        if not batch:
            return
        WAITING.set(len(batch))
        try:
            await asyncio.get_running_loop().run_in_executor(self.pool(), _store, self._settings, batch)
        except BrokenProcessPool:
            log.error("the process writing opens and clicks died; starting another")
            self._pool = None
            self._waiting[:0] = batch
        except Exception:
            log.exception("could not record %d opens and clicks; trying again", len(batch))
            self._waiting[:0] = batch
        WAITING.set(len(self._waiting))

    def pool(self) -> ProcessPoolExecutor:
        """The writing process, started now if it is not running."""
        if self._pool is None:
            self._pool = ProcessPoolExecutor(1, multiprocessing.get_context("spawn"), _open_engine,
                                             (self._database_url,))
            self._pool.submit(_ready)  # start it before the first hit waits for it
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()

    async def run(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            await self.flush()


def add_routes(app: web.Application, database_url: str, key: bytes, settings: TrackingSettings) -> None:
    writer = HitWriter(database_url, settings)

    def hit(request: web.Request, kind: str) -> str | None:
        """The destination of a token (or "" for an open); None: not a token of this host."""
        token = request.match_info["token"]
        tracked = read_token(key, CLICK if kind == CLICKED else OPEN, request.url.host or "", token,
                             settings.token_days)
        if tracked is None:
            HITS.labels(kind, "unknown").inc()
            return None
        if request.method == "GET":
            writer.add(Hit(kind, tracked, datetime.now(UTC).replace(tzinfo=None), client_address(request),
                           request.headers.get("User-Agent", "")), token)
        return tracked.url

    async def click(request: web.Request) -> web.Response:
        url = hit(request, CLICKED)
        if url is None:
            return web.Response(status=404, text="This link is not known.", headers=NO_STORE)
        return web.Response(status=302, headers={**NO_STORE, "Location": url})

    async def pixel(request: web.Request) -> web.Response:
        if hit(request, OPENED) is None:
            return web.Response(status=404, headers=NO_STORE)
        return web.Response(body=PIXEL, content_type="image/gif", headers=NO_STORE)

    async def keep_writing(_: web.Application) -> AsyncIterator[None]:
        writer.pool()
        task = asyncio.create_task(writer.run())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await writer.flush()
        writer.close()

    app.router.add_get(f"/{CLICK}/{{token}}", click)
    app.router.add_get(f"/{OPEN}/{{token}}", pixel)
    app.cleanup_ctx.append(keep_writing)
