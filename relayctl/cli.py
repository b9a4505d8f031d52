"""relayctl: set up a box, run its services, and manage tenants, credentials and domains."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

from sqlalchemy.orm import Session

from core import (
    archive,
    box_records,
    panel_users,
    reputation,
    send_keys,
    shaping,
    suppressions,
    tenants,
    webhooks,
)
from core.backup import backup, restore
from core.config import Settings, config_path, load_settings
from core.db import directory_version, make_engine, migrate, schema_revision
from core.dns_records import format_records, records_for_domain
from core.domain_verify import RecordCheck
from core.errors import MailrelayError
from core.events import recent_events, record_events
from core.limits import LIMITS
from core.postfix.instance import PostfixInstance
from core.postfix.reload import release_waiting_mail, render_postfix
from core.secretbox import SecretBox, create_key_file
from core.snapshot_cache import SERVICES, served_version
from core.tls_cert import create_self_signed
from relayctl.database import session_command, with_session
from relayctl.pools_cli import add_pool_commands
from relayctl.queue_cli import add_queue_commands
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
    render_postfix(settings)
    print(f"Postfix instance configured in {settings.postfix_instance_dir}")
    return 0


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    url = settings.effective_database_url
    before = schema_revision(url)
    migrate(url)
    after = schema_revision(url)
    if before == after:
        print(f"database schema is current ({after})")
    else:
        print(f"database schema upgraded from {before or 'nothing'} to {after}")
    return 0


def cmd_postfix(settings: Settings, args: argparse.Namespace) -> int:
    """For a service manager: the instance's Postfix, configured afresh before a start or a reload."""
    if args.action == "stop":
        PostfixInstance(settings).stop()
        return 0
    instance = render_postfix(settings)
    if args.action == "start" and instance.is_running():
        print("Postfix instance is running already", file=sys.stderr)
        return 1
    instance.start_or_reload()
    return 0


@session_command
def cmd_tenant_add(settings: Settings, session: Session, args: argparse.Namespace) -> int:
    tenant = tenants.add_tenant(session, args.name)
    print(f"tenant {tenant.name} added")
    return 0


@session_command
def cmd_tenant_resume(settings: Settings, session: Session, args: argparse.Namespace) -> int:
    reputation.resume(session, tenants.get_tenant(session, args.name))
    print(f"tenant {args.name} may send again")
    return 0


@session_command
def cmd_tenant_list(settings: Settings, session: Session, args: argparse.Namespace) -> int:
    print(f"{'TENANT':<24} {'STATUS':<8} {'CREDENTIALS':>11}  DOMAINS")
    for tenant in tenants.list_tenants(session):
        active = sum(1 for c in tenant.credentials if c.revoked_at is None)
        domains = ", ".join(
            f"{d.name}{'' if d.verified_at else ' (unverified)'}" for d in tenant.domains
        )
        print(f"{tenant.name:<24} {tenant.status:<8} {active:>11}  {domains or '-'}")
    return 0


@session_command
def cmd_credential_add(settings: Settings, session: Session, args: argparse.Namespace) -> int:
    credential = tenants.add_credential(session, args.tenant)
    print(f"username: {credential.username}")
    print(f"password: {credential.secret}")
    print("The password is shown only now; it is stored hashed.", file=sys.stderr)
    return 0


@session_command
def cmd_send_key_add(settings: Settings, session: Session, args: argparse.Namespace) -> int:
    key, secret = send_keys.new_send_key(session, args.tenant, args.name, args.expires_in_days)
    until = f", until {key.expires_at:%Y-%m-%d %H:%M} UTC" if key.expires_at else ""
    print(f"send key {key.id} ({key.name}) for {args.tenant}{until}: {secret}")
    print("The key is shown only now; it is stored hashed. It can only send, as the tenant.", file=sys.stderr)
    return 0


@session_command
def cmd_send_key_list(settings: Settings, session: Session, args: argparse.Namespace) -> int:
    for key in send_keys.send_keys(session, args.tenant):
        state = send_keys.state(key)
        when = key.revoked_at or key.expires_at
        if when is not None:
            state += f" {'until' if state == 'active' else 'since'} {when:%Y-%m-%d %H:%M}"
        print(f"{key.id:>6}  {key.name:<32} made {key.created_at:%Y-%m-%d %H:%M}  {state}")
    return 0


