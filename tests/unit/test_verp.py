from __future__ import annotations

from core.verp import new_message_ref, parse_verp, verp_address

KEY = b"k" * 32


def test_a_verp_address_reads_back_authentic_even_lower_or_upper_cased() -> None:
    ref = new_message_ref()
    address = verp_address(KEY, "bounces.relay.test", 42, ref)
    assert len(address.partition("@")[0]) <= 64
    for form in (address, address.upper(), f"<{address}>"):
        tag = parse_verp(KEY, "bounces.relay.test", form)
        assert tag is not None and (tag.tenant_id, tag.message_ref, tag.authentic) == (42, ref, True)


def test_forged_tags_are_recognised() -> None:
    address = verp_address(KEY, "bounces.relay.test", 42, new_message_ref())
    local, _, domain = address.partition("@")
    other_tenant = local.replace("b.42.", "b.43.", 1) + "@" + domain
    tag = parse_verp(KEY, "bounces.relay.test", other_tenant)
    assert tag is not None and not tag.authentic
    assert not parse_verp(b"other key" * 4, "bounces.relay.test", address).authentic  # type: ignore[union-attr]


def test_addresses_that_are_not_ours_are_no_tags() -> None:
    for address in ("someone@example.org", "b.1.x.y@bounces.relay.test", "postmaster@bounces.relay.test",
                    verp_address(KEY, "elsewhere.test", 1, new_message_ref())):
        assert parse_verp(KEY, "bounces.relay.test", address) is None
