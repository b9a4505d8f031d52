"""Reading what comes back: delivery reports, vendor bounces, complaints and auto-replies.

Written here rather than taken from a library: the reference parser (Sisimai) is Perl
and Ruby; flufl.bounce finds recipients only, with no status, reason or kind.
Layers: structured reports (arf, dsn, autoreply), then the free text of vendor
bounces (text_bounce), and one table of reasons (reasons) for all of them.
"""