@session_command
def cmd_send_key_revoke(settings: Settings, session: Session, args: argparse.Namespace) -> int:
    send_keys.revoke_send_key(session, args.tenant, args.id)
    print(f"send key {args.id} of {args.tenant} revoked: it sends nothing from now on")
    return 0


@session_command
def cmd_credential_revoke(settings: Settings, session: Session, args: argparse.Namespace) -> int:
    tenants.revoke_credential(session, args.username)
    print(f"credential {args.username} revoked")
    return 0


_UNCHANGED = object()


@session_command
def cmd_domain_add(settings: Settings, session: Session, args: argparse.Namespace) -> int:
    secret_box = SecretBox.from_file(settings.effective_encryption_key_file)
    domain = tenants.add_domain(session, secret_box, args.tenant, args.domain, args.algorithm)
    print(f"domain {domain.name} added for tenant {args.tenant}. Publish these records,"
          f" then run: relayctl domain verify {domain.name}\n")
    print(format_records(records_for_domain(settings, domain.name, domain.dkim_keys, domain.tracks)))
    return 0


@session_command
def cmd_domain_records(settings: Settings, session: Session, args: argparse.Namespace) -> int:
    domain = tenants.get_domain(session, args.domain)
    print(format_records(records_for_domain(settings, domain.name, domain.dkim_keys, domain.tracks)))
    return 0


@session_command
def cmd_domain_verify(settings: Settings, session: Session, args: argparse.Namespace) -> int:
    domain = tenants.get_domain(session, args.domain)
    if args.operator_override:
        tenants.mark_verified_by_operator(session, domain)
        print(f"{domain.name}: marked verified by the operator, without a DNS check")
        return 0
    print_checks(tenants.verify_domain(session, settings, domain))
    verified = domain.verified_at is not None
    print(f"{domain.name}: {'verified' if verified else 'not verified'}")
    return 0 if verified else 1


def print_checks(checks: list[RecordCheck]) -> None:
    for check in checks:
        need = "required" if check.record.required else "recommended"
        state = "ok" if check.ok else "MISSING"
        print(f"{state:<8} {check.record.purpose:<12} {check.record.name} {check.record.type} ({need})")
        if not check.ok:
            print(f"         want: {check.record.value}\n         found: {check.found}")


@session_command
def cmd_dns(settings: Settings, session: Session, args: argparse.Namespace) -> int:
    checks = box_records.check_box(session, settings)
    print(f"The records to publish for {settings.hostname}:\n")
    print(format_records([check.record for check in checks]))
    print("\nFound in DNS now:")
    print_checks(checks)
    missing = sum(not check.ok for check in checks)
    print(f"{settings.hostname}: {'all records match' if not missing else f'{missing} records do not match'}")
    return 1 if missing else 0


@session_command
def cmd_domain_add_key(settings: Settings, session: Session, args: argparse.Namespace) -> int:
    secret_box = SecretBox.from_file(settings.effective_encryption_key_file)
    key = tenants.add_dkim_key(session, secret_box, args.domain, args.algorithm)
    domain = tenants.get_domain(session, args.domain)
    print(f"new {key.algorithm} key {key.selector} for {domain.name}: it signs once its record is "
          f"published and `relayctl domain verify {domain.name}` has seen it; the key it replaces "
          "then retires (remove it with `relayctl domain remove-key` once its mail is delivered)\n")
    print(format_records(records_for_domain(settings, domain.name, [key])[:1]))
    return 0


@session_command
def cmd_domain_one_click(settings: Settings, session: Session, args: argparse.Namespace) -> int:
    domain = tenants.set_one_click_unsubscribe(session, args.domain, args.state == "on")
    print(f"{domain.name}: one-click unsubscribe {args.state} for all its mail"
          + ("" if args.state == "on" else " (messages that name a list still get it)"))
    return 0


