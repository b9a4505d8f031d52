"""relayctl: set up a box, run its services, and manage tenants, credentials and domains."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.orm import Session

from core import tenants
from core.config import Settings, load_settings
from core.db import make_engine, migrate, session_scope
from core.dns_records import format_records, records_for_domain
from core.domain_verify import check_record, make_resolver
from core.errors import RelayError
from core.postfix_instance import PostfixInstance
from core.secretbox import SecretBox, create_key_file
from core.tls_cert import create_self_signed
from relayctl.send_test import send_test
from relayctl.supervisor import run_services

PASSWORD_ENV = "RELAY_SMTP_PASSWORD"


def cmd_init(settings: Settings, args: argparse.Namespace) -> int:
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    if create_key_file(settings.effective_encryption_key_file):
        print(f"made encryption key {settings.effective_encryption_key_file}")
    migrate(settings.effective_database_url)
    print(f"database ready: {settings.effective_database_url.split('://')[0]}")
    if settings.smtp.tls_cert_file is None and create_self_signed(
        settings.hostname, settings.tls_cert_file, settings.tls_key_file
    ):
        print(f"made a self-signed certificate for {settings.hostname}: {settings.tls_cert_file}")
    PostfixInstance(settings).render()
    print(f"Postfix instance configured in {settings.postfix_instance_dir}")
    return 0


def _with_session(settings: Settings, action: Callable[[Session], int]) -> int:
    engine = make_engine(settings.effective_database_url)
    try:
        with session_scope(engine) as session:
            return action(session)
    finally:
        engine.dispose()


def cmd_tenant_add(settings: Settings, args: argparse.Namespace) -> int:
    def action(session: Session) -> int:
        tenant = tenants.add_tenant(session, args.name)
        print(f"tenant {tenant.name} added")
        return 0
    return _with_session(settings, action)


def cmd_tenant_list(settings: Settings, args: argparse.Namespace) -> int:
    def action(session: Session) -> int:
        print(f"{'TENANT':<24} {'STATUS':<8} {'CREDENTIALS':>11}  DOMAINS")
        for tenant in tenants.list_tenants(session):
            active = sum(1 for c in tenant.credentials if c.revoked_at is None)
            domains = ", ".join(
                f"{d.name}{'' if d.verified_at else ' (unverified)'}" for d in tenant.domains
            )
            print(f"{tenant.name:<24} {tenant.status:<8} {active:>11}  {domains or '-'}")
        return 0
    return _with_session(settings, action)


def cmd_credential_add(settings: Settings, args: argparse.Namespace) -> int:
    def action(session: Session) -> int:
        credential = tenants.add_credential(session, args.tenant)
        print(f"username: {credential.username}")
        print(f"password: {credential.secret}")
        print("The password is shown only now; it is stored hashed.", file=sys.stderr)
        return 0
    return _with_session(settings, action)


def cmd_credential_revoke(settings: Settings, args: argparse.Namespace) -> int:
    def action(session: Session) -> int:
        tenants.revoke_credential(session, args.username)
        print(f"credential {args.username} revoked")
        return 0
    return _with_session(settings, action)


def cmd_domain_add(settings: Settings, args: argparse.Namespace) -> int:
    box = SecretBox.from_file(settings.effective_encryption_key_file)

    def action(session: Session) -> int:
        domain = tenants.add_domain(session, box, args.tenant, args.domain, args.algorithm)
        print(f"domain {domain.name} added for tenant {args.tenant}. Publish these records,"
              f" then run: relayctl domain verify {domain.name}\n")
        print(format_records(records_for_domain(settings, domain.name, domain.dkim_keys)))
        return 0
    return _with_session(settings, action)


def cmd_domain_records(settings: Settings, args: argparse.Namespace) -> int:
    def action(session: Session) -> int:
        domain = tenants.get_domain(session, args.domain)
        print(format_records(records_for_domain(settings, domain.name, domain.dkim_keys)))
        return 0
    return _with_session(settings, action)


def cmd_domain_verify(settings: Settings, args: argparse.Namespace) -> int:
    resolver = make_resolver(settings)

    def action(session: Session) -> int:
        domain = tenants.get_domain(session, args.domain)
        if args.operator_override:
            tenants.mark_verified_by_operator(session, domain)
            print(f"{domain.name}: marked verified by the operator, without a DNS check")
            return 0
        checks = [check_record(resolver, settings, record)
                  for record in records_for_domain(settings, domain.name, domain.dkim_keys)]
        tenants.record_verification(session, domain, checks)
        for check in checks:
            need = "required" if check.record.required else "recommended"
            state = "ok" if check.ok else "MISSING"
            print(f"{state:<8} {check.record.purpose:<12} {check.record.name} ({need})")
            if not check.ok:
                print(f"         want: {check.record.value}\n         found: {check.found}")
        verified = domain.verified_at is not None
        print(f"{domain.name}: {'verified' if verified else 'not verified'}")
        return 0 if verified else 1
    return _with_session(settings, action)


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    return run_services(settings, args.config)


def cmd_send_test(settings: Settings, args: argparse.Namespace) -> int:
    password = os.environ.get(PASSWORD_ENV) or getpass.getpass(f"password for {args.username}: ")
    return send_test(settings, args.username, password, args.sender, args.to,
                     implicit_tls=args.implicit_tls, wait_seconds=args.wait)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="relayctl", description=__doc__)
    parser.add_argument("--config", type=Path, default=None,
                        help="the YAML settings file (default: $RELAY_CONFIG or /etc/mailrelay/relay.yaml)")
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("init", help="database, first-run TLS certificate, Postfix instance"
                        ).set_defaults(func=cmd_init)
    commands.add_parser("run", help="run every service of this box in the foreground"
                        ).set_defaults(func=cmd_run)

    tenant = commands.add_parser("tenant").add_subparsers(dest="action", required=True)
    add = tenant.add_parser("add")
    add.add_argument("name")
    add.set_defaults(func=cmd_tenant_add)
    tenant.add_parser("list").set_defaults(func=cmd_tenant_list)

    credential = commands.add_parser("credential").add_subparsers(dest="action", required=True)
    add = credential.add_parser("add", help="make SMTP credentials; prints the password once")
    add.add_argument("tenant")
    add.set_defaults(func=cmd_credential_add)
    revoke = credential.add_parser("revoke")
    revoke.add_argument("username")
    revoke.set_defaults(func=cmd_credential_revoke)

    domain = commands.add_parser("domain").add_subparsers(dest="action", required=True)
    add = domain.add_parser("add", help="add a sending domain; prints the DNS records to publish")
    add.add_argument("tenant")
    add.add_argument("domain")
    add.add_argument("--algorithm", choices=("rsa", "ed25519"), default="rsa")
    add.set_defaults(func=cmd_domain_add)
    records = domain.add_parser("records", help="print the DNS records of a domain again")
    records.add_argument("domain")
    records.set_defaults(func=cmd_domain_records)
    verify = domain.add_parser("verify", help="check the domain's DNS records")
    verify.add_argument("domain")
    verify.add_argument("--operator-override", action="store_true",
                        help="mark verified without DNS (the operator vouches for the domain)")
    verify.set_defaults(func=cmd_domain_verify)

    test = commands.add_parser("send-test", help="send a test message through the front-end")
    test.add_argument("--username", required=True)
    test.add_argument("--from", dest="sender", required=True)
    test.add_argument("--to", required=True)
    test.add_argument("--implicit-tls", action="store_true", help="use the smtps port, not STARTTLS")
    test.add_argument("--wait", type=float, default=30.0,
                      help="seconds to wait for Postfix to deliver it (0: do not wait)")
    test.set_defaults(func=cmd_send_test)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(args.config)
        code: int = args.func(settings, args)
        return code
    except RelayError as exc:
        print(f"relayctl: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
