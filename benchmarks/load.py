"""Load check of the HTTP API: concurrent clients against a real server on loopback.

Starts ``textinpaint serve`` as a subprocess on a free 127.0.0.1 port, sends ``--requests``
inpainting requests from ``--clients`` threads (httpx), and prints latency percentiles,
errors (should be 0), throughput and the server's resident memory before and after. Bounded:
at most ``--requests`` requests and ``--max-seconds`` of sending; nothing leaves the machine.

``--attacks`` then runs the costly inputs of issue 29, one at a time, each with a small
request sent alongside (its latency shows whether the server stays responsive): a thin
1×12000 image with a full mask, a 4096² image with 1,849 one-pixel holes, a large accepted
request (4096², a 2048² hole), 16 concurrent 4096² uploads (with ``/healthz`` timed), and
20 slow clients trickling their headers (fewer than --max-connections: beyond it uvicorn
answers 503 until the header deadline frees their slots). After each it prints the server's
peak RSS (VmHWM).

    python benchmarks/load.py --model MODEL_DIR --clients 4 --requests 40
    python benchmarks/load.py --requests 0 --attacks
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


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """Resident set size of a process in MiB, from /proc/<pid>/status (``VmHWM``: its peak)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
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


def start_server(model: str, port: int, extra: list[str] = ()) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "textinpaint.cli", "serve", "--model", model,
           "--host", "127.0.0.1", "--port", str(port), *extra]
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


def post(url: str, image: bytes, mask: bytes, text: str = "a small bird",
         timeout: float = 300) -> tuple[int, float, str]:
    """One multipart request: (status, seconds, error text or '')."""
    start = time.perf_counter()
    try:
        r = httpx.post(url + "/api/v1/inpaint", data={"text": text}, timeout=timeout,
                       files={"image": ("i.png", image, "image/png"),
                              "mask": ("m.png", mask, "image/png")})
        status = r.status_code
        error = "" if status == 200 else r.json().get("error", r.text)[:110]
    except httpx.HTTPError as exc:
        status, error = 0, f"{type(exc).__name__}: {exc}"
    return status, time.perf_counter() - start, error


def alongside(url: str, big, small, delay: float = 0.3) -> tuple[tuple, tuple]:
    """Send ``big`` (image, mask) and, ``delay`` s later, ``small``; both results."""
    results = {}
    thread = threading.Thread(target=lambda: results.setdefault("big", post(url, *big)))
    thread.start()
    time.sleep(delay)
    results["small"] = post(url, *small)
    thread.join()
    return results["big"], results["small"]


def flat_png(width: int, height: int) -> bytes:
    return png(np.full((height, width, 3), 120, np.uint8))


def mask_png(hole: np.ndarray) -> bytes:
    return png(hole.astype(np.uint8) * 255)


def slow_clients(port: int, count: int, seconds: float) -> tuple[int, float]:
    """Open ``count`` connections that trickle header lines for up to ``seconds``; how many
    the server closed, and the longest time one stayed open."""
    socks = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        s.settimeout(0.01)
        socks.append([s, time.monotonic(), None])
    end = time.monotonic() + seconds
    while time.monotonic() < end and any(c[2] is None for c in socks):
        for c in socks:
            if c[2] is not None:
                continue
            try:
                c[0].send(b"X-Slow: 1\r\n")
                if c[0].recv(64) == b"":
                    c[2] = time.monotonic() - c[1]
            except TimeoutError:
                pass
            except OSError:
                c[2] = time.monotonic() - c[1]
        time.sleep(0.5)
    for c in socks:
        c[0].close()
    closed = [c[2] for c in socks if c[2] is not None]
    return len(closed), max(closed, default=float("nan"))