@session_command
def cmd_domain_tracking(settings: Settings, session: Session, args: argparse.Namespace) -> int:
    def state(value: str | None) -> bool | None:
        return None if value is None else value == "on"

    domain = tenants.set_tracking(session, args.domain, state(args.opens), state(args.clicks))
    print(f"{domain.name}: opens {'on' if domain.track_opens else 'off'}, "
          f"clicks {'on' if domain.track_clicks else 'off'}")
    if domain.tracks and not domain.tracking_host_ok:
        record = records_for_domain(settings, domain.name, [], tracking=True)[-1]
        print(f"links point at {settings.link_base_url}; for links on the domain's own name, publish\n"
              f"{format_records([record])}\nand run: relayctl domain verify {domain.name}")
    return 0


@session_command
def cmd_tenant_archive(settings: Settings, session: Session, args: argparse.Namespace) -> int:
    tenant = archive.set_archive(session, settings.archive, tenants.get_tenant(session, args.name), args.days,
                                 args.max_mib)
    cap = tenant.archive_max_mib or settings.archive.default_max_mib
    print(f"{tenant.name}: sent messages kept {tenant.archive_days} days, up to {cap} MiB"
          if tenant.archive_days else f"{tenant.name}: sent messages are not kept")
    return 0


@session_command
def cmd_tenant_once(settings: Settings, session: Session, args: argparse.Namespace) -> int:
    tenant = tenants.set_once_per_message_id(session, args.name, args.state == "on")
    hours = settings.idempotency.window_hours
    if args.state == "on":
        print(f"{tenant.name}: a Message-ID sent within {hours} h gets 'already queued', not sent again")
    else:
        print(f"{tenant.name}: every message is sent, whatever its Message-ID")
    return 0


@session_command
def cmd_domain_remove_key(settings: Settings, session: Session, args: argparse.Namespace) -> int:
    tenants.remove_dkim_key(session, args.domain, args.selector)
    print(f"key {args.selector} of {args.domain} removed; its DNS record may go too")
    return 0


def _limit(text: str) -> int | None:
    if text == "default":
        return None
    try:
        return int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError("a number, 0 for no limit, or 'default'") from exc


@session_command
def cmd_tenant_limits(settings: Settings, session: Session, args: argparse.Namespace) -> int:
    given = {limit.name: getattr(args, limit.name) for limit in LIMITS
             if getattr(args, limit.name) is not _UNCHANGED}
    tenant = tenants.set_limits(session, args.name, given)
    for limit in LIMITS:
        own = tenant.limits.get(limit.name)
        value = settings.limits[limit.name] if own is None else own
        print(f"{limit.name:<24} {value or 'no limit'}{' (default)' if own is None else ''}")
    return 0


@session_command
def cmd_suppression_add(settings: Settings, session: Session, args: argparse.Namespace) -> int:
    entry = suppressions.suppress(session, args.tenant, args.address, "manual", args.note, args.list)
    scope = f" (list {entry.list_name})" if entry.list_name else ""
    print(f"{entry.address} suppressed {'for ' + args.tenant if args.tenant else 'for every tenant'}{scope}")
    return 0


@session_command
def cmd_suppression_remove(settings: Settings, session: Session, args: argparse.Namespace) -> int:
    suppressions.unsuppress(session, args.tenant, args.address, args.list)
    print(f"{args.address} may be sent to again")
    return 0


@session_command
def cmd_suppression_list(settings: Settings, session: Session, args: argparse.Namespace) -> int:
    for entry in suppressions.list_suppressions(session, args.tenant, args.limit):
        print(f"{entry.created_at:%Y-%m-%d %H:%M}  {entry.address:<40} {entry.list_name or '(all mail)':<16} "
              f"{entry.reason:<12} {entry.detail}")
    return 0


@session_command
def cmd_webhook_add(settings: Settings, session: Session, args: argparse.Namespace) -> int:
    secret_box = SecretBox.from_file(settings.effective_encryption_key_file)
    hook, secret = webhooks.add_webhook(session, secret_box, settings.webhooks, args.tenant, args.url)
    print(f"webhook {hook.id} for {args.tenant}: {hook.url}")
    print(f"signing secret: {secret}")
    print("The secret is shown only now; requests carry X-Mailrelay-Signature: sha256=HMAC(secret, "
          "timestamp + '.' + body) and X-Mailrelay-Timestamp.", file=sys.stderr)
    return 0


