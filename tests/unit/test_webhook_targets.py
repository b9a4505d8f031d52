from __future__ import annotations

import pytest

from core.errors import InvalidInputError
from core.webhook_targets import allowed_networks, check_target

OPERATORS_OWN = allowed_networks(("192.0.2.0/28",))


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/", "http://127.1/", "http://2130706433/", "http://0.0.0.0:8080/", "http://10.1.2.3/",
    "http://172.16.0.1/", "http://192.168.1.1/", "http://169.254.169.254/latest/meta-data/", "http://[::1]/",
    "http://[::ffff:127.0.0.1]/", "http://[fc00::1]/", "http://[fe80::1]/", "http://100.64.0.1/",
    "http://224.0.0.1/", "http://192.0.2.16/", "http://localhost:9000/",
])
def test_addresses_of_the_operators_network_are_refused(url: str) -> None:
    with pytest.raises(InvalidInputError, match="may not reach"):
        check_target(url, OPERATORS_OWN)


@pytest.mark.parametrize("url", ["ftp://192.0.2.1/", "http:///x", "http://user:pw@192.0.2.1/",
                                 "http://192.0.2.1:99999/", "javascript:alert(1)"])
def test_what_is_no_plain_http_url_is_refused(url: str) -> None:
    with pytest.raises(InvalidInputError):
        check_target(url, OPERATORS_OWN)


def test_public_addresses_and_the_operators_allowed_networks_pass() -> None:
    for url in ("https://8.8.8.8/hook", "http://[2001:4860:4860::8888]:8443/x", "http://192.0.2.5/own"):
        check_target(url, OPERATORS_OWN)
