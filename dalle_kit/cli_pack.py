"""``dalle-kit pack record | verify | info``: make a replay pack by running notebooks, check one, describe one.

``record`` executes each notebook (or every ``*.ipynb`` in a folder, in name order) with ``nbclient`` in its own
folder, with a fresh temporary ``DALLE_KIT_HOME`` shared by all of them: on the offline simulator without a key,
live with ``OPENAI_API_KEY``. Then it exports every answer they asked for into the pack.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "notebooks", "record", "run"]

_CLEARED = ("DALLE_KIT_REPLAY", "DALLE_KIT_REPLAY_STRICT")


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    pack = sub.add_parser("pack", parents=[common], help="replay packs: record from notebooks, verify, describe",
                          description="A replay pack answers notebooks' requests again with no key and no network "
                          "(DALLE_KIT_REPLAY=pack.zip).")
    actions = pack.add_subparsers(dest="action", required=True, metavar="ACTION")
    rec = actions.add_parser("record", parents=[common], help="run notebooks and export what they asked for")
    rec.add_argument("paths", nargs="+", metavar="NOTEBOOK_OR_FOLDER")
    rec.add_argument("-o", "--output", required=True, help="the pack: a .zip, or a new folder")
    rec.add_argument("--timeout", type=float, default=600, metavar="S", help="per cell (default: 600)")
    rec.add_argument("--offline", action="store_true", help="record on the simulator even with a key")
    for name, text in (("verify", "check every file of a pack against its manifest"),
                       ("info", "what a pack holds (verified first)")):
        one = actions.add_parser(name, parents=[common], help=text)
        one.add_argument("pack", metavar="PACK")
        if name == "info":
            one.add_argument("--json", action="store_true", help="as one JSON object")


def notebooks(paths: list[str]) -> list[Path]:
    """The notebooks named, folders expanded to their ``*.ipynb`` (checkpoints left out), each once."""
    from .errors import InvalidArgument

    found: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found += sorted(p for p in path.glob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
        elif path.suffix == ".ipynb" and path.is_file():
            found.append(path)
        else:
            raise InvalidArgument(f"pack record: {given} is neither a notebook (.ipynb) nor a folder of them")
    if not found:
        raise InvalidArgument(f"pack record: no notebooks in {', '.join(paths)}")
    return list(dict.fromkeys(p.resolve() for p in found))


@contextlib.contextmanager
def _environment(home: str, offline: bool) -> Iterator[None]:
    """The kernels' environment (they inherit it): the temporary home, no replay, no key when ``offline``."""
    saved = dict(os.environ)
    os.environ["DALLE_KIT_HOME"] = home
    for name in (*_CLEARED, *(("OPENAI_API_KEY",) if offline else ())):
        os.environ.pop(name, None)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def record(paths: list[str], output: str | os.PathLike[str], *, timeout: float = 600, offline: bool = False,
           echo: bool = True) -> Path:
    """Run the notebooks in a fresh store, then export every answer they received into the pack ``output``."""
    import nbclient
    import nbformat

    from .replay import export_pack
    from .store import Store

    books = notebooks(paths)
    with tempfile.TemporaryDirectory(prefix="dalle-kit-pack-") as home, _environment(home, offline):
        for book in books:
            started = time.perf_counter()
            nb = nbformat.read(book, as_version=4)
            client = nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                             resources={"metadata": {"path": str(book.parent)}})
            client.execute()
            if echo:
                print(f"ran {book.name} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        with Store(home) as store:
            return export_pack(store, output)


def run(args: argparse.Namespace) -> int:
    from .replay import Pack

    if args.action == "record":
        target = record(args.paths, args.output, timeout=args.timeout, offline=args.offline, echo=not args.debug)
        summary = Pack.load(target).summary()
        print(f"{target}: {summary['answers']} answers, {summary['images']} images, {summary['bytes']:,} bytes")
        return 0
    pack = Pack.load(args.pack)  # verifies every file; PackError (exit 2) names the problem
    summary = pack.summary()
    if args.action == "verify":
        print(f"{pack.path}: ok ({summary['images']} images, {summary['bytes']:,} bytes, every SHA-256 matches)")
        return 0
    if args.json:
        print(json.dumps(summary, sort_keys=True))
        return 0
    print(f"{pack.path}: {summary['format']} v{summary['version']}, made {summary['created']} by dalle_kit "
          f"{summary['dalle_kit']}")
    print(f"  {summary['answers']} answers, {summary['images']} images, {summary['bytes']:,} bytes")
    for what in ("models", "endpoints"):
        print(f"  {what}: " + ", ".join(f"{k} ({v})" for k, v in sorted(summary[what].items())))
    return 0
