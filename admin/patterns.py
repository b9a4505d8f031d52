"""What a well-formed name, domain and address look like, for the panel's forms and the API's
schemas alike (written without look-arounds, so schemathesis can generate from them)."""

from __future__ import annotations

from core.pools import POOL_NAME
from core.suppressions import LIST_NAME
from core.tenants import TENANT_NAME

TENANT = TENANT_NAME.pattern
POOL = POOL_NAME.pattern
# A list a one-click unsubscribe names; "" in a suppression: all of the tenant's mail.
LIST = rf"^({LIST_NAME.pattern})?$"
DOMAIN = r"^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}\.?$"
DOMAIN_MAX = 253
# Any address Postfix would take: internal and .test domains included (email-validator refuses those).
# No \s: Python's and JSON Schema's (ECMA 262) differ on what it matches.
_ADDRESS_PART = r"[^@<>\x00-\x20\x7f]+"
ADDRESS = rf"^<?{_ADDRESS_PART}@{_ADDRESS_PART}\.{_ADDRESS_PART}>?$"
ADDRESS_MAX = 320
# PostgreSQL stores no NUL.
TEXT = "^[^\\x00]*$"
