"""Stand-in servers for Slack and Discord: the far side of the network, run inside the test's
event loop on 127.0.0.1 so the real platform libraries can be tested unchanged."""
