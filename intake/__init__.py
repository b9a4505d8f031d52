"""The bounce intake: Postfix hands it, over LMTP, what comes back to the bounce domain."""
