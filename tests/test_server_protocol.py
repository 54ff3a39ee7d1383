"""Slow clients against a real uvicorn on loopback: a request head that trickles in is cut
off at the header deadline, and the server goes on serving."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest
import uvicorn

from textinpaint.server.app import create_app
from textinpaint.server.protocol import with_header_timeout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server_url(tiny_pipe):
    port = free_port()
    config = uvicorn.Config(create_app(tiny_pipe, allowed_hosts=["127.0.0.1"]),
                            host="127.0.0.1", port=port, log_level="warning",
                            http=with_header_timeout(0.3), timeout_keep_alive=1,
                            limit_concurrency=8)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def closed_by_server(sock: socket.socket, trickle: bytes, within: float = 10.0) -> bool:
    """Trickle ``trickle`` a byte at a time; True once the server has closed the socket."""
    sock.settimeout(0.1)
    end = time.monotonic() + within
    data = iter(trickle * 1000)
    while time.monotonic() < end:
        try:
            sock.send(bytes([next(data)]))
            if sock.recv(1024) == b"":
                return True
        except TimeoutError:
            continue
        except OSError:  # reset or broken pipe: closed
            return True
    return False


def test_trickled_headers_are_cut_off_and_the_server_still_serves(server_url):
    port = int(server_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        assert closed_by_server(sock, b"X-Slow: yes\r\n")
    assert httpx.get(server_url + "/healthz", timeout=10).status_code == 200


def test_a_second_trickled_request_on_a_kept_alive_connection_is_cut_off(server_url):
    port = int(server_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert b"200 OK" in sock.recv(4096)
        assert closed_by_server(sock, b"G")  # the next head never completes
    assert httpx.get(server_url + "/healthz", timeout=10).status_code == 200


def test_foreign_host_on_the_real_server(server_url):
    r = httpx.get(server_url + "/api/v1/model", headers={"host": "evil.example"}, timeout=10)
    assert r.status_code == 400 and "evil.example" in r.json()["error"]
