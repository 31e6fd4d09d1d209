"""The served simulator (``dalle-kit serve``) under a class: one client alone, then 30 connecting at once.

Each configuration runs the real server code in its own process (``make_server`` with a listen ``backlog`` and
``TCP_NODELAY`` on or off); the clients are raw ``http.client`` connections, so nothing retries behind our back.

- alone: the median of sequential requests on one keep-alive connection (where Nagle's algorithm plus the client's
  delayed ACK used to add ~40 ms to every answer after the first);
- class: 30 threads, each opening a fresh connection at the same moment and sending one image request; the
  median and the slowest answer (a connection attempt dropped by a full backlog waits ~1 s for the SYN retransmit),
  and how many of the 90 pupils (3 rounds) got no answer at all (connection reset).

Prints milliseconds and ratios (these machines are noisy; compare ratios). Run: .venv/bin/python
benchmarks/served_class.py
"""

from __future__ import annotations

import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CLASS_SIZE = 30
ALONE_ROUNDS = 25
BODY = json.dumps({"model": "gpt-image-2", "prompt": "a lighthouse", "quality": "low", "size": "1024x1024"})
HEADERS = {"Authorization": "Bearer sk-bench", "Content-Type": "application/json"}
SERVER = """
import sys
from dalle_kit.simulator import Simulator
from dalle_kit.simulator.server import make_server
server = make_server(Simulator(seed=1), "127.0.0.1", 0, quiet=True, backlog=int(sys.argv[1]),
                     nodelay=sys.argv[2] == "1")
print(server.server_address[1], flush=True)
server.serve_forever(poll_interval=0.2)
"""


def start(backlog: int, nodelay: bool) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(backlog), "1" if nodelay else "0"],
                            stdout=subprocess.PIPE, text=True, cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


def alone(port: int, method: str, path: str, body: str | None) -> float:
    """Median seconds of sequential requests on one keep-alive connection (after one warm-up)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    samples = []
    for i in range(ALONE_ROUNDS + 1):
        started = time.perf_counter()
        conn.request(method, path, body=body, headers=HEADERS)
        response = conn.getresponse()
        response.read()
        assert response.status == 200, response.status
        if i:
            samples.append(time.perf_counter() - started)
    conn.close()
    return statistics.median(samples)


def at_once(port: int) -> tuple[list[float], int]:
    """Seconds from the common start to each of 30 answers (fresh connection each), and the failures."""
    barrier = threading.Barrier(CLASS_SIZE)
    times: list[float] = []
    failed: list[BaseException] = []
    lock = threading.Lock()

    def pupil() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        barrier.wait()
        started = time.perf_counter()
        try:
            conn.request("POST", "/v1/images/generations", body=BODY, headers=HEADERS)
            response = conn.getresponse()
            response.read()
            assert response.status == 200, response.status
        except (OSError, http.client.HTTPException) as exc:
            with lock:
                failed.append(exc)
            return
        finally:
            conn.close()
        with lock:
            times.append(time.perf_counter() - started)

    threads = [threading.Thread(target=pupil) for _ in range(CLASS_SIZE)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return times, len(failed)


def measure(backlog: int, nodelay: bool) -> dict[str, float]:
    proc, port = start(backlog, nodelay)
    try:
        out = {"models": alone(port, "GET", "/v1/models", None),
               "image": alone(port, "POST", "/v1/images/generations", BODY)}
        runs = [at_once(port) for _ in range(3)]
        out["class median"] = statistics.median(statistics.median(times) for times, _ in runs)
        out["class slowest"] = statistics.median(max(times) for times, _ in runs)
        out["failed"] = sum(failed for _, failed in runs)
        return out
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> None:
    configs = {"before (backlog 5, Nagle on)": (5, False), "backlog 5, TCP_NODELAY": (5, True),
               "backlog 256, Nagle on": (256, False), "now (backlog 256, TCP_NODELAY)": (256, True)}
    results = {name: measure(*config) for name, config in configs.items()}
    keys = ("models", "image", "class median", "class slowest")
    print(f"{'':34}" + "".join(f"{k:>15}" for k in keys) + f"{'failed':>9}   (ms; failed of {3 * CLASS_SIZE})")
    for name, result in results.items():
        print(f"{name:34}" + "".join(f"{result[k] * 1000:15.1f}" for k in keys) + f"{result['failed']:9.0f}")
    before, now = results["before (backlog 5, Nagle on)"], results["now (backlog 256, TCP_NODELAY)"]
    print(f"alone, before / now:  {before['models'] / now['models']:.1f}x (models list), "
          f"{before['image'] / now['image']:.1f}x (image)")
    print(f"class, before / now:  {before['class slowest'] / now['class slowest']:.2f}x slowest answer; "
          f"failed {before['failed']:.0f} -> {now['failed']:.0f} of {3 * CLASS_SIZE} (the class medians compare "
          f"poorly: failed pupils leave less work for the others)")
    print(f"now, 30 at once / alone (image):  {now['class median'] / now['image']:.1f}x median, "
          f"{now['class slowest'] / now['image']:.1f}x slowest (the answers share one process and its GIL)")


if __name__ == "__main__":
    main()