def attacks(url: str, port: int, pid: int) -> list[tuple[str, str]]:
    """Issue 29's costly inputs, each with a small request alongside; report rows."""
    rows = []
    small = make_request_files(256, 192)

    def row(name: str, big, extra: str = "") -> None:
        (status, seconds, error), (s_status, s_seconds, _) = alongside(url, big, small)
        rows.append((name, f"HTTP {status} in {seconds:.2f} s{extra}; small request alongside "
                           f"HTTP {s_status} in {s_seconds:.2f} s; peak RSS "
                           f"{rss_mb(pid, 'VmHWM'):.0f} MiB"))
        if error:
            rows.append(("", f"-> {error}"))

    thin = (flat_png(1, 12000), mask_png(np.ones((12000, 1), bool)))
    row(f"thin 1×12000, full mask ({len(thin[0])} B)", thin)
    thin4 = (flat_png(1, 4000), mask_png(np.ones((4000, 1), bool)))
    row("thin 1×4000, full mask", thin4)
    hole = np.zeros((4096, 4096), bool)
    hole[48::95, 48::95] = True  # 43 × 43 = 1,849 one-pixel holes
    specks = (flat_png(4096, 4096), mask_png(hole))
    row(f"4096², {int(hole.sum())} one-pixel holes", specks)
    big_hole = np.zeros((4096, 4096), bool)
    big_hole[1024:3072, 1024:3072] = True
    large = (flat_png(4096, 4096), mask_png(big_hole))
    row("4096², one 2048² hole (accepted)", large)

    # 16 concurrent 4096² uploads while /healthz is timed
    statuses = []
    threads = [threading.Thread(target=lambda: statuses.append(post(url, *large)[0]))
               for _ in range(16)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    worst = 0.0
    while any(t.is_alive() for t in threads):
        start = time.perf_counter()
        httpx.get(url + "/healthz", timeout=60)
        worst = max(worst, time.perf_counter() - start)
        time.sleep(0.2)
    for t in threads:
        t.join()
    counts = ", ".join(f"{statuses.count(c)}× HTTP {c}" for c in sorted(set(statuses)))
    rows.append(("16 concurrent 4096² requests", f"{counts}; slowest /healthz "
                                                  f"{worst * 1000:.0f} ms; peak RSS "
                                                  f"{rss_mb(pid, 'VmHWM'):.0f} MiB"))

    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("slow", slow_clients(port, 20, 30)))
    thread.start()
    time.sleep(1.0)
    status, seconds, _ = post(url, *small)
    thread.join()
    closed, longest = result["slow"]
    rows.append(("20 slow clients trickling headers",
                 f"{closed}/20 closed by the server, the last after {longest:.1f} s; small "
                 f"request meanwhile HTTP {status} in {seconds:.2f} s"))
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="model folder")
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--requests", type=int, default=40)
    p.add_argument("--size", default="512x384", help="image WIDTHxHEIGHT")
    p.add_argument("--max-seconds", type=float, default=300, help="stop sending after this")
    p.add_argument("--text", default="this bird has a bright red crown and a white belly")
    p.add_argument("--attacks", action="store_true",
                   help="also run issue 29's thin-image, many-holes, large and slow-client cases")
    p.add_argument("--serve-args", default="",
                   help="extra 'textinpaint serve' options, e.g. \"--max-memory-mb 800\"")
    args = p.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    files = make_request_files(width, height)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start_server(args.model, port, args.serve_args.split())
    attack_rows = []
    try:
        wait_ready(url, proc)
        rss_idle = rss_mb(proc.pid)
        run_clients(url, files, 1, 2, 60, args.text)  # warm-up: first calls allocate
        rss_before = rss_mb(proc.pid)
        latencies, errors, wall = run_clients(url, files, args.clients, args.requests,
                                              args.max_seconds, args.text)
        rss_after = rss_mb(proc.pid)
        rss_peak = rss_mb(proc.pid, "VmHWM")
        if args.attacks:
            attack_rows = attacks(url, port, proc.pid)
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
        ("latency p50 / p95 / p99", " / ".join(f"{np.percentile(ms, q):.0f} ms"
                                               for q in (50, 95, 99)) if len(ms) else "-"),
        ("throughput", f"{len(latencies) / max(wall, 1e-9):.2f} req/s over {wall:.1f} s"),
        ("server RSS idle / warm / after", f"{rss_idle:.0f} / {rss_before:.0f} / "
                                           f"{rss_after:.0f} MiB"),
        ("server peak RSS (load)", f"{rss_peak:.0f} MiB"),
        *attack_rows,
        ("healthy after the run", "yes" if alive else "NO"),
    ]
    width_key = max(len(k) for k, _ in rows)
    print("\n".join(f"{k:<{width_key}}  {v}" for k, v in rows))
    for problem in errors[:5]:
        print("error:", problem)
    return 0 if not errors and alive else 1


if __name__ == "__main__":
    sys.exit(main())
