"""``dalle-kit compare``: an X/Y/Z comparison grid from the command line, written as one labelled PNG (or HTML).

    dalle-kit compare "a white siamese cat" --x quality=low,medium,high --y style=natural,vivid -o grid.png

The plan (cells, refused cells with their reasons, calls and estimated cost) goes to stderr; above
``--confirm-above`` US dollars it asks first unless ``--yes``. Then the grid is written, one line per empty cell
is printed, and the summary. Exit codes as ``dalle-kit generate``: 2 bad input (nothing sent), 3 the API refused a
cell, 4 try again later, 5 the grid could not be written, 6 over ``--budget`` or not confirmed (nothing sent);
a grid partly made exits with the lowest code among its cells' failures (refused cells count as 2).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .cli import EXIT_CODES, classify

__all__ = ["add_parser", "run"]

FIXED = ("model", "size", "quality", "n", "output_format", "background", "moderation")


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the ``compare`` subcommand to the ``dalle-kit`` parser's subparsers."""
    cmp = sub.add_parser("compare", parents=[common], help="an X/Y/Z comparison grid as one labelled image",
                         description="Sweep up to three axes over one prompt and write the labelled grid (.png, "
                         ".jpg, .webp or .html). An axis is NAME=V1,V2,...: a parameter (quality, model, size, "
                         "background, output_format, moderation, n ...), style (library styles, or DALL·E 3's "
                         "natural/vivid as prompt words), preset, or prompt (search and replace: the first value's "
                         "first occurrence in the prompt is replaced by each value).")
    cmp.add_argument("prompt", metavar="PROMPT", help="the prompt every cell starts from")
    cmp.add_argument("--x", required=True, metavar="AXIS", help="columns, e.g. quality=low,medium,high")
    cmp.add_argument("--y", metavar="AXIS", help="rows, e.g. style=natural,vivid")
    cmp.add_argument("--z", metavar="AXIS", help="one grid per value, e.g. model=gpt-image-2,gpt-image-2.5-flare")
    cmp.add_argument("-o", "--output", default="grid.png", help="the grid file: .png, .jpg, .webp or .html "
                     "(default: grid.png)")
    cmp.add_argument("--model", help="model for every cell (unless an axis sweeps it)")
    cmp.add_argument("--size", help="e.g. 1536x1024 or auto")
    cmp.add_argument("--quality", help="low, medium, high, xhigh, max or auto (per model)")
    cmp.add_argument("-n", type=int, help="images per cell (the grid shows the first)")
    cmp.add_argument("--format", dest="output_format", help="png, webp or jpeg")
    cmp.add_argument("--background", help="transparent, opaque or auto")
    cmp.add_argument("--moderation", help="low or auto")
    cmp.add_argument("--offline", action="store_true", help="use the offline simulator even with a key")
    cmp.add_argument("--concurrency", type=int, default=8, metavar="N", help="requests in flight (default: 8)")
    cmp.add_argument("--fresh", action="store_true", help="send even when the store holds the answer")
    cmp.add_argument("--budget", type=float, metavar="USD",
                     help="refuse (exit 6, nothing sent) what could take today's spend past USD")
    cmp.add_argument("--confirm-above", type=float, default=0.50, metavar="USD",
                     help="ask before sending a grid estimated above USD (default: 0.50)")
    cmp.add_argument("-y", "--yes", action="store_true", help="send without asking")
    cmp.add_argument("-q", "--quiet", action="store_true", help="no plan, no progress bar, no simulator notice")


def _line(text: str, limit: int = 200) -> str:
    flat = "".join(c if c.isprintable() else " " for c in " ".join(str(text).split()))
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"


def run(args: argparse.Namespace) -> int:
    """Make the grid, write it to ``-o``, print the empty cells and the summary; return the exit code."""
    from .client import Kit
    from .compare import Declined, compare

    target = Path(args.output)
    if target.suffix.lower() not in (".png", ".jpg", ".jpeg", ".webp", ".html", ".htm"):
        print(f"dalle-kit: -o {_line(args.output)}: name a .png, .jpg, .webp or .html file (nothing was sent)",
              file=sys.stderr)
        return EXIT_CODES["invalid"]
    fixed = {k: v for k in FIXED if (v := getattr(args, k)) is not None}
    axes = {k: getattr(args, k) for k in ("x", "y", "z")}
    with Kit(offline=True if args.offline else None, quiet=args.quiet, budget=args.budget) as kit:
        grid = compare(kit, args.prompt, axes["x"], axes["y"], axes["z"], confirm=not args.yes,
                       confirm_above=args.confirm_above, progress=not args.quiet, fresh=args.fresh,
                       concurrency=args.concurrency, **fixed)
        codes: list[int] = []
        for key, outcome in grid.cells.items():
            if outcome.error is None:
                continue
            if isinstance(outcome.error, Declined):
                codes.append(EXIT_CODES["budget"])
                continue
            if outcome.source == "invalid" or outcome.moderation is not None:
                kind, reason = ("invalid" if outcome.source == "invalid" else "refused"), outcome.reason()
            else:
                kind, reason = classify(outcome.error)
            codes.append(EXIT_CODES[kind])
            print(f"[{_line(grid.label(key), 80)}]  {_line(reason)}")
        declined = any(isinstance(o.error, Declined) for o in grid.cells.values())
        if declined:
            print("dalle-kit: the grid was not confirmed, so nothing was sent; pass --yes to send it (or raise "
                  "--confirm-above)", file=sys.stderr)
        if not declined or grid.images:
            try:
                path = grid.save(target)
            except (OSError, ValueError) as exc:
                print(f"dalle-kit: cannot write {_line(str(target))}: {getattr(exc, 'strerror', None) or exc} (the "
                      "images are in the store)", file=sys.stderr)
                codes.append(EXIT_CODES["io"])
            else:
                print(path)
        print(grid.summary())
    return min(codes, default=EXIT_CODES["done"])
