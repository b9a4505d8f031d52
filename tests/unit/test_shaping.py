"""Adaptive shaping: receivers' throttling replies, read from Postfix's log by the tailer, suspend or
slow the pathway they came on, only from the provider's own hosts, only that pathway; the
pathway climbs back step by step; main.cf says what Postfix must do."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, select

from core import shaping
from core.config import DeliveryProfile, Settings, validate
from core.db import session_scope
from core.models import Event, PathwayState, utcnow
from core.postfix.instance import PostfixInstance
from core.postfix.log import Delivery, read_line
from intake.log_tailer import LogTailer

YAHOO = "smtp_127_0_0_2__yahoo"
GMAIL = "smtp_127_0_0_2__gmail"
MICROSOFT = "smtp_127_0_0_2__microsoft"
PLAIN = "smtp_127_0_0_2"
TSS04 = ("host mta5.am0.yahoodns.net[192.0.2.10] said: 421 4.7.0 [TSS04] Messages from 192.0.2.2 "
         "temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see "
         "https://postmaster.yahooinc.com/error-codes (in reply to MAIL FROM command)")
GMAIL_RATE = ("host gmail-smtp-in.l.google.com[192.0.2.20] said: 421-4.7.28 Gmail has detected an "
              "unusual rate of unsolicited mail originating from your IP address. (in reply to end of DATA "
              "command)")


def deferral_line(n: int, transport: str, relay: str, text: str) -> str:
    return (f"Dec  3 15:00:0{n % 10} relay relaytest/{transport}/smtp[31{n}]: 4A{n:010X}: "
            f"to=<r{n}@x.test>, relay={relay}, delay=1, dsn=4.7.0, status=deferred ({text})")


def tail(engine: Engine, tmp_path: Path, lines: list[str], settings: Settings) -> None:
    log = tmp_path / "postfix.log"
    log.write_text("\n".join(lines) + "\n")
    LogTailer(engine, log, "box", set, settings=settings).poll()


def states(engine: Engine) -> dict[str, tuple[str, int, int]]:
    with session_scope(engine) as session:
        return {s.transport: (s.state, s.concurrency, s.rate_delay_seconds)
                for s in session.scalars(select(PathwayState))}


def test_the_log_line_names_the_transport_and_the_replying_host() -> None:
    fact = read_line(deferral_line(1, YAHOO, "mta5.am0.yahoodns.net[192.0.2.10]:25", TSS04))
    assert isinstance(fact, Delivery)
    assert (fact.transport, fact.relay_host, fact.status) == (YAHOO, "mta5.am0.yahoodns.net", "deferred")


def test_provider_replies_suspend_or_slow_their_own_pathway_only(engine: Engine, tmp_path: Path) -> None:
    settings = Settings(hostname="relay.test")
    lines = [deferral_line(1, YAHOO, "mta5.am0.yahoodns.net[192.0.2.10]:25", TSS04),
             deferral_line(2, GMAIL, "gmail-smtp-in.l.google.com[192.0.2.20]:25", GMAIL_RATE),
             # The same words from hosts that are not the provider's, or on an address's plain
             # transport (any other domain's MX): nothing.
             deferral_line(3, MICROSOFT, "mx.evil.test[192.0.2.30]:25", TSS04),
             deferral_line(4, YAHOO.replace("127_0_0_2", "127_0_0_3"),
                           "yahoodns.net.evil.test[192.0.2.31]:25", TSS04),
             deferral_line(5, PLAIN, "mx.yahoodns.net[192.0.2.32]:25", TSS04),
             deferral_line(6, GMAIL.replace("127_0_0_2", "127_0_0_4"), "mx.evil.test[192.0.2.33]:25",
                           GMAIL_RATE)]
    tail(engine, tmp_path, lines, settings)
    assert states(engine) == {YAHOO: ("suspended", 4, 0), GMAIL: ("slowed", 1, 5)}
    with session_scope(engine) as session:
        pathway_events = session.scalars(select(Event).where(Event.kind.like("pathway%")))
        kinds = {(e.kind, e.subject) for e in pathway_events}
        assert kinds == {("pathway_suspended", YAHOO), ("pathway_slowed", GMAIL)}
        assert shaping.overrides(session) == shaping.Overrides((YAHOO,), ((GMAIL, 1, 5),))


def test_a_flood_of_deferrals_makes_one_state_and_one_event(engine: Engine, tmp_path: Path) -> None:
    lines = [deferral_line(n, YAHOO, "mta5.am0.yahoodns.net[192.0.2.10]:25", TSS04) for n in range(5000)]
    tail(engine, tmp_path, lines, Settings(hostname="relay.test"))
    with session_scope(engine) as session:
        assert [s.hits for s in session.scalars(select(PathwayState))] == [1]
        assert session.scalars(select(Event.kind).where(Event.kind.like("pathway%"))).all() == [
            "pathway_suspended"]


def test_a_pathway_climbs_back_a_step_at_a_time(engine: Engine) -> None:
    settings = Settings(hostname="relay.test")
    now = utcnow()
    with session_scope(engine) as session:
        deferral = shaping.Deferral(YAHOO, "mta5.am0.yahoodns.net", TSS04)
        shaping.record_deferrals(session, settings, [deferral], now)
    seen = []
    with session_scope(engine) as session:
        for hours in range(1, 8):
            at = now + timedelta(hours=hours)
            events = shaping.step(session, settings, at)
            session.flush()
            now_state = next(((s.state, s.concurrency) for s in shaping.pathways(session)), None)
            seen.append((now_state, [e.kind for e in events]))
    # Yahoo's profile: 4 at once. Suspended, then 1, 2, 3 at once, then as configured.
    assert seen[:5] == [(("slowed", 1), ["pathway_slowed"]), (("slowed", 2), ["pathway_slowed"]),
                        (("slowed", 3), ["pathway_slowed"]), (None, ["pathway_restored"]), (None, [])]


def test_main_cf_defers_suspended_pathways_and_limits_slowed_ones(tmp_path: Path) -> None:
    settings = Settings(hostname="relay.test", state_dir=tmp_path)
    rendered = PostfixInstance(settings).render_files(
        (), shaping.Overrides(("out_default__yahoo",), (("out_default__gmail", 1, 5),)))["main.cf"].decode()
    assert "\ndefer_transports = out_default__yahoo\n" in rendered
    assert "\nout_default__gmail_destination_concurrency_limit = 1\n" in rendered
    assert "\nout_default__gmail_destination_rate_delay = 5s\n" in rendered
    assert "\nout_default__microsoft_destination_concurrency_limit = 5\n" in rendered
    plain = PostfixInstance(replace(settings)).render_files()["main.cf"].decode()
    assert "\ndefer_transports = \n" in plain


def test_settings_with_other_profiles_keep_the_default_rules_which_then_match_nothing() -> None:
    profiles = (DeliveryProfile("bigmail", ("x.test",)),)
    settings = validate(Settings(hostname="relay.test", delivery_profiles=profiles))
    deferral = shaping.Deferral("smtp_127_0_0_2__bigmail", "mta5.am0.yahoodns.net", TSS04)
    assert shaping.matching_rule(settings.shaping.rules, deferral) is None