@session_command
def cmd_webhook_list(settings: Settings, session: Session, args: argparse.Namespace) -> int:
    for hook in webhooks.list_webhooks(session, args.tenant):
        print(f"{hook.id:>5}  {hook.url}")
    return 0


@session_command
def cmd_webhook_remove(settings: Settings, session: Session, args: argparse.Namespace) -> int:
    webhooks.remove_webhook(session, args.id)
    print(f"webhook {args.id} removed")
    return 0


@session_command
def cmd_events(settings: Settings, session: Session, args: argparse.Namespace) -> int:
    for event in reversed(recent_events(session, args.kind, args.limit)):
        print(f"{event.at:%Y-%m-%d %H:%M:%S}  {event.kind:<12} {event.subject:<40} {event.detail}")
    return 0


@session_command
def cmd_pathway_list(settings: Settings, session: Session, args: argparse.Namespace) -> int:
    for state in shaping.pathways(session):
        print(f"{state.transport:<40} {state.state:<9} until {state.until:%Y-%m-%d %H:%M:%S} UTC  "
              f"concurrency={state.concurrency} rate_delay={state.rate_delay_seconds}s rule={state.rule} "
              f"hits={state.hits}\n    {state.reason}")
    return 0


def cmd_pathway_clear(settings: Settings, args: argparse.Namespace) -> int:
    def clear(session: Session) -> int:
        record_events(session, [shaping.clear(session, args.transport)])
        return 0
    with_session(settings, clear)
    release_waiting_mail(settings)
    print(f"{args.transport} sends as configured again; the mail that waited is on its way")
    return 0


def cmd_directory(settings: Settings, args: argparse.Namespace) -> int:
    """Whether the last change (tenants, credentials, domains, pools, ...) reached every service."""
    engine = make_engine(settings.effective_database_url)
    try:
        version = directory_version(engine)
    finally:
        engine.dispose()
    print(f"database   {version}")
    current = True
    for service in SERVICES:
        served = served_version(settings.directory_loaded_file(service))
        current = current and served == version
        print(f"{service:<10} {'never loaded' if served is None else served}")
    return 0 if current else 1


PANEL_PASSWORD_ENV = "RELAY_PANEL_PASSWORD"


@session_command
def cmd_user_add(settings: Settings, session: Session, args: argparse.Namespace) -> int:
    password = os.environ.get(PANEL_PASSWORD_ENV) or getpass.getpass(f"panel password for {args.username}: ")
    user = panel_users.add_user(session, args.username, password, args.role, args.tenant)
    scope = f"tenant {args.tenant}" if args.tenant else "every tenant"
    print(f"panel user {user.username} added ({user.role}, sees {scope}); log in at "
          f"http://{settings.panel.listen_address}:{settings.panel.port}/login")
    return 0


@session_command
def cmd_user_token(settings: Settings, session: Session, args: argparse.Namespace) -> int:
    user = panel_users.user_by_name(session, args.username)
    _row, token = panel_users.new_api_token(session, user, args.name)
    print(f"API token for {user.username} (shown once): {token}")
    return 0


@session_command
def cmd_user_list(settings: Settings, session: Session, args: argparse.Namespace) -> int:
    for user in panel_users.list_users(session):
        print(f"{user.username:<32} {user.role:<7} {user.tenant.name if user.tenant else '-'}")
    return 0


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    return run_services(settings, args.config)


def cmd_backup(settings: Settings, args: argparse.Namespace) -> int:
    manifest = backup(settings, config_path(args.config), args.file)
    print(f"backup of {manifest.hostname} at schema {manifest.revision} written to {args.file} (mode 0600: "
          f"it holds the encryption key); {sum(manifest.rows.values())} rows in {len(manifest.rows)} tables")
    return 0


