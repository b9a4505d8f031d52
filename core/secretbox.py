"""Encryption at rest for DKIM private keys, with a key file from the settings (Fernet)."""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from core.errors import ConfigError


def create_key_file(path: Path) -> bool:
    """Write a new key to path unless one exists; True when a key was written."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(Fernet.generate_key())
    return True


class SecretBox:
    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)
        self._key = key

    def derived_key(self, purpose: str) -> bytes:
        """A key for another purpose (e.g. VERP tags), from the same key file."""
        return hmac.new(self._key, f"mailrelay {purpose}".encode(), hashlib.sha256).digest()

    @classmethod
    def from_file(cls, path: Path) -> SecretBox:
        try:
            key = path.read_bytes().strip()
        except OSError as exc:
            raise ConfigError(f"setting encryption_key_file: cannot read {path}: {exc.strerror}") from exc
        try:
            return cls(key)
        except ValueError as exc:
            raise ConfigError(f"setting encryption_key_file: {path} holds no valid key") from exc

    def encrypt(self, plaintext: bytes) -> str:
        return self._fernet.encrypt(plaintext).decode("ascii")

    def decrypt(self, token: str) -> bytes:
        try:
            return self._fernet.decrypt(token.encode("ascii"))
        except InvalidToken as exc:
            raise ConfigError("setting encryption_key_file: the key does not decrypt stored secrets") from exc
