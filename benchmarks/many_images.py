"""Many images at once: ``Kit.generate_many`` against what people write by hand, on the served simulator.

The simulator runs in a subprocess (``dalle-kit serve``, see ``_served.py``) with a latency of L = 0.25 s per image
answer (the least an answer takes, drawing included), so the ideal for N images 8 at a time is L * ceil(N / 8).
Every run prints wall seconds and its ratio to that ideal:

- hand-written: ``openai.AsyncOpenAI`` + ``asyncio.Semaphore(8)``, decoding each image's Base64 and writing its
  file (N = 16 and 64);
- the tutorials' loop: ``client.images.generate`` one after the other with ``time.sleep(1)`` between (N = 16),
  also as a ratio to the hand-written run;
- dalle_kit: ``kit.generate_many(requests, concurrency=8)`` (N = 16 and 64), interleaved round by round with the
  hand-written runs (alternating which goes first) on the same server, flat pictures and photo-like ones; then
  with an images-per-minute cap (server ``--rate-limit IPM`` and ``images_per_minute=IPM``) as a ratio to N / IPM
  minutes; then the same 16-image call again on the same store (second / first; it should send no request: the
  server's request count before and after).

Flat pictures are the simulator's own (about 35 KB); photo-like ones are 1536x1024 noisy PNGs of about 3.8 MB.
Either is drawn once when the server starts and made unique per answer (see _served.py), so drawing is not the
bottleneck: moving the bytes is. Each run has a fresh temporary store (``home``) and its own prompts, so
nothing is cached unless meant, and the server's counters and rate-limit windows are reset before each run (the
server advertises 250 images a minute in its ``x-ratelimit-*`` headers even when it enforces nothing; a client
that paces itself by them would otherwise be slowed by the runs before it). The dalle_kit runs print a skip line
while ``Kit`` has no ``generate_many``.
These machines are noisy: compare ratios. ``progress=False`` keeps the output readable.

Run: .venv/bin/python benchmarks/many_images.py            (everything, ~1 min)
     .venv/bin/python benchmarks/many_images.py --photo    (only the photo-like comparison, more rounds)
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import math
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai
from _served import Served, engine

LATENCY = 0.25
CONCURRENCY = 8
FLAT = {"model": "gpt-image-2", "quality": "low", "size": "1024x1024"}
PHOTO = {"model": "gpt-image-2", "quality": "low", "size": "1536x1024"}
RUN = uuid.uuid4().hex[:8]  # prompts differ between invocations too
_serial = itertools.count()
Kit, SKIP = engine()
HAS_ENGINE = SKIP is None


def ideal(n: int) -> float:
    return LATENCY * math.ceil(n / CONCURRENCY)


def prompts(n: int, what: str) -> list[str]:
    """``n`` prompts no other run uses."""
    run = next(_serial)
    return [f"{what} {i + 1} of {n} (run {RUN}-{run})" for i in range(n)]


def fresh_dir(label: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"dalle-kit-bench-{label}-"))


def show(label: str, seconds: float, n: int, extra: str = "") -> None:
    print(f"  {label:44} {seconds:7.2f} s  {seconds / ideal(n):5.2f}x ideal ({ideal(n):.2f} s){extra}", flush=True)


# -- the baselines ------------------------------------------------------------------------------------------------
def hand_written(url: str, n: int, params: dict[str, Any], what: str) -> float:
    """AsyncOpenAI + Semaphore(8), each image decoded and written to its own file. Wall seconds."""
    folder = fresh_dir("hand")
    todo = prompts(n, what)

    async def main() -> None:
        gate = asyncio.Semaphore(CONCURRENCY)
        async with openai.AsyncOpenAI(api_key="sk-bench", base_url=url) as client:
            async def one(i: int, prompt: str) -> None:
                async with gate:
                    answer = await client.images.generate(prompt=prompt, **params)
                    for j, image in enumerate(answer.data):
                        (folder / f"{i:03d}-{j}.png").write_bytes(base64.b64decode(image.b64_json or ""))

            await asyncio.gather(*(one(i, p) for i, p in enumerate(todo)))

    start = time.perf_counter()
    asyncio.run(main())
    took = time.perf_counter() - start
    written = len(list(folder.iterdir()))
    assert written == n, f"hand-written run wrote {written} of {n} files"
    return took


def tutorial_loop(url: str, n: int, params: dict[str, Any]) -> float:
    """The tutorials' loop: one call after the other, a second's sleep between, each image written."""
    folder = fresh_dir("loop")
    start = time.perf_counter()
    with openai.OpenAI(api_key="sk-bench", base_url=url) as client:
        for i, prompt in enumerate(prompts(n, "a lighthouse in a tutorial loop")):
            answer = client.images.generate(prompt=prompt, **params)
            (folder / f"{i:03d}.png").write_bytes(base64.b64decode(answer.data[0].b64_json or ""))
            time.sleep(1)
    return time.perf_counter() - start


# -- dalle_kit --------------------------------------------------------------------------------------------------
def kit_for(url: str) -> Any:
    return Kit(api_key="sk-bench", base_url=url, home=fresh_dir("kit"), quiet=True)


def many(kit: Any, requests: list[Any], **options: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = kit.generate_many(requests, concurrency=CONCURRENCY, progress=False, **options)
    return time.perf_counter() - start, result


def check(result: Any, n: int, label: str) -> None:
    images, errors = len(result.images), len(result.errors)
    if images != n or errors:
        print(f"  !! {label}: {images} of {n} images, {errors} errors: {list(result.errors)[:3]}", flush=True)


def kit_run(url: str, n: int, params: dict[str, Any], what: str) -> float:
    kit = kit_for(url)
    try:
        took, result = many(kit, [{"prompt": p, **params} for p in prompts(n, what)])
    finally:
        kit.close()
    check(result, n, f"generate_many N={n}")
    return took


# -- the runs ---------------------------------------------------------------------------------------------------
def compare(server: Served, params: dict[str, Any], what: str, sizes: tuple[int, ...],
            rounds: int) -> dict[int, float]:
    """Hand-written and dalle_kit, interleaved round by round; prints medians, returns the hand-written ones."""
    out = {}
    for n in sizes:
        times: dict[str, list[float]] = {"hand": [], "kit": []}
        order: list[tuple[str, Callable[[str, int, dict[str, Any], str], float]]] = [("hand", hand_written)]
        if HAS_ENGINE:
            order.append(("kit", kit_run))
        for r in range(rounds):
            for name, run in order if r % 2 == 0 else order[::-1]:
                server.reset()  # each run starts with the full advertised budget (see Served.reset)
                times[name].append(run(server.url, n, params, what))
        hand = out[n] = statistics.median(times["hand"])
        note = f"  (median of {rounds})" if rounds > 1 else ""
        show(f"N={n:3d} hand-written AsyncOpenAI + Semaphore(8)", hand, n, note)
        if HAS_ENGINE:
            kit = statistics.median(times["kit"])
            show(f"N={n:3d} kit.generate_many(concurrency=8)", kit, n, f"  {kit / hand:5.2f}x hand-written")
    return out


def flat_section(rounds: int) -> None:
    print(f"flat pictures (the simulator's own, {FLAT['size']} {FLAT['quality']}), latency {LATENCY} s:", flush=True)
    with Served("--latency", str(LATENCY)) as server:
        hand_written(server.url, 16, FLAT, "a warm-up lighthouse")  # imports, the server's first drawings
        if not HAS_ENGINE:
            print(f"  {SKIP}", flush=True)
        hand = compare(server, FLAT, "a lighthouse", (16, 64), rounds)
        server.reset()
        loop = tutorial_loop(server.url, 16, FLAT)
        show("N= 16 tutorial loop (sequential + sleep(1))", loop, 16, f"  {loop / hand[16]:5.1f}x hand-written")
        if HAS_ENGINE:
            rerun(server)


def photo_section(rounds: int) -> None:
    print(f"photo-like pictures ({PHOTO['size']}, noisy PNG), latency {LATENCY} s:", flush=True)
    with Served("--latency", str(LATENCY), photo=True) as server:
        print(f"  each answer carries a {server.photo_bytes / 1e6:.1f} MB PNG", flush=True)
        hand_written(server.url, 8, PHOTO, "a warm-up harbour photo")
        if not HAS_ENGINE:
            print(f"  {SKIP}", flush=True)
        compare(server, PHOTO, "a harbour photo", (16, 64), rounds)


def rate_section() -> None:
    n, ipm = 32, 480  # N / IPM = 4 s
    budget = n / ipm * 60
    print(f"images-per-minute cap: N={n}, IPM={ipm} (server --rate-limit {ipm}; N/IPM = {budget:.1f} s):", flush=True)
    if not HAS_ENGINE:
        print(f"  {SKIP}", flush=True)
        return
    with Served("--latency", str(LATENCY), "--rate-limit", str(ipm)) as server:
        kit = kit_for(server.url)
        try:
            took, result = many(kit, [{"prompt": p, **FLAT} for p in prompts(n, "a capped lighthouse")],
                                images_per_minute=ipm)
        finally:
            kit.close()
        check(result, n, "capped generate_many")
        stats = server.stats()
        refused = stats["faults"].get("rate_limited", 0)
        print(f"  {'kit.generate_many(images_per_minute=IPM)':44} {took:7.2f} s  {took / budget:5.2f}x N/IPM "
              f"({budget:.1f} s); server 429s: {refused}, requests sent: {server.image_requests()}", flush=True)
        print("  (the server's window is 60 s, so it would admit all N at once: a ratio well below 1 means the "
              "client did not pace)", flush=True)


def rerun(server: Served) -> None:
    """The same 16-image call twice on one store: the second should be answered from the store."""
    server.reset()
    kit = kit_for(server.url)
    try:
        requests = [{"prompt": p, **FLAT} for p in prompts(16, "a lighthouse twice")]
        first, one = many(kit, requests)
        before = server.image_requests()
        second, two = many(kit, requests)
        sent = server.image_requests() - before
    finally:
        kit.close()
    check(one, 16, "first call")
    check(two, 16, "second call")
    print(f"  {'N= 16 the same call again, same store':44} {second:7.3f} s  {second / first:5.3f}x the first "
          f"({first:.2f} s); requests sent by the second: {sent} (server), {getattr(two, 'sent', '?')} (.sent)",
          flush=True)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--photo", action="store_true", help="only the photo-like comparison, with more rounds")
    p.add_argument("--rounds", type=int, default=None, help="rounds per comparison (default 3 flat, 1 photo; "
                   "3 with --photo)")
    args = p.parse_args(argv)
    started = time.perf_counter()
    if args.photo:
        photo_section(args.rounds or 3)
    else:
        flat_section(args.rounds or 3)
        photo_section(args.rounds or 1)
        rate_section()
    print(f"({time.perf_counter() - started:.0f} s in all)", file=sys.stderr)


if __name__ == "__main__":
    main()
