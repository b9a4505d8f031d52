from __future__ import annotations

from pathlib import Path

import pytest

from core.config import load_settings, settings_from_mapping
from core.errors import ConfigError
from core.limits import default_values
from core.workers import default_processes


def test_defaults_serve_a_first_run() -> None:
    settings = settings_from_mapping({"hostname": "relay.example.test"})
    assert settings.smtp.submission_port == 587 and settings.smtp.smtps_port == 465
    assert settings.effective_database_url.startswith("sqlite:///")
    assert settings.bounce_domain == "bounces.relay.example.test"


def test_a_file_is_read_once_into_typed_values(tmp_path: Path) -> None:
    path = tmp_path / "relay.yaml"
    path.write_text("hostname: r.test\nsmtp:\n  max_recipients: 7\n  tls_cert_file: /x.crt\n"
                    "  tls_key_file: /x.key\ndns:\n  nameservers: [127.0.0.1]\n")
    settings = load_settings(path)
    assert settings.smtp.max_recipients == 7
    assert settings.smtp.tls_cert_file == Path("/x.crt")
    assert settings.dns.nameservers == ("127.0.0.1",)


@pytest.mark.parametrize("raw,named", [
    ({"smtp": {"submission_prot": 587}}, "smtp.submission_prot"),
    ({"smtp": {"submission_port": "587"}}, "smtp.submission_port"),
    ({"smtp": {"submission_port": 70000}}, "smtp.submission_port"),
    ({"smtp": {"max_recipients": True}}, "smtp.max_recipients"),
    ({"hostname": "not a host"}, "hostname"),
    ({"postfix": {"relayhost": "[x]:y:z"}}, "postfix.relayhost"),
    ({"smtp": {"tls_cert_file": "/a.crt"}}, "smtp.tls_key_file"),
    ({"smtp": {"auth_failures": {"lockout_after": 1}}}, "smtp.auth_failures.lockout_after"),
    ({"dns": {"nameservers": ["dns.example"]}}, "dns.nameservers"),
    ({"smtp": "587"}, "smtp"),
    ({"smtp": {"processes": -1}}, "smtp.processes"),
    ({"milter": {"processes": 2}}, "milter.processes"),
])
def test_a_wrong_setting_is_named(raw: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        settings_from_mapping({"hostname": "relay.test", **raw})


def test_a_missing_named_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "absent.yaml")


def test_broken_yaml_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "relay.yaml"
    path.write_text("smtp: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(path)


def test_limits_are_checked_against_their_definition_and_fill_in_defaults() -> None:
    settings = settings_from_mapping({"limits": {"per_day": 5}})
    assert settings.limits == {**default_values(), "per_day": 5}
    with pytest.raises(ConfigError, match=r"limits\.per_week: no limit named 'per_week'"):
        settings_from_mapping({"limits": {"per_week": 1}})
    with pytest.raises(ConfigError, match=r"limits\.per_day: per_day must be 0 \(no limit\) to"):
        settings_from_mapping({"limits": {"per_day": -1}})
    with pytest.raises(ConfigError, match=r"limits\.per_day: expected a whole number"):
        settings_from_mapping({"limits": {"per_day": "many"}})


def test_processes_default_to_one_per_four_cores() -> None:
    assert [default_processes(cores) for cores in (1, 2, 4, 7, 8, 16)] == [1, 1, 1, 1, 2, 4]