def cmd_restore(settings: Settings, args: argparse.Namespace) -> int:
    config = config_path(args.config)
    manifest = restore(settings, config, args.file, force=args.force)
    print(f"restored the backup of {manifest.hostname} taken {manifest.taken_at}: "
          f"{sum(manifest.rows.values())} rows, the keys; its settings are in {config}.restored to compare")
    return 0


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
    commands.add_parser("migrate", help="bring the database to the newest schema"
                        ).set_defaults(func=cmd_migrate)
    postfix = commands.add_parser("postfix", help="the box's Postfix instance (for systemd units)")
    postfix.add_argument("action", choices=("start", "stop", "reload"))
    postfix.set_defaults(func=cmd_postfix)

    tenant = commands.add_parser("tenant").add_subparsers(dest="action", required=True)
    add = tenant.add_parser("add")
    add.add_argument("name")
    add.set_defaults(func=cmd_tenant_add)
    tenant.add_parser("list").set_defaults(func=cmd_tenant_list)
    resume = tenant.add_parser("resume", help="let a tenant paused by the reputation guard send again")
    resume.add_argument("name")
    resume.set_defaults(func=cmd_tenant_resume)
    limits = tenant.add_parser("limits", help="show or set a tenant's sending limits "
                               "(a number, 0 for no limit, or 'default' for the box's)")
    limits.add_argument("name")
    for limit in LIMITS:
        limits.add_argument("--" + limit.name.replace("_", "-"), dest=limit.name, type=_limit,
                            default=_UNCHANGED, help=limit.label.lower())
    limits.set_defaults(func=cmd_tenant_limits)
    once = tenant.add_parser("once-per-message-id",
                             help="send each Message-ID once within idempotency.window_hours, or off")
    once.add_argument("name")
    once.add_argument("state", choices=("on", "off"))
    once.set_defaults(func=cmd_tenant_once)
    kept = tenant.add_parser("archive", help="keep a tenant's sent messages N days (0: none) in the archive")
    kept.add_argument("name")
    kept.add_argument("--days", type=int, required=True)
    kept.add_argument("--max-mib", type=int, help="the archive's size cap (0: archive.default_max_mib)")
    kept.set_defaults(func=cmd_tenant_archive)

    credential = commands.add_parser("credential").add_subparsers(dest="action", required=True)
    add = credential.add_parser("add", help="make SMTP credentials; prints the password once")
    add.add_argument("tenant")
    add.set_defaults(func=cmd_credential_add)
    revoke = credential.add_parser("revoke")
    revoke.add_argument("username")
    revoke.set_defaults(func=cmd_credential_revoke)

    send_key = commands.add_parser("send-key", help="keys for the HTTP send API (they can only send)"
                                   ).add_subparsers(dest="action", required=True)
    add = send_key.add_parser("add", help="make a send key; prints it once")
    add.add_argument("tenant")
    add.add_argument("--name", default="", help="what the key is for, e.g. the app's name")
    add.add_argument("--expires-in-days", type=int, default=None,
                     help=f"the key sends for this many days (1-{send_keys.MAX_EXPIRES_IN_DAYS}); "
                          "default: until revoked")
    add.set_defaults(func=cmd_send_key_add)
    listed = send_key.add_parser("list")
    listed.add_argument("tenant")
    listed.set_defaults(func=cmd_send_key_list)
    revoke = send_key.add_parser("revoke")
    revoke.add_argument("tenant")
    revoke.add_argument("id", type=int)
    revoke.set_defaults(func=cmd_send_key_revoke)

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
    add_key = domain.add_parser("add-key", help="a new DKIM key (rotation, or a second algorithm)")
    add_key.add_argument("domain")
    add_key.add_argument("--algorithm", choices=("rsa", "ed25519"), default="rsa")
    add_key.set_defaults(func=cmd_domain_add_key)
    remove_key = domain.add_parser("remove-key", help="remove a retired or pending DKIM key")
    remove_key.add_argument("domain")
    remove_key.add_argument("selector")
    remove_key.set_defaults(func=cmd_domain_remove_key)
    one_click = domain.add_parser("one-click-unsubscribe",
                                  help="one-click unsubscribe on all of a domain's mail, or off")
    one_click.add_argument("domain")
    one_click.add_argument("state", choices=("on", "off"))
    one_click.set_defaults(func=cmd_domain_one_click)
    tracking = domain.add_parser("tracking", help="open and click tracking of a domain's HTML mail")
    tracking.add_argument("domain")
    tracking.add_argument("--opens", choices=("on", "off"))
    tracking.add_argument("--clicks", choices=("on", "off"))
    tracking.set_defaults(func=cmd_domain_tracking)

    add_pool_commands(commands)
    add_queue_commands(commands)
    dns = commands.add_parser("dns", help="the DNS records to publish for the box, checked live")
    dns.set_defaults(func=cmd_dns)

    suppression = commands.add_parser("suppression", help="addresses mail is not sent to").add_subparsers(
        dest="action", required=True)
    for name, func in (("add", cmd_suppression_add), ("remove", cmd_suppression_remove)):
        sub = suppression.add_parser(name)
        sub.add_argument("address")
        sub.add_argument("--tenant", default=None, help="one tenant's list (default: every tenant's)")
        sub.add_argument("--list", default="", help="for the mail of one of the tenant's lists only")
        if name == "add":
            sub.add_argument("--note", default="", help="why, for whoever reads the list")
        sub.set_defaults(func=func)
    listing = suppression.add_parser("list")
    listing.add_argument("--tenant", default=None)
    listing.add_argument("--limit", type=int, default=100)
    listing.set_defaults(func=cmd_suppression_list)
    webhook = commands.add_parser("webhook", help="where a tenant's events are sent").add_subparsers(
        dest="action", required=True)
    add = webhook.add_parser("add", help="prints the signing secret once")
    add.add_argument("tenant")
    add.add_argument("url")
    add.set_defaults(func=cmd_webhook_add)
    listing = webhook.add_parser("list")
    listing.add_argument("tenant")
    listing.set_defaults(func=cmd_webhook_list)
    remove = webhook.add_parser("remove")
    remove.add_argument("id", type=int)
    remove.set_defaults(func=cmd_webhook_remove)
    pathway = commands.add_parser("pathway", help="outbound addresses per provider that receivers' "
                                  "replies suspended or slowed").add_subparsers(dest="action", required=True)
    pathway.add_parser("list").set_defaults(func=cmd_pathway_list)
    clear = pathway.add_parser("clear", help="let a pathway send as configured again")
    clear.add_argument("transport")
    clear.set_defaults(func=cmd_pathway_clear)
    directory = commands.add_parser("directory", help="the directory version each service serves; "
                                    "exit 1 while one lags behind the database")
    directory.set_defaults(func=cmd_directory)
    events = commands.add_parser("events", help="what happened lately (paused addresses, ...)")
    events.add_argument("--kind", default=None)
    events.add_argument("--limit", type=int, default=50)
    events.set_defaults(func=cmd_events)

    user = commands.add_parser("user", help="who may log in to the panel").add_subparsers(
        dest="action", required=True)
    add = user.add_parser("add", help=f"the password is read from ${PANEL_PASSWORD_ENV} or asked for")
    add.add_argument("username")
    add.add_argument("--role", choices=panel_users.ROLES, default="admin")
    add.add_argument("--tenant", default=None, help="the tenant a tenant user sees")
    add.set_defaults(func=cmd_user_add)
    user.add_parser("list").set_defaults(func=cmd_user_list)
    token = user.add_parser("token", help="a new API token for a panel user (for scripts)")
    token.add_argument("username")
    token.add_argument("--name", default="relayctl", help="what the token is for")
    token.set_defaults(func=cmd_user_token)

    saved = commands.add_parser("backup", help="the database, keys and settings of this box in one file")
    saved.add_argument("file", type=Path)
    saved.set_defaults(func=cmd_backup)
    restored = commands.add_parser("restore", help="load a backup into this box (services stopped)")
    restored.add_argument("file", type=Path)
    restored.add_argument("--force", action="store_true", help="replace a database that has tenants")
    restored.set_defaults(func=cmd_restore)

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
    except MailrelayError as exc:
        print(f"relayctl: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
