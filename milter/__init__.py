"""The milter Postfix calls for every message (DKIM, throttles, VERP, routing): see issue 3."""
