from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from sqlalchemy import Engine, select

from core import tenants
from core.config import Settings
from core.db import directory_version, session_scope
from core.dns_records import records_for_domain
from core.domain_verify import RecordCheck
from core.errors import ConflictError, InvalidInputError, NotFoundError
from core.models import DkimKey, SmtpCredential
from core.passwords import generate_secret, verify_secret
from core.secretbox import SecretBox
from relay.directory import load_snapshot


@pytest.fixture
def box() -> SecretBox:
    return SecretBox(Fernet.generate_key())


def test_credentials_are_stored_as_argon2_hashes(engine: Engine) -> None:
    with session_scope(engine) as session:
        tenants.add_tenant(session, "acme")
        credential = tenants.add_credential(session, "acme")
    with session_scope(engine) as session:
        stored = session.scalars(select(SmtpCredential)).one()
    assert stored.secret_hash.startswith("$argon2id$")
    assert credential.secret not in stored.secret_hash
    assert verify_secret(stored.secret_hash, credential.secret)
    assert not verify_secret(stored.secret_hash, credential.secret + "x")


def test_generated_secrets_are_safe_to_paste_into_a_command_line() -> None:
    for _ in range(200):
        secret = generate_secret()
        assert len(secret) == 32 and secret.isalnum() and secret.isascii()


@pytest.mark.parametrize("algorithm", ["rsa", "ed25519"])
def test_dkim_private_keys_are_encrypted_at_rest(engine: Engine, box: SecretBox, algorithm: str) -> None:
    with session_scope(engine) as session:
        tenants.add_tenant(session, "acme")
        tenants.add_domain(session, box, "acme", "Acme.Test", algorithm)
    with session_scope(engine) as session:
        key = session.scalars(select(DkimKey)).one()
    assert "PRIVATE KEY" not in key.private_key_encrypted
    private = serialization.load_pem_private_key(box.decrypt(key.private_key_encrypted), None)
    assert private is not None


def test_names_are_checked_and_unique(engine: Engine, box: SecretBox) -> None:
    with session_scope(engine) as session:
        tenants.add_tenant(session, "acme")
        tenants.add_domain(session, box, "acme", "acme.test")
        with pytest.raises(InvalidInputError):
            tenants.add_tenant(session, "Bad Name")
        with pytest.raises(ConflictError):
            tenants.add_tenant(session, "acme")
        with pytest.raises(InvalidInputError):
            tenants.add_domain(session, box, "acme", "no_dots")
        with pytest.raises(ConflictError):
            tenants.add_domain(session, box, "acme", "ACME.test.")
        with pytest.raises(NotFoundError):
            tenants.add_credential(session, "nobody")


def test_every_change_moves_the_directory_version(engine: Engine, box: SecretBox) -> None:
    versions = [directory_version(engine)]
    with session_scope(engine) as session:
        tenants.add_tenant(session, "acme")
    versions.append(directory_version(engine))
    with session_scope(engine) as session:
        credential = tenants.add_credential(session, "acme")
        domain = tenants.add_domain(session, box, "acme", "acme.test")
        tenants.mark_verified_by_operator(session, domain)
    versions.append(directory_version(engine))
    with session_scope(engine) as session:
        tenants.revoke_credential(session, credential.username)
    versions.append(directory_version(engine))
    assert versions == sorted(set(versions))
    snapshot = load_snapshot(engine)
    assert credential.username not in snapshot.credentials
    assert snapshot.domains["acme.test"].verified


def test_a_rotated_key_signs_only_once_it_is_published(engine: Engine, box: SecretBox) -> None:
    settings = Settings(hostname="relay.test")
    with session_scope(engine) as session:
        tenants.add_tenant(session, "acme")
        domain = tenants.add_domain(session, box, "acme", "acme.test")
        old = domain.dkim_keys[0].selector
        new = tenants.add_dkim_key(session, box, "acme.test", "rsa").selector
        assert new != old
        assert {k.selector: k.state for k in domain.dkim_keys} == {old: "active", new: "pending"}

        def verify(published: set[str]) -> None:
            checks = [RecordCheck(r, r.purpose != "dkim" or r.name.split(".")[0] in published, "")
                      for r in records_for_domain(settings, domain.name, domain.dkim_keys)]
            tenants.record_verification(session, domain, checks)

        verify({old})
        assert {k.selector: k.state for k in domain.dkim_keys} == {old: "active", new: "pending"}
        verify({old, new})
        assert {k.selector: k.state for k in domain.dkim_keys} == {old: "retired", new: "active"}
        assert domain.verified_at is not None
        with pytest.raises(ConflictError):
            tenants.remove_dkim_key(session, "acme.test", new)
        tenants.remove_dkim_key(session, "acme.test", old)
        assert [k.selector for k in domain.dkim_keys] == [new]


def test_the_dmarc_record_sends_aggregate_reports_to_the_box() -> None:
    settings = Settings(hostname="relay.example.net")
    records = {r.purpose: r for r in records_for_domain(settings, "acme.test", [])}
    assert "rua=mailto:dmarc@feedback.relay.example.net;" in records["dmarc"].value
    # RFC 7489 7.1: the feedback domain's zone says it takes reports about acme.test.
    authorization = records["dmarc reports"]
    assert (authorization.name, authorization.type, authorization.value) == (
        "acme.test._report._dmarc.feedback.relay.example.net", "TXT", "v=DMARC1")
    # A domain in the feedback domain's own organization needs none.
    inside = records_for_domain(settings, "relay.example.net", [])
    assert "dmarc reports" not in {r.purpose for r in inside}
