"""Idempotency-Key steps of concurrent requests written in one transaction (group commit).

Each request claims its key before the hand-off and completes it after: two commits per
message, and on SQLite every commit waits for the one writer (and its fsync) that the
milter's and the log tailer's writes also want. Steps that arrive while a transaction is
being written wait for it, then all go in the next one (core.idempotency.settle), so the
commits per message fall as the load rises; a step waits at most one transaction.

A step may also be left to the writer without waiting for it (`leave`): the service
answers a send once Postfix queued it and leaves its completion to the next transaction;
`flush` waits until every step so far is written (on stop).
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import Engine

from core import idempotency

log = logging.getLogger(__name__)

class GroupCommit:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._waiting: list[tuple[idempotency.Step, asyncio.Future[idempotency.Taken | None] | None]] = []
        self._writer: asyncio.Task[None] | None = None

    async def settle(self, step: idempotency.Step) -> idempotency.Taken | None:
        """The step's result once its transaction is committed (core.idempotency.settle)."""
        done: asyncio.Future[idempotency.Taken | None] = asyncio.get_running_loop().create_future()
        self._add(step, done)
        return await done

    def leave(self, step: idempotency.Step) -> None:
        """Write the step with the next transaction, without waiting for it."""
        self._add(step, None)

    async def flush(self) -> None:
        if self._writer is not None:
            await self._writer

    def _add(self, step: idempotency.Step, done: asyncio.Future[idempotency.Taken | None] | None) -> None:
        self._waiting.append((step, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())

    async def _write(self) -> None:
        while self._waiting:
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
