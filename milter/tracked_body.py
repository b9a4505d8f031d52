"""A message body with its tracked links: what the milter sends in place of the app's."""

from __future__ import annotations

import logging

from core.config import TrackingSettings
from core.tracking import CLICK, OPEN, Tracked, TrackingLinks
from milter import html_links, mime_edit

log = logging.getLogger(__name__)


def tracked_body(links: TrackingLinks, tracked: Tracked, headers: list[tuple[bytes, bytes]], body: bytes,
                 settings: TrackingSettings) -> bytes | None:
    """The body with tracked links in its HTML parts; None when it has none to track, or when it
    cannot be rewritten safely (it then goes out as it came)."""
    pixel = links.url(OPEN, tracked) if links.opens else None

    def click_url(url: str) -> str:
        return links.url(CLICK, Tracked(tracked.tenant_id, tracked.message_ref, tracked.recipient, url,
                                        tracked.made_on))

    def edit(document: str, bare_lines: bool) -> str | None:
        return html_links.rewrite(document, click_url if links.clicks else None, pixel, bare_lines,
                                  settings.max_links)

    try:
        return mime_edit.edit_html(mime_edit.top_fields(headers), body, edit, settings.max_part_octets)
    except (mime_edit.Unreadable, html_links.TooManyLinks) as exc:
        log.info("message %s goes out untracked: %s", tracked.message_ref, exc)
        return None
