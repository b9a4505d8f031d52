"""What a well-formed name, domain and address look like, for the panel's forms and the API's
schemas alike (written without look-arounds, so schemathesis can generate from them)."""

from __future__ import annotations

from core.pools import POOL_NAME
from core.tenants import TENANT_NAME

TENANT = TENANT_NAME.pattern
POOL = POOL_NAME.pattern
DOMAIN = r"^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}\.?$"
DOMAIN_MAX = 253
# Any address Postfix would take: internal and .test domains included (email-validator refuses those).
ADDRESS = r"^<?[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+>?$"
ADDRESS_MAX = 320
# NUL reaches no database (PostgreSQL refuses it) and lone surrogates encode to no UTF-8.
UNSTORABLE = "\\x00\\ud800-\\udfff"
TEXT = f"^[^{UNSTORABLE}]*$"
