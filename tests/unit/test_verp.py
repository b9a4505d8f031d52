from __future__ import annotations

from core.verp import new_message_ref, parse_verp, verp_address

KEY = b"k" * 32


def test_a_verp_address_reads_back_authentic_even_lower_or_upper_cased() -> None:
    ref = new_message_ref()
    address = verp_address(KEY, "bounces.relay.test", ref)
    assert len(address.partition("@")[0]) <= 64
    for form in (address, address.upper(), f"<{address}>"):
        tag = parse_verp(KEY, form)
        assert tag is not None and (tag.message_ref, tag.authentic) == (ref, True)


def test_the_return_path_names_no_tenant() -> None:
    """b.<ref>.<mac>: a random ref and its mac, nothing a recipient could count tenants by."""
    local = verp_address(KEY, "bounces.relay.test", new_message_ref()).partition("@")[0]
    assert not any(c.isdigit() and c not in "234567" for c in local.replace("b.", "", 1))
    assert [len(part) for part in local.split(".")] == [1, 13, 16]


def test_forged_tags_are_recognised() -> None:
    address = verp_address(KEY, "bounces.relay.test", new_message_ref())
    local, _, domain = address.partition("@")
    other_ref = f"b.{new_message_ref()}.{local.rpartition('.')[2]}@{domain}"
    tag = parse_verp(KEY, other_ref)
    assert tag is not None and not tag.authentic
    assert not parse_verp(b"other key" * 4, address).authentic  # type: ignore[union-attr]


def test_addresses_that_are_not_ours_are_no_tags() -> None:
    for address in ("someone@example.org", "b.x.y@bounces.relay.test", "postmaster@bounces.relay.test"):
        assert parse_verp(KEY, address) is None


def test_a_tag_at_a_tenants_return_path_domain_reads_back_the_same() -> None:
    ref = new_message_ref()
    tag = parse_verp(KEY, verp_address(KEY, "rp.example.com", ref))
    assert tag is not None and (tag.message_ref, tag.authentic) == (ref, True)
