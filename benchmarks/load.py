"""Load check of the HTTP API: concurrent clients against a real server on loopback.

Starts ``textinpaint serve`` as a subprocess on a free 127.0.0.1 port, sends ``--requests``
inpainting requests from ``--clients`` threads (httpx), and prints latency percentiles,
errors (should be 0), throughput and the server's resident memory before and after. Bounded:
at most ``--requests`` requests and ``--max-seconds`` of sending; nothing leaves the machine.

    python benchmarks/load.py --model MODEL_DIR --clients 4 --requests 40
"""

from __future__ import annotations

import argparse
import io
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    """Resident set size of a process in MiB, from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def make_request_files(width: int, height: int) -> tuple[bytes, bytes]:
    """A smooth test picture and a mask with two holes."""
    y, x = np.mgrid[0:height, 0:width]
    image = np.stack([x * 255 // width, y * 255 // height, (x + y) * 127 // (width + height)],
                     axis=-1).astype(np.uint8)
    mask = np.zeros((height, width), np.uint8)
    mask[height // 4: height // 2, width // 4: width // 2] = 255
    mask[height * 3 // 4: height * 7 // 8, width * 3 // 4: width * 7 // 8] = 255
    return png(image), png(mask)


def start_server(model: str, port: int) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "textinpaint.cli", "serve", "--model", model,
           "--host", "127.0.0.1", "--port", str(port)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited early:\n{proc.stderr.read()}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("server did not become ready in time")


def run_clients(url: str, files: tuple[bytes, bytes], clients: int, requests: int,
                max_seconds: float, text: str) -> tuple[list[float], list[str], float]:
    """Send ``requests`` requests from ``clients`` threads; latencies (s), errors, wall time."""
    latencies, errors, lock = [], [], threading.Lock()
    remaining = [requests]
    stop_at = time.monotonic() + max_seconds

    def client() -> None:
        with httpx.Client(base_url=url, timeout=120) as http:
            while time.monotonic() < stop_at:
                with lock:
                    if remaining[0] == 0:
                        return
                    remaining[0] -= 1
                start = time.perf_counter()
                try:
                    r = http.post("/api/v1/inpaint", data={"text": text},
                                  files={"image": ("i.png", files[0], "image/png"),
                                         "mask": ("m.png", files[1], "image/png")})
                    ok = r.status_code == 200 and "image" in r.json()
                    problem = None if ok else f"HTTP {r.status_code}: {r.text[:120]}"
                except httpx.HTTPError as exc:
                    problem = f"{type(exc).__name__}: {exc}"
                with lock:
                    latencies.append(time.perf_counter() - start)
                    if problem:
                        errors.append(problem)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, errors, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="model folder")
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--requests", type=int, default=40)
    p.add_argument("--size", default="512x384", help="image WIDTHxHEIGHT")
    p.add_argument("--max-seconds", type=float, default=300, help="stop sending after this")
    p.add_argument("--text", default="this bird has a bright red crown and a white belly")
    args = p.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    files = make_request_files(width, height)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start_server(args.model, port)
    try:
        wait_ready(url, proc)
        rss_idle = rss_mb(proc.pid)
        run_clients(url, files, 1, 2, 60, args.text)  # warm-up: first calls allocate
        rss_before = rss_mb(proc.pid)
        latencies, errors, wall = run_clients(url, files, args.clients, args.requests,
                                              args.max_seconds, args.text)
        rss_after = rss_mb(proc.pid)
        alive = httpx.get(url + "/healthz", timeout=5).status_code == 200
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    ms = np.array(latencies) * 1000
    rows = [
        ("model", args.model), ("image", f"{width}×{height}, 2 holes"),
        ("clients", args.clients), ("requests sent", len(latencies)),
        ("errors", len(errors)),
        ("latency p50 / p90 / p99", " / ".join(f"{np.percentile(ms, q):.0f} ms"
                                               for q in (50, 90, 99)) if len(ms) else "-"),
        ("throughput", f"{len(latencies) / wall:.2f} req/s over {wall:.1f} s"),
        ("server RSS idle / warm / after", f"{rss_idle:.0f} / {rss_before:.0f} / "
                                           f"{rss_after:.0f} MiB"),
        ("healthy after the run", "yes" if alive else "NO"),
    ]
    width_key = max(len(k) for k, _ in rows)
    print("\n".join(f"{k:<{width_key}}  {v}" for k, v in rows))
    for problem in errors[:5]:
        print("error:", problem)
    return 0 if not errors and alive else 1


if __name__ == "__main__":
    sys.exit(main())
