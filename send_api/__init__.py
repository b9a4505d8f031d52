"""The HTTP send API: apps send over HTTPS with a send key, by the path SMTP mail takes.

It is a process of its own built on aiohttp's asyncio server, not a view of the Flask
panel: a request waits on Postfix's hand-off, and an event loop holds thousands of such
waits and keep-alive connections where the panel's waitress would tie up a thread for
each; and apart from the front-end's loop, so that a flood of HTTP sends cannot slow SMTP
sessions, and either can be run as more processes on its own.

Each message is checked as the front-end checks it (relay.handler: sender domain, identity
headers, suppressions, size and recipient limits, a paused tenant) and handed to Postfix's
internal listener with XCLIENT LOGIN=<tenant> (relay.handoff), so the milter signs,
throttles and routes it. An answer comes only from Postfix's own reply: 200 with its queue
id once it queued the message; 429 with Retry-After for the milter's throttle; 503 with
Retry-After when Postfix or the milter is away; never a 2xx for mail not queued.
"""
