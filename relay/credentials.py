"""Checks SMTP credentials against the directory without blocking the event loop.

argon2 is slow on purpose, so verification runs in a worker thread. Successful
checks are remembered for a while under an HMAC with a per-process random key,
so a client that reconnects often does not pay argon2 each time; a revoked or
changed credential drops out with the next directory snapshot.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time

from core.passwords import verify_secret
from relay.directory import Directory

CACHE_SECONDS = 300.0


class CredentialChecker:
    def __init__(self, directory: Directory) -> None:
        self._directory = directory
        self._cache_key = secrets.token_bytes(32)
        self._verified: dict[tuple[str, str, bytes], float] = {}

    def _fingerprint(self, username: str, secret: bytes) -> bytes:
        return hmac.new(self._cache_key, username.encode() + b"\0" + secret, hashlib.sha256).digest()

    async def tenant_for(self, username_raw: bytes, secret: bytes) -> str | None:
        """The tenant these credentials belong to, or None."""
        try:
            username = username_raw.decode("utf-8")
        except UnicodeDecodeError:
            return None
        entry = self._directory.credential(username)
        if entry is None:
            return None
        key = (username, entry.secret_hash, self._fingerprint(username, secret))
        expires = self._verified.get(key)
        now = time.monotonic()
        if expires is not None and expires > now:
            return entry.tenant
        try:
            secret_text = secret.decode("utf-8")
        except UnicodeDecodeError:
            return None
        if not await asyncio.to_thread(verify_secret, entry.secret_hash, secret_text):
            return None
        if len(self._verified) > 10_000:
            self._verified = {k: v for k, v in self._verified.items() if v > now}
        self._verified[key] = now + CACHE_SECONDS
        return entry.tenant
