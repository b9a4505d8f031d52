"""The milter protocol, version 6, in three layers: frames, payloads, the command session."""
