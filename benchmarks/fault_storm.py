"""A fault storm: 200 image requests against a served simulator that fails a third of them, 8 at a time.

The server (``dalle-kit serve --fail 429:0.25,500:0.05,drop:0.03``, latency 0.1 s) answers 25% of image requests
with an injected 429, 5% with a 500 and drops 3% of the connections; 2% of the prompts (4) contain
``moderation-test`` and are refused by moderation (400, never worth retrying). Each side gets its own server with
the same seed. Printed:

- bare SDK (``openai.AsyncOpenAI`` with its default 2 retries, ``asyncio.Semaphore(8)``): requests answered,
  refused by moderation, and lost (still failing after the retries), by exception type;
- dalle_kit (``kit.generate_many(requests, concurrency=8)`` on a fresh store): images in the result, image files
  saved vs store rows, moderation refusals it reported vs those the server sent, lost requests, and the requests
  sent (the result's ``.sent`` vs the server's count). Skipped with a printed line while ``Kit`` has no
  ``generate_many``.

Both: the server's own counts (image requests, 200s, injected faults, drops, moderation 400s). The fault draws
depend on the order requests arrive, so the counts vary a little from run to run.
Run: .venv/bin/python benchmarks/fault_storm.py
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import time
from collections import Counter
from contextlib import closing
from pathlib import Path
from typing import Any

import openai
from _served import IMAGES, Served, engine

N = 200
CONCURRENCY = 8
FAIL = "429:0.25,500:0.05,drop:0.03"
SERVER = ("--fail", FAIL, "--latency", "0.1", "--seed", "7")
PARAMS = {"model": "gpt-image-2", "quality": "low", "size": "1024x1024"}


def prompts(tag: str) -> list[str]:
    """200 prompts, every 50th (from the 25th) a moderation trigger: 4 in all."""
    return [f"{'a moderation-test poster' if i % 50 == 25 else 'a lighthouse'} {tag} #{i}" for i in range(N)]


def is_moderation(exc: BaseException | None) -> bool:
    if not isinstance(exc, openai.APIStatusError):
        return False
    body = exc.body if isinstance(exc.body, dict) else {}
    return (exc.code or body.get("code")) in ("moderation_blocked", "content_policy_violation")


def server_counts(server: Served) -> str:
    stats = server.stats()
    by_status = stats["by_endpoint"].get(IMAGES, {})
    faults = stats["faults"]
    return (f"server: {stats['requests'].get(IMAGES, 0)} image requests, {by_status.get('200', 0)} answered 200, "
            f"injected 429 {faults.get('injected_429', 0)} / 500 {faults.get('injected_500', 0)} / dropped "
            f"{faults.get('dropped', 0)}, moderation 400s {by_status.get('400', 0)}")


def bare_sdk() -> None:
    print(f"bare SDK: AsyncOpenAI (max_retries=2, the default) + Semaphore({CONCURRENCY}), {N} requests:", flush=True)
    with Served(*SERVER) as server:
        outcomes: list[BaseException | None] = []

        async def main() -> None:
            gate = asyncio.Semaphore(CONCURRENCY)
            async with openai.AsyncOpenAI(api_key="sk-bench", base_url=server.url) as client:
                async def one(prompt: str) -> BaseException | None:
                    async with gate:
                        try:
                            answer = await client.images.generate(prompt=prompt, **PARAMS)
                        except openai.APIError as exc:
                            return exc
                    return None if answer.data else RuntimeError("no image in the answer")

                outcomes.extend(await asyncio.gather(*(one(p) for p in prompts("bare"))))

        start = time.perf_counter()
        asyncio.run(main())
        took = time.perf_counter() - start
        moderated = sum(1 for exc in outcomes if is_moderation(exc))
        lost = Counter(type(exc).__name__ for exc in outcomes if exc is not None and not is_moderation(exc))
        answered = sum(1 for exc in outcomes if exc is None)
        print(f"  answered {answered}, moderation refusals {moderated}, LOST {sum(lost.values())} of {N}"
              f"{' (' + ', '.join(f'{k} {v}' for k, v in lost.most_common()) + ')' if lost else ''}; {took:.1f} s",
              flush=True)
        print(f"  {server_counts(server)}", flush=True)


def exception_of(outcome: Any) -> BaseException | None:
    if isinstance(outcome, BaseException):
        return outcome
    error = getattr(outcome, "error", None)
    return error if isinstance(error, BaseException) else None


def store_counts(home: Path) -> tuple[int, int]:
    """(image files under home/images, rows in the store's index)."""
    files = sum(1 for path in (home / "images").rglob("*") if path.is_file())
    with closing(sqlite3.connect(home / "index.sqlite")) as db:
        rows = db.execute("SELECT count(*) FROM images WHERE kind = 'image'").fetchone()[0]
    return files, rows


def with_kit() -> None:
    print(f"dalle_kit: kit.generate_many(requests, concurrency={CONCURRENCY}), {N} requests:", flush=True)
    kit_class, skip = engine()
    if skip is not None:
        print(f"  {skip}", flush=True)
        return
    home = Path(tempfile.mkdtemp(prefix="dalle-kit-storm-"))
    with Served(*SERVER) as server:
        kit = kit_class(api_key="sk-bench", base_url=server.url, home=home, quiet=True)
        try:
            start = time.perf_counter()
            result = kit.generate_many([{"prompt": p, **PARAMS} for p in prompts("kit")], concurrency=CONCURRENCY,
                                       progress=False)
            took = time.perf_counter() - start
        finally:
            kit.close()
        errors = [exception_of(o) for o in result.errors]
        moderated = sum(1 for o in result.errors
                        if getattr(o, "moderation", None) is not None or is_moderation(exception_of(o)))
        lost = Counter(type(exc).__name__ if exc is not None else "?" for exc in errors if not is_moderation(exc))
        lost_count = len(result.errors) - moderated
        files, rows = store_counts(home)
        sent_by_server = server.stats()["requests"].get(IMAGES, 0)
        moderation_sent = server.stats()["by_endpoint"].get(IMAGES, {}).get("400", 0)
        print(f"  images in the result {len(result.images)}, image files saved {files}, store rows {rows}", flush=True)
        print(f"  moderation refusals reported {moderated} (the server refused {moderation_sent}), LOST {lost_count} "
              f"of {N}{' (' + ', '.join(f'{k} {v}' for k, v in lost.most_common()) + ')' if lost else ''}; "
              f"{took:.1f} s", flush=True)
        print(f"  requests sent: {getattr(result, 'sent', '?')} (.sent), {sent_by_server} (server)", flush=True)
        print(f"  {server_counts(server)}", flush=True)


def main() -> None:
    bare_sdk()
    with_kit()


if __name__ == "__main__":
    main()
