"""The send API's Prometheus metrics (served by core.metrics): requests by operation and status."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import Counter, Histogram

REQUESTS = Counter("relay_send_api_requests", "Requests, by path and HTTP status", ["path", "status"])
REQUEST_SECONDS = Histogram("relay_send_api_request_seconds", "From a request's arrival to its answer, "
                            "by path", ["path"],
                            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 30.0))
MESSAGES = Counter("relay_send_api_messages", "Messages queued by Postfix through the API")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def measured(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.monotonic()
    # The route's own path: any other path (a scanner's) would make a label of its own each.
    path = request.match_info.route.resource.canonical if request.match_info.route.resource else "other"
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        REQUESTS.labels(path, str(exc.status)).inc()
        raise
    REQUESTS.labels(path, str(response.status)).inc()
    REQUEST_SECONDS.labels(path).observe(time.monotonic() - started)
    return response
