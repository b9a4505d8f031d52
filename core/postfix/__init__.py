"""The project's own Postfix instance and everything that speaks to it.

instance: render, check, start and reload the instance; reload: render again after the
delivery transports changed; transports: the master.cf delivery entries and the route
header the milter picks one with; queue and queue_helper: the queue, read and changed
(through a root helper for callers that are not root); log: Postfix's log lines, read.
"""
