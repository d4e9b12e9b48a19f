"""The sandboxes' background server gives up cleanly when its port is taken: an OSError for the caller, and
no socket left open behind it (a sandbox restarted on a busy port must not leak one per attempt)."""

from __future__ import annotations

import gc
import socket
import warnings

import pytest
from starlette.applications import Starlette

from humacrona_sandbox.server import BackgroundServer


def test_a_taken_port_raises_and_leaves_no_socket_open():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = BackgroundServer(Starlette(), port=taken.getsockname()[1])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ResourceWarning)
            with pytest.raises(OSError):
                server.start()
            gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
    server.stop()  # nothing started: stopping is harmless
