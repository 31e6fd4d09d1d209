"""What Kit adds on top of a bare SDK call: validation, input handling, the store write, the result.

Both sides call the same in-process simulator with the same requests, so the simulator's drawing time is
common to both; the ratio is Kit's overhead. Prints ratios (these machines are noisy; compare ratios, not ms).
Run: .venv/bin/python benchmarks/kit_overhead.py
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time

import httpx2
import openai

from dalle_kit import Kit, Simulator, validate

ROUNDS = 15
PARAMS = {"model": "gpt-image-2.5-flare", "size": "1024x1024", "quality": "low"}


def timed(fn, rounds: int = ROUNDS) -> float:
    samples = []
    for i in range(rounds):
        start = time.perf_counter()
        fn(i)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    os.environ["DALLE_KIT_HOME"] = tempfile.mkdtemp(prefix="dalle-kit-bench-")
    sim = Simulator(seed=1)
    sdk = openai.OpenAI(api_key="sk-bench", base_url="http://simulator.invalid/v1",
                        http_client=httpx2.Client(transport=sim.transport()))
    kit = Kit(offline=True, simulator=sim, quiet=True)
    bare = timed(lambda i: sdk.images.generate(prompt=f"a lighthouse {i}", **PARAMS))
    full = timed(lambda i: kit.generate(f"a lighthouse {i}", **PARAMS))
    check = timed(lambda i: validate("generate", prompt=f"a lighthouse {i}", **PARAMS), rounds=2000)
    print(f"bare SDK call on the simulator: {bare * 1000:.1f} ms (median of {ROUNDS})")
    print(f"Kit.generate, same request:     {full * 1000:.1f} ms")
    print(f"Kit / bare SDK:                 {full / bare:.2f}x")
    print(f"validate() alone:               {check * 1e6:.0f} µs = {check / bare:.4f} of a bare call")


if __name__ == "__main__":
    main()
