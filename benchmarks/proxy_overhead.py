"""What the teacher's proxy adds to a request: the same SDK call direct to the API vs through ``dalle-kit proxy``.

The "API" is the served simulator (``dalle-kit serve`` in a subprocess, answering one precomputed flat picture
made unique per answer, so it spends its time on the wire, not drawing; see ``_served.py``), with no latency and
with 0.25 s, and a rate limit high enough never to refuse. The proxy is the real command in its own process
(``dalle-kit proxy --upstream URL`` with a fake key in ``OPENAI_API_KEY``): token check, pre-flight, the ledger's
reserve and settle, the fair gate and the pacer, and forwarding through the official SDK.

1. one participant, sequential requests on one keep-alive client, rounds interleaved (direct, proxy, direct...)
   so the machine's moods fall on both alike: mean and median ms per request, the ratio and the ms added;
2. 30 participants at once (a thread and a client each, 3 requests each): p50 / p95 per request, direct and
   through the proxy at its defaults (8 in flight to the backend, fair turns) and with ``--concurrency 30``.

Prints milliseconds and ratios (these machines are noisy; compare ratios). Run:
.venv/bin/python benchmarks/proxy_overhead.py
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import openai

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _served import REPO, Served

from dalle_kit.proxy.tokens import read_tokens

REQUEST = {"model": "gpt-image-2", "prompt": "a lighthouse at dusk", "size": "1024x1024", "quality": "low"}
FAKE_KEY = "sk-FAKE-FOR-PROXY-BENCHMARK-NOT-A-KEY"
ROUNDS, PER_ROUND = 5, 8
CLASS, EACH = 30, 3


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ProxyProcess:
    """``dalle-kit proxy`` in front of ``upstream``, in its own process; ``tokens`` by participant."""

    def __init__(self, upstream: str, folder: Path, *options: str) -> None:
        self.port = _free_port()
        env = {**os.environ, "OPENAI_API_KEY": FAKE_KEY, "PYTHONPATH": str(REPO)}
        self.proc = subprocess.Popen([sys.executable, "-m", "dalle_kit", "proxy", "--students", str(CLASS),
                                      "--budget-each", "1000", "--upstream", upstream, "--port", str(self.port),
                                      "--ledger", str(folder / "ledger.sqlite"), "--tokens",
                                      str(folder / "tokens.csv"), *options],
                                     env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the proxy did not start") from None
                time.sleep(0.05)
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.tokens = list(read_tokens(folder / "tokens.csv").values())

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _timed(client: openai.OpenAI, count: int) -> list[float]:
    out = []
    for _ in range(count):
        started = time.perf_counter()
        answer = client.images.generate(**REQUEST)  # type: ignore[call-overload]
        out.append(time.perf_counter() - started)
        assert answer.data
    return out


def sequential(direct_url: str, proxy: ProxyProcess) -> tuple[list[float], list[float]]:
    direct, through = [], []
    with openai.OpenAI(base_url=direct_url, api_key=FAKE_KEY, max_retries=0) as d, \
            openai.OpenAI(base_url=proxy.url, api_key=proxy.tokens[0], max_retries=0) as p:
        _timed(d, 2)  # connections open, caches warm
        _timed(p, 2)
        for _ in range(ROUNDS):
            direct += _timed(d, PER_ROUND)
            through += _timed(p, PER_ROUND)
    return direct, through


def crowd(url: str, keys: list[str]) -> list[float]:
    """``CLASS`` participants at once, ``EACH`` sequential requests each; every request's seconds."""
    barrier = threading.Barrier(CLASS)
    times: list[float] = []
    lock = threading.Lock()

    def one(key: str) -> None:
        with openai.OpenAI(base_url=url, api_key=key, max_retries=0, timeout=120) as client:
            barrier.wait()
            mine = _timed(client, EACH)
        with lock:
            times.extend(mine)

    threads = [threading.Thread(target=one, args=(k,)) for k in keys]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return times


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


def main() -> None:
    print(f"proxy overhead: {ROUNDS} interleaved rounds of {PER_ROUND} sequential requests each way, then "
          f"{CLASS} participants x {EACH} requests at once")
    for latency in (0.0, 0.25):
        with Served("--latency", str(latency), "--rate-limit", "1000000") as served, \
                tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
            proxy = ProxyProcess(served.url, Path(a))
            wide = ProxyProcess(served.url, Path(b), "--concurrency", "30")
            try:
                direct, through = sequential(served.url, proxy)
                dm, tm = statistics.fmean(direct) * 1000, statistics.fmean(through) * 1000
                dmed, tmed = statistics.median(direct) * 1000, statistics.median(through) * 1000
                print(f"\nupstream latency {latency:g} s, one participant ({len(direct)} requests each way):")
                print(f"  direct        mean {dm:7.1f} ms  median {dmed:7.1f} ms")
                print(f"  through proxy mean {tm:7.1f} ms  median {tmed:7.1f} ms")
                print(f"  ratio (median) {tmed / dmed:.2f}x, added {tmed - dmed:+.1f} ms per request "
                      f"(mean: {tm / dm:.2f}x, {tm - dm:+.1f} ms)")
                runs = {"direct": crowd(served.url, [FAKE_KEY] * CLASS),
                        "proxy (default: 8 in flight)": crowd(proxy.url, proxy.tokens),
                        "proxy --concurrency 30": crowd(wide.url, wide.tokens)}
                print(f"  {CLASS} participants at once ({CLASS * EACH} requests):")
                for name, times in runs.items():
                    print(f"    {name:<30} p50 {pct(times, 0.5):7.1f} ms  p95 {pct(times, 0.95):7.1f} ms")
            finally:
                proxy.stop()
                wide.stop()


if __name__ == "__main__":
    main()
