"""relayctl: the operator's command-line tool."""
