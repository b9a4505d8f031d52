from __future__ import annotations

import pytest
from sqlalchemy import Engine

from core import suppressions, tenants
from core.db import session_scope
from core.errors import InvalidInputError, NotFoundError
from relay.directory import load_snapshot


def test_suppressions_per_tenant_or_global_reach_the_front_end(engine: Engine) -> None:
    with session_scope(engine) as session:
        tenants.add_tenant(session, "acme")
        first = suppressions.suppress(session, "acme", "<Gone@Example.ORG>", "hard_bounce", "5.1.1")
        again = suppressions.suppress(session, "acme", "gone@example.org", "complaint")
        assert again.id == first.id and again.reason == "hard_bounce"
        suppressions.suppress(session, None, "all@example.org", "manual")
        with pytest.raises(InvalidInputError):
            suppressions.suppress(session, "acme", "not-an-address", "manual")
        with pytest.raises(InvalidInputError):
            suppressions.suppress(session, "acme", "x@example.org", "because")
    snapshot = load_snapshot(engine)
    assert snapshot.suppressed == {("acme", "gone@example.org"): "hard_bounce",
                                   ("", "all@example.org"): "manual"}
    with session_scope(engine) as session:
        suppressions.unsuppress(session, "acme", "GONE@example.org")
        with pytest.raises(NotFoundError):
            suppressions.unsuppress(session, None, "gone@example.org")
        assert [s.address for s in suppressions.list_suppressions(session)] == ["all@example.org"]
