"""The ``dalle-kit`` command's many-at-once parts: ``generate`` with several prompts (``Kit.generate_many``),
``history`` (the store's newest images) and ``spend`` (US dollars per day). Loaded only when used."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sqlite3
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

from .cli import EXIT_CODES, classify
from .errors import InvalidArgument

__all__ = ["folder", "generate_many", "history", "read_prompts", "report", "spend"]


def _line(text: str, limit: int | None = None) -> str:
    """``text`` on one line of printable characters (a prompt may hold newlines or terminal escapes)."""
    flat = "".join(c if c.isprintable() else " " for c in " ".join(str(text).split()))
    return flat if limit is None or len(flat) <= limit else flat[:limit - 1] + "…"


def read_prompts(given: list[str], from_file: str | None) -> list[str]:
    """The prompts on the command line, then those of ``from_file`` (one a line; blank lines and lines starting
    with ``#`` skipped; ``-`` is standard input). Raises ``InvalidArgument`` (exit 2) when there are none or the
    file cannot be read."""
    prompts = list(given)
    if from_file is not None:
        name = "standard input" if from_file == "-" else from_file
        try:
            if from_file == "-":
                if sys.stdin is None:
                    raise InvalidArgument("--from -: there is no standard input to read prompts from")
                stream: Any = sys.stdin
                raw = stream.buffer.read() if hasattr(stream, "buffer") else stream.read()
            else:
                raw = Path(from_file).read_bytes()
            text = raw.decode("utf-8-sig") if isinstance(raw, bytes) else raw
        except (OSError, ValueError) as exc:  # ValueError: a NUL in the name; UnicodeDecodeError
            why = "it is not UTF-8 text; save it as UTF-8" if isinstance(exc, UnicodeDecodeError) else \
                getattr(exc, "strerror", None) or str(exc)
            raise InvalidArgument(f"cannot read prompts from {_line(name)}: {why}") from None
        lines = [line.strip() for line in text.splitlines()]
        found = [line for line in lines if line and not line.startswith("#")]
        if not found and not prompts:
            raise InvalidArgument(f"{_line(name)} holds no prompt (one a line; blank lines and lines starting "
                                  "with # are skipped)")
        prompts += found
    if not prompts:
        raise InvalidArgument('give a prompt (dalle-kit generate "a lighthouse at dusk"), several, or '
                              "--from FILE with one a line")
    return prompts


def folder(output: str | None) -> Path:
    """Where a batch's images go: ``-o`` as a folder (created if missing), else the current folder."""
    if not output:
        return Path.cwd()
    folder = Path(output)
    if folder.exists() and not folder.is_dir():
        raise InvalidArgument(f"-o {_line(output)} is a file; with several prompts -o names a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (OSError, ValueError) as exc:
        raise InvalidArgument(f"cannot create the folder {_line(output)}: "
                              f"{getattr(exc, 'strerror', None) or exc} (nothing was sent)") from None
    return folder


def generate_many(args: argparse.Namespace, prompts: list[str], params: dict[str, Any]) -> int:
    """Send ``prompts`` through ``Kit.generate_many``, save the images into the ``-o`` folder, print one line per
    image or failed request and the summary; exit with the lowest code among the failures (0: none)."""
    from .client import Kit

    target = folder(args.output)
    options = {k: v for k in ("concurrency", "images_per_minute") if (v := getattr(args, k)) is not None}
    kit = Kit(offline=True if args.offline else None, quiet=args.quiet, budget=args.budget)
    result = kit.generate_many(prompts, progress=not args.quiet, fresh=args.fresh, **options, **params)
    return report(result, target)


def report(result: Any, folder: Path) -> int:
    """Save a ``ManyResult``'s images into ``folder``, print one line per image or failed request and the summary;
    return the lowest exit code among the failures (0: none)."""
    width = len(str(len(result)))
    codes: list[int] = []
    for outcome in result:
        number = f"{outcome.index + 1:>{width}}"
        if outcome.error is not None:
            if outcome.source == "invalid" or outcome.moderation is not None:
                kind, reason = ("invalid" if outcome.source == "invalid" else "refused"), outcome.reason()
            else:
                kind, reason = classify(outcome.error)
                reason = f"{outcome.source}: {reason}"
            codes.append(EXIT_CODES[kind])
            print(f"{number}  {_line(reason)}  — {_line(outcome.prompt or '', 60)}")
            continue
        for image in outcome.images:
            try:
                path = image.save(folder)
            except (OSError, ValueError) as exc:
                kept = f"; it is kept in the store at {image.stored_at}" if image.stored_at else ""
                codes.append(EXIT_CODES["io"])
                print(f"{number}  cannot write into {folder}: {getattr(exc, 'strerror', None) or exc}{kept}")
                continue
            print(f"{number}  {path}  ({image.caption()})")
    print(result.summary())
    return min(codes, default=EXIT_CODES["done"])


def _when(created: float) -> str:
    return dt.datetime.fromtimestamp(created).strftime("%Y-%m-%d %H:%M")


def history(args: argparse.Namespace) -> int:
    """The store's newest images, newest first: a table, or JSON lines with ``--json``."""
    from .store import Store

    if args.limit < 1:
        raise InvalidArgument(f"--limit must be 1 or more, got {args.limit}")
    from .gallery import search

    with Store() as store:  # the gallery's search: every word of --search in the prompt, through the indexes
        records = list(search(store, args.search or None, per_page=args.limit))
    if not records:
        found = f"no image whose prompt contains {args.search!r}" if args.search else "no images yet"
        hint = "" if args.search else ' (dalle-kit generate "a lighthouse at dusk" makes one)'
        print(f"{found} in the store at {store.home}{hint}", file=sys.stderr if args.json else sys.stdout)
        return 0
    if args.json:
        for record in records:
            when = dt.datetime.fromtimestamp(record["created"]).isoformat(timespec="seconds")
            print(json.dumps({"time": when, **record}, ensure_ascii=False, default=str))
        return 0
    rows = []
    for record in records:
        info = record.get("info") or {}
        size = info.get("size") or (info.get("request") or {}).get("size") or "?"
        rows.append((_when(record["created"]), _line(record.get("model") or "?"), f"{size} {record['format']}",
                     _line(record.get("prompt") or "", 40), record["path"]))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join([cell.ljust(w) for cell, w in zip(row, widths)] + [row[4]]))
    return 0


def spend(args: argparse.Namespace) -> int:
    """US dollars recorded in the store's spend ledger: today, then per day and backend (read-only)."""
    from .results import usd
    from .store import Store

    if args.days < 1:
        raise InvalidArgument(f"--days must be 1 or more, got {args.days}")
    today = dt.date.today()
    since = (today - dt.timedelta(days=args.days - 1)).isoformat()
    with Store() as store:  # opening it brings the index up to date; the query below only reads
        uri = f"{store.db_path.as_uri()}?mode=ro"
        with closing(sqlite3.connect(uri, uri=True)) as db:
            rows = db.execute("SELECT day, backend, COUNT(*), SUM(images), SUM(cost), SUM(cost IS NULL) FROM spend "
                              "WHERE day >= ? GROUP BY day, backend ORDER BY day DESC, backend", (since,)).fetchall()
    todays = [row for row in rows if row[0] == today.isoformat()]
    total = sum(row[4] or 0.0 for row in todays)
    where = ", ".join(f"{backend}: {usd(cost or 0.0)}" for _, backend, _, _, cost, _ in todays)
    print(f"today ({today.isoformat()}): {usd(total)}" + (f" ({where})" if where else "") + f" · store {store.home}")
    if not rows:
        print(f"nothing spent in the last {args.days} day{'s' if args.days != 1 else ''}")
    for day, backend, calls, images, cost, unknown in rows:
        extra = f"  ({unknown} of unknown price)" if unknown else ""
        print(f"{day}  {backend}  {usd(cost or 0.0):>8}  {calls} call{'s' if calls != 1 else ''}, "
              f"{images or 0} image{'s' if images != 1 else ''}{extra}")
    return 0
