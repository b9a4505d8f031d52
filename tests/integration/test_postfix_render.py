"""Rendering the box's Postfix again reloads it only when a file of its configuration changed."""

from __future__ import annotations

from core.postfix.reload import rerender_postfix
from tests.support.box import DOMAIN, Box, message
from tests.support.waiting import eventually


def reloads(box: Box) -> int:
    return box.postfix_log().count("reload -- version")


def test_postfix_is_reloaded_only_when_its_configuration_changed(box: Box) -> None:
    before = reloads(box)
    rerender_postfix(box.settings)
    rerender_postfix(box.settings)
    assert reloads(box) == before
    main_cf = box.instance.config_dir / "main.cf"
    main_cf.write_bytes(main_cf.read_bytes() + b"# edited by hand\n")
    rerender_postfix(box.settings)
    assert b"edited by hand" not in main_cf.read_bytes()
    eventually(lambda: reloads(box) == before + 1, "a reload after the change")
    with box.client() as client:
        assert client.sendmail(f"app@{DOMAIN}", ["reader@example.org"], message("after a reload")) == {}
    box.sink.wait_for_subject("after a reload")
