"""Free ports for the servers a test starts, taken from below the kernel's ephemeral range.

A port the kernel hands out for `bind(0)` is an ephemeral one: between the probe and the server's own
bind (seconds later, when a launcher first migrates a database), any outgoing connection on the
machine may take it as its source port, and the server fails with "address already in use". CI saw
exactly that. Ports below the ephemeral range are never given to outgoing connections.
"""

import random
import socket
from pathlib import Path

LOWEST = 20000  # above the fixed ports of the end-to-end stacks (5000-6999 plus E2E_PORT_OFFSET)


def ephemeral_start() -> int:
    """The first port the kernel may give an outgoing connection (32768 where /proc does not say)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A port nobody listens on right now, outside the ephemeral range."""
    top = max(ephemeral_start(), LOWEST + 1000)
    for _ in range(200):
        port = random.randrange(LOWEST, top)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port between {LOWEST} and {top}")
