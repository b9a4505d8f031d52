"""One base exception; each subclass decides on purpose whether a failure is temporary.

Only the edges (SMTP replies, CLI exit codes) turn these into protocol answers.
"""

from __future__ import annotations


class MailrelayError(Exception):
    """Base of every error the relay raises on purpose."""

    temporary: bool = False


class ConfigError(MailrelayError):
    """A setting is wrong or missing; the message names the setting."""


class NotFoundError(MailrelayError):
    """A tenant, credential or domain named by an operator does not exist."""


class ConflictError(MailrelayError):
    """The thing an operator asked to create exists already."""


class InvalidInputError(MailrelayError):
    """An operator's input is malformed (a tenant name, a domain)."""


class PostfixError(MailrelayError):
    """Postfix could not be configured, checked, started or reached."""

    temporary = True
