"""The queue chaos run's own accounting (bench/chaos_queue.py): which twice-paid requests a
kill -9 explains, and the killed process's ports they are told by."""

from __future__ import annotations

import os
import socket

from bench.chaos_queue import LOST_S, lost_at_kill, tcp_ports


def test_tcp_ports_lists_this_process_connections() -> None:
    with (
        socket.create_server(("127.0.0.1", 0)) as server,
        socket.create_connection(server.getsockname()) as client,
    ):
        ports = tcp_ports(os.getpid())
        assert client.getsockname()[1] in ports
        assert server.getsockname()[1] in ports


def test_only_answers_sent_to_the_killed_worker_just_before_the_kill_are_lost_at_it() -> None:
    killed, ports = 100.0, {5001}
    repaid = {
        "in-hand": [[99.9, 5001], [112.0, 6000]],  # sent to the killed worker 0.1 s before
        "other-worker": [[99.9, 6001], [112.0, 6000]],  # a live worker was paid, then again
        "long-before": [[100.0 - LOST_S - 1, 5001], [112.0, 6000]],
        "three-times": [[99.5, 5001], [110.0, 6000], [111.0, 6000]],
    }
    lags, other = lost_at_kill(repaid, killed, ports)
    assert lags == [0.1, 0.5]
    assert other == 3  # other-worker, long-before, and three-times' third payment
