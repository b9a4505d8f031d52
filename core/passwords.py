"""Secrets: SMTP passwords, generated, shown once, stored only as argon2id hashes; tokens (API
tokens, send keys), random enough that their SHA-256 alone is stored and looked up."""

from __future__ import annotations

import hashlib
import secrets
import string

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


# Letters and digits only: a secret starting with "-" is taken for an option when pasted
# into a command line (swaks, curl), and punctuation trips up SMTP settings forms.
_ALPHABET = string.ascii_letters + string.digits
_LENGTH = 32  # about 190 bits


def generate_secret() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(_LENGTH))


def hash_secret(secret: str) -> str:
    return _hasher.hash(secret)


def verify_secret(secret_hash: str, secret: str) -> bool:
    try:
        return _hasher.verify(secret_hash, secret)
    except (VerificationError, InvalidHashError):
        return False


def new_token(prefix: str) -> str:
    """A token of 256 random bits; the prefix says what it is for."""
    return prefix + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
