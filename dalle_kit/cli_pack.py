"""``dalle-kit pack record | verify | info``: make a replay pack by running notebooks, check one, describe one.

``record`` executes each notebook (or every ``*.ipynb`` in a folder, in name order) with ``nbclient`` in its own
folder, with a fresh temporary ``DALLE_KIT_HOME`` shared by all of them: on the offline simulator without a key,
live with ``OPENAI_API_KEY``. Then it exports every answer they asked for into the pack. ``--batch`` sends what
a dry run shows they ask for through the Batch API first (half the price; see :func:`record`).
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
    rec.add_argument("--batch", action="store_true", help="send what a dry run shows the notebooks ask for through "
                     "the Batch API first (half the price); what depends on earlier answers is then made live")
    rec.add_argument("--poll", type=float, default=30.0, metavar="S", help="with --batch: seconds between polls")
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


def _execute(books: list[Path], timeout: float, echo: bool) -> None:
    import nbclient
    import nbformat

    for book in books:
        started = time.perf_counter()
        nb = nbformat.read(book, as_version=4)
        client = nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                         resources={"metadata": {"path": str(book.parent)}})
        client.execute()
        if echo:
            print(f"ran {book.name} in {time.perf_counter() - started:.1f} s", file=sys.stderr)


def record(paths: list[str], output: str | os.PathLike[str], *, timeout: float = 600, offline: bool = False,
           batch: bool = False, poll: float = 30.0, echo: bool = True) -> Path:
    """Run the notebooks in a fresh store, then export every answer they received into the pack ``output``.

    ``batch``: first run them on the simulator (a dry run) to learn what they ask for, and send those requests
    that do not depend on an earlier answer through the Batch API; the real run then finds them in the store and
    makes only the rest (an edit of an image made before, a streamed preview) one by one."""
    from .replay import export_pack
    from .store import Store

    books = notebooks(paths)
    with tempfile.TemporaryDirectory(prefix="dalle-kit-pack-") as home, _environment(home, offline):
        if batch:
            _batch_first(books, timeout=timeout, poll=poll, echo=echo)
        _execute(books, timeout, echo)
        with Store(home) as store:
            return export_pack(store, output)


def _batch_first(books: list[Path], *, timeout: float, poll: float, echo: bool) -> None:
    """The dry run, then one Batch job per endpoint for the requests it found that stand on their own."""
    from .client import Kit
    from .errors import DalleKitError
    from .recall import recall
    from .store import Store

    with tempfile.TemporaryDirectory(prefix="dalle-kit-dry-run-") as dry:
        with _environment(dry, offline=True):
            _execute(books, timeout, echo=False)
        with Store(dry) as store, Kit(quiet=True) as kit:  # the kit: this run's home, its key (or the simulator)
            rows = store.query("SELECT * FROM images WHERE kind = 'image' AND missing IS NULL ORDER BY id")
            made = {row["sha256"] for row in rows}
            wanted: dict[str, dict[str, list[Any]]] = {"generate": {}, "edit": {}}
            for row in rows:
                described = row["info"].get("request") or {}
                inputs = [d for name in ("image", "mask", "markup") for d in _listed(described.get(name))]
                if described.get("stream") or any(d.get("sha256") in made for d in inputs):
                    continue  # a stream cannot be a Batch line; an edit of an answer waits for that answer
                try:
                    request = recall(kit, row["info"], store=store)
                except DalleKitError:
                    continue  # its inputs are not in the dry run's store: the real run makes it
                if request.endpoint in wanted:
                    wanted[request.endpoint].setdefault(request.key, [request])
            for endpoint, found in wanted.items():
                if found:
                    job = kit.batch([r for (r,) in found.values()], endpoint=endpoint)
                    result = job.collect(poll=poll, progress=echo)
                    if echo:
                        print(f"Batch API: {len(found)} {endpoint} requests, job {job.id}: {result.summary()}",
                              file=sys.stderr)


def _listed(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        return [value]
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def run(args: argparse.Namespace) -> int:
    from .replay import Pack

    if args.action == "record":
        target = record(args.paths, args.output, timeout=args.timeout, offline=args.offline, batch=args.batch,
                        poll=args.poll, echo=not args.debug)
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
