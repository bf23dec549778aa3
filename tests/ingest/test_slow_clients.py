"""Slow and vanishing clients against a real `tracker serve`: disconnects mid-body are counted
quietly, idle and incomplete connections are closed, and with hundreds of them open a normal
client's success rate and latency stay as they were."""

from __future__ import annotations

import resource
import socket
import statistics
import time

import httpx2 as httpx
import pytest

from tests.ingest.test_process import batch
from tests.support.servers import TrackerServer, free_port

pytestmark = pytest.mark.slow
TEXT = {"Content-Type": "text/plain"}


@pytest.fixture(scope="module", autouse=True)
def enough_descriptors():
    """This test process opens hundreds of sockets: raise its own open-file limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def connect(port: int, first: bytes = b"") -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    if first:
        s.sendall(first)
    return s


def closed_by_server(s: socket.socket, wait: float) -> bool:
    s.settimeout(wait)
    try:
        while True:
            data = s.recv(65536)
            if not data:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


def latencies(server: TrackerServer, n: int) -> tuple[int, list[float]]:
    ok, took = 0, []
    with httpx.Client(timeout=10) as client:
        for _ in range(n):
            _, body = batch("shop", 2)
            started = time.perf_counter()
            try:
                r = client.post(server.url + "/api/collect", content=body, headers=TEXT)
                ok += r.status_code == 202
            except httpx.HTTPError:
                pass
            took.append(time.perf_counter() - started)
    return ok, took


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


def test_disconnects_mid_body_are_counted_quietly(tmp_path):
    server = TrackerServer(tmp_path / "data", free_port()).start()
    try:
        server.add_site("shop")
        head = b"POST /api/collect HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\nContent-Length: 5000\r\n\r\n"
        for _ in range(40):
            s = connect(server.port, head + b'{"site":"shop","events":[')
            time.sleep(0.01)
            s.close()
        time.sleep(0.5)
        ready = httpx.get(server.url + "/readyz", timeout=5).json()
        assert ready["ingest"]["client_disconnects"] >= 30
        r = httpx.post(server.url + "/api/collect", content=batch("shop", 1)[1], headers=TEXT, timeout=5)
        assert r.status_code == 202
    finally:
        server.stop()
    log = server.log.read_text()
    assert "Traceback" not in log and "unhandled error" not in log, log[-2000:]


def test_hundreds_of_idle_and_incomplete_connections_do_not_hurt_a_normal_client(tmp_path):
    server = TrackerServer(tmp_path / "data", free_port(), env={"TRACKER_REQUEST_READ_TIMEOUT": "8",
                                                              # What is measured is the HTTP layer: the shared
                                                              # disk's fsync stalls (up to ~1 s here) are not.
                                                              "TRACKER_SPOOL_FSYNC": "0"}).start()
    held: list[socket.socket] = []
    try:
        server.add_site("shop")
        latencies(server, 30)  # warm up
        ok_before, before = latencies(server, 150)
        partial_head = b"POST /api/collect HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\n"
        partial_body = partial_head + b"Content-Length: 4000\r\n\r\n" + b'{"site":"shop"'
        for i in range(600):
            held.append(connect(server.port, (b"", partial_head, partial_body)[i % 3]))
        time.sleep(1)  # the server has accepted them: what follows is the steady state with them open
        ok_during, during = latencies(server, 150)
        assert ok_before == 150 and ok_during == 150, f"{ok_during}/150 succeeded with 600 slow connections open"
        # "Unchanged" within the noise of a shared 2-core test machine (p99 alone swings 3x
        # between two idle runs there); the broken server failed every request instead.
        assert statistics.median(during) <= 2 * statistics.median(before) + 0.005 and p99(during) <= 3 * p99(before) + 0.25, \
            f"median {statistics.median(before) * 1000:.1f} -> {statistics.median(during) * 1000:.1f} ms, p99 {p99(before) * 1000:.1f} ms -> {p99(during) * 1000:.1f} ms"
        # Every slow connection is closed by the server once its deadline passes.
        deadline = time.monotonic() + 12
        still_open = [s for s in held if not closed_by_server(s, max(0.01, deadline - time.monotonic()))]
        assert not still_open, f"{len(still_open)} slow connections still open after the read deadline"
    finally:
        for s in held:
            s.close()
        server.stop()
    log = server.log.read_text()
    assert "Traceback" not in log, log[-2000:]


def test_past_the_connection_cap_the_oldest_waiting_connection_makes_room(tmp_path):
    server = TrackerServer(tmp_path / "data", free_port(), env={"TRACKER_MAX_CONNECTIONS": "100", "TRACKER_REQUEST_READ_TIMEOUT": "60"}).start()
    held: list[socket.socket] = []
    try:
        server.add_site("shop")
        for _ in range(300):
            held.append(connect(server.port))
        ok, took = latencies(server, 20)
        assert ok == 20 and max(took) < 2
        assert sum(closed_by_server(s, 0.01) for s in held[:150]) >= 140, "the oldest idle connections should be closed"
        with open(f"/proc/{server.proc.pid}/limits") as fh:
            soft = int(next(line for line in fh if line.startswith("Max open files")).split()[3])
        assert soft == resource.getrlimit(resource.RLIMIT_NOFILE)[1], "serve raises its open-file limit to the hard limit"
    finally:
        for s in held:
            s.close()
        server.stop()
