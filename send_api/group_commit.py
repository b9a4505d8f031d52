"""Idempotency-Key steps of concurrent requests written in one transaction (group commit).

Each request claims its key before the hand-off and completes it after: two commits per
message, and on SQLite every commit waits for the one writer (and its fsync) that the
milter's and the log tailer's writes also want. Steps that arrive while a transaction is
being written wait for it, then all go in the next one (core.idempotency.settle), so the
commits per message fall as the load rises; a step waits at most one transaction.

A step may also be left to the writer without waiting for it (`leave`): the service
answers a send once Postfix queued it and leaves its completion to the next transaction a
claim starts, or to one of its own LEAVE_SECONDS later, so that completions do not hold
the writer while claims wait; `flush` writes every step so far (on stop).
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import Engine

from core import idempotency

log = logging.getLogger(__name__)

# How long a step left to the writer waits for a claim's transaction to ride in.
LEAVE_SECONDS = 0.05


class GroupCommit:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._waiting: list[tuple[idempotency.Step, asyncio.Future[idempotency.Taken | None] | None]] = []
        self._writer: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._due = False  # a claim waits, or left steps have waited long enough

    async def settle(self, step: idempotency.Step) -> idempotency.Taken | None:
        """The step's result once its transaction is committed (core.idempotency.settle)."""
        done: asyncio.Future[idempotency.Taken | None] = asyncio.get_running_loop().create_future()
        self._waiting.append((step, done))
        self._start()
        return await done

    def leave(self, step: idempotency.Step) -> None:
        """Write the step with a later transaction, without waiting for it."""
        self._waiting.append((step, None))
        self._start_later()

    async def flush(self) -> None:
        self._start()
        if self._writer is not None:
            await self._writer

    def _start(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._due = True
        if self._waiting and (self._writer is None or self._writer.done()):
            self._writer = asyncio.create_task(self._write())

    def _start_later(self) -> None:
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(LEAVE_SECONDS, self._start)

    async def _write(self) -> None:
        while self._waiting and self._due:
            self._due = False
            batch, self._waiting = self._waiting, []
            steps = [step for step, _ in batch]
            try:
                results = await asyncio.to_thread(idempotency.settle, self._engine, steps)
            except Exception as exc:  # each waiting request fails with the transaction's error
                left = sum(done is None for _, done in batch)
                if left:
                    log.error("%d Idempotency-Key completions were not written (%s); their keys stay "
                              "pending until they expire", left, exc)
                for _, done in batch:
                    if done is not None and not done.done():
                        done.set_exception(exc)
                continue
            for (_, done), result in zip(batch, results, strict=True):
                if done is not None and not done.done():
                    done.set_result(result)
        if self._waiting:
            self._start_later()
