"""The report parser on the real corpus (../shared/corpora/bounces) and on hostile input.

Every sample is checked against its expected recipients, kinds and status codes. The
samples the parser does not yet read as labelled are listed, with what differs, in
bounce_known_misses.txt and expected to fail (strictly: one that starts passing must
leave the list). Sisimai's own codes 5.0.9xx are its reasons written as numbers, not
anything a server said, so they are not compared.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import pytest

from core.bounces import verdicts
from core.bounces.parser import parse_report
from core.bounces.verdicts import server_verdict

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpora" / "bounces"
BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "bounce_parse.py"
RECIPIENT_TARGET = 0.98
KIND_TARGET = 0.95
UNSEEN_KIND_TARGET = 0.93
SISIMAI_PSEUDO_STATUS = re.compile(r"^\d\.0\.9\d\d$")
KNOWN_MISSES = {line.split()[0]: line.split(None, 1)[1]
                for line in (Path(__file__).parent / "bounce_known_misses.txt").read_text().splitlines()
                if line.strip() and not line.startswith("#")}

HELD = {
    "arf-01.eml": [("redacted@example.net", "complaint", "feedback", None)],
    "lhost-exim-05.eml": [("kijitora@neko.example.co.jp", "hard", "userunknown", "5.1.1")],
    "lhost-gmail-01.eml": [("userunknown@example.jp", "hard", "userunknown", "5.1.1")],
    "lhost-office365-01.eml": [("kijitora@example.com", "hard", "userunknown", "5.1.10")],
    "lhost-postfix-02.eml": [("filtered@example.co.jp", "hard", "userunknown", "5.2.1"),
                             ("userunknown@example.co.jp", "hard", "userunknown", "5.1.1")],
    "lhost-qmail-03.eml": [("kijitora@example.org", "soft", "rejected", "5.7.1")],
    "lhost-sendmail-01.eml": [("userunknown@bouncehammer.jp", "hard", "userunknown", "5.1.1")],
    "rfc3464-03.eml": [("kijitora@example.com", "soft", "policyviolation", "5.0.0")],
    "rfc3834-02.eml": [("nekonyaan@example.org", "autoreply", "vacation", None)],
}

needs_corpus = pytest.mark.skipif(not CORPUS.exists(), reason=f"no bounce corpus at {CORPUS}")


@needs_corpus
@pytest.mark.parametrize("sample", sorted(HELD))
def test_one_sample_of_each_family_reads_exactly(sample: str) -> None:
    results = parse_report((CORPUS / "samples" / sample).read_bytes())
    assert [(r.recipient.lower(), r.kind, r.reason, r.status) for r in results] == HELD[sample]


def _corpus_cases() -> list[Any]:
    if not CORPUS.exists():
        return []
    cases = []
    for line in (CORPUS / "expected.jsonl").read_text().splitlines():
        case = json.loads(line)
        name = case["file"].rsplit("/", 1)[-1]
        marks = [pytest.mark.xfail(reason=KNOWN_MISSES[name], strict=True)] if name in KNOWN_MISSES else []
        cases.append(pytest.param(case, id=name, marks=marks))
    return cases


@needs_corpus
@pytest.mark.parametrize("case", _corpus_cases())
def test_every_sample(case: dict[str, Any]) -> None:
    found = {r.recipient.lower(): r for r in parse_report((CORPUS / case["file"]).read_bytes())}
    if not case["results"]:
        assert not any(r.kind == "hard" for r in found.values())
    for want in case["results"]:
        got = found.get(want["recipient"].lower())
        assert got is not None, f"{want['recipient']} not named"
        assert got.kind == want["kind"], (got, want)
        if want["status"] and not SISIMAI_PSEUDO_STATUS.match(want["status"]):
            assert got.status == want["status"], (got, want)


def _benchmark() -> Any:
    spec = importlib.util.spec_from_file_location("bounce_parse", BENCHMARK)
    assert spec is not None and spec.loader is not None
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    return benchmark


@needs_corpus
def test_corpus_accuracy_meets_the_targets() -> None:
    """Scored as benchmarks/bounce_parse.py scores it (the issue's definition), on the corpus
    and with each server family's own verdicts left out while it is scored."""
    benchmark = _benchmark()
    cases = [json.loads(line) for line in (CORPUS / "expected.jsonl").read_text().splitlines() if line]
    samples = {case["file"]: (CORPUS / case["file"]).read_bytes() for case in cases}
    parsed = {name: parse_report(raw) for name, raw in samples.items()}
    kind_accuracy, recipient_accuracy = benchmark.score(cases, parsed, None)
    assert kind_accuracy >= KIND_TARGET and recipient_accuracy >= RECIPIENT_TARGET
    unseen_accuracy, _ = benchmark.score(cases, benchmark.parsed_unseen(samples), None)
    assert unseen_accuracy >= UNSEEN_KIND_TARGET


def test_a_server_family_is_left_out_only_while_it_is_scored() -> None:
    benchmark = _benchmark()
    assert benchmark.family("samples/lhost-exchange2003-02.eml") == "exchange2003"
    assert benchmark.family("samples/rhost-yahooinc-03.eml") == "yahooinc"
    assert all(v.servers for v in verdicts.VERDICTS)


@needs_corpus
def test_truncated_and_mis_encoded_reports_do_not_crash() -> None:
    raw = (CORPUS / "samples" / "lhost-postfix-02.eml").read_bytes()
    for cut in range(0, len(raw), max(1, len(raw) // 40)):
        assert isinstance(parse_report(raw[:cut]), list)
    garbled = raw.replace(b"charset=", b"charset=x-no-such-charset-").replace(b"\n", b"\n\xff\xfe", 40)
    assert isinstance(parse_report(garbled), list)


def test_huge_and_empty_input() -> None:
    huge = (b"From: MAILER-DAEMON@example.org\r\nSubject: Undelivered Mail\r\n\r\n"
            b"<someone@example.net>: 550 5.1.1 user unknown\r\n" + b"x" * (20 * 1024 * 1024))
    assert [(r.recipient, r.kind) for r in parse_report(huge)] == [("someone@example.net", "hard")]
    assert parse_report(b"") == []
    assert parse_report(b"\x00\xff" * 1000) == []


def _ses_notification(body: str) -> bytes:
    return ("From: AWS Notifications <no-reply@sns.amazonaws.com>\r\nSubject: AWS Notification Message\r\n"
            "Content-Type: text/plain; charset=UTF-8\r\n\r\n" + body).encode()


def test_ses_bounce_notifications_read_whole_or_cut() -> None:
    bounce = {"notificationType": "Bounce", "bounce": {"bounceType": "Permanent", "bouncedRecipients": [
        {"emailAddress": "gone@example.org", "status": "5.1.1",
         "diagnosticCode": "smtp; 550 5.1.1 <gone@example.org>: Recipient address rejected: User unknown"}]}}
    whole = parse_report(_ses_notification(json.dumps(bounce)))
    assert [(r.recipient, r.kind, r.reason, r.status) for r in whole] == [
        ("gone@example.org", "hard", "userunknown", "5.1.1")]
    cut = parse_report(_ses_notification(json.dumps(bounce)[:-40]))  # SNS cuts long notifications
    assert [(r.recipient, r.kind) for r in cut] == [("gone@example.org", "hard")]
    transient = json.dumps(bounce).replace("Permanent", "Transient").replace("5.1.1", "4.2.2")
    assert [r.kind for r in parse_report(_ses_notification(transient))] == ["soft"]


def test_hostile_ses_notifications_do_not_crash() -> None:
    nested = '{"notificationType":"Complaint","complaint":' + "[" * 100_000
    assert parse_report(_ses_notification(nested)) == []
    assert parse_report(_ses_notification('{"notificationType":"Bounce"' + "x" * 3_000_000)) == []


def test_a_provider_phrase_counts_only_from_that_provider() -> None:
    said = "550 <neko@ezweb.ne.jp>: user unknown"
    assert server_verdict(said, ("lsean.ezweb.ne.jp",)) == "userunknown"
    assert server_verdict("550 : user unknown", ("msmx.au.com",)) == "filtered"
    assert server_verdict(said, ("mx.example.net",)) is None


@pytest.mark.timeout(30)  # each was minutes while a passage was looked for per recipient
def test_reports_on_thousands_of_recipients_are_read_in_linear_time() -> None:
    many = 5000
    said = "\r\n".join(f"<user{i}@example.org>: host mx said: 550 5.1.1 user unknown" for i in range(many))
    blocks = "\r\n\r\n".join(f"Final-Recipient: rfc822; user{i}@example.org\r\nAction: failed\r\n"
                             "Status: 5.0.0" for i in range(many))
    dsn = ("From: MAILER-DAEMON@example.net\r\n"
           "Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n"
           f"--b\r\nContent-Type: text/plain\r\n\r\n{said}\r\n"
           "--b\r\nContent-Type: message/delivery-status\r\n\r\n"
           f"Reporting-MTA: dns; example.net\r\n\r\n{blocks}\r\n--b--\r\n").encode()
    assert len(parse_report(dsn)) == many
    bare = "\r\n".join(f"<user{i}@example.org>:" for i in range(many))
    text = f"From: MAILER-DAEMON@example.net\r\nSubject: Undelivered Mail\r\n\r\n{bare}\r\nno reason\r\n"
    assert parse_report(text.encode())


def _text_bounce(diagnostic: str) -> bytes:
    return ("From: MAILER-DAEMON@mx.example.org\r\nTo: app@example.com\r\n"
            "Subject: Undeliverable mail\r\n\r\nYour message could not be delivered.\r\n\r\n"
            f"{diagnostic}\r\n").encode()


@pytest.mark.parametrize(("diagnostic", "kind"), [
    # The recipient's own server in its own words, no reply quoted: its directory said so.
    ("<gone@example.net> (Unknown user gone@example.net)", "hard"),
    # A remote reply quoted without its stage: may have come after DATA, from a filter.
    ("<gone@example.net>: 550 Unknown user gone@example.net", "soft"),
    # A resolver's temporary failure is no unknown host.
    ("<gone@example.net>: Name service error for domain example.net: Host not\r\n"
     "    found, try again", "soft"),
    ("<gone@example.net>: Host or domain name not found. Name service error for\r\n"
     "    name=example.net type=A: Host not found", "hard"),
])
def test_general_rules_for_servers_never_seen(diagnostic: str, kind: str) -> None:
    assert [(r.recipient, r.kind) for r in parse_report(_text_bounce(diagnostic))] == [
        ("gone@example.net", kind)]
