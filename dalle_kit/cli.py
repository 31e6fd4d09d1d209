"""The ``dalle-kit`` command: ``models``, ``generate``, ``compare``, ``history``, ``spend``, ``repair``, ``serve``,
``pack``, ``batch`` and ``lab``. Heavy modules load only when used; several prompts, ``history`` and ``spend`` live
in :mod:`dalle_kit.cli_many`, ``compare`` in :mod:`dalle_kit.cli_compare`, ``pack`` in :mod:`dalle_kit.cli_pack`,
``batch`` in :mod:`dalle_kit.cli_batch`, ``lab`` in :mod:`dalle_kit.cli_lab`.

Every error is one line on stderr saying what went wrong and how to fix it (the note dalle_kit adds to API errors
on the same line), never a traceback unless ``--debug`` asks for one; a usage error is one line too, and so is
each warning. Exit codes: 0 done, 1 unexpected, 2 bad input
(refused before anything was sent), 3 the API refused the request, 4 try again later (rate limit, server
error, network, the batch's deadline), 5 the result could not be written (it is still in the store), 6 the
``--budget`` would be passed (nothing was sent), 130 interrupted. A reader of stdout that goes away
(``dalle-kit models | head``) ends the command silently with 5. A batch that is partly done exits with the
lowest code among its failures.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

from .registry import DEFAULT_MODEL

__all__ = ["EXIT_CODES", "main"]

EXIT_CODES = {"done": 0, "unexpected": 1, "invalid": 2, "refused": 3, "later": 4, "io": 5, "budget": 6,
              "interrupted": 130}
GENERATE_PARAMS = ("model", "size", "quality", "n", "output_format", "background")


def _flat(text: object) -> str:
    return " ".join(str(text).split())


def usage_error(prog: str, message: str) -> NoReturn:
    """A usage error as one line (argparse prints the whole usage block first), exit 2."""
    print(f"{prog}: {_flat(message)} (see {prog} --help)", file=sys.stderr)
    sys.exit(EXIT_CODES["invalid"])


class Parser(argparse.ArgumentParser):
    """argparse, with a usage error on one line. Subcommands' parsers (``sub.add_parser``) are of this class too."""

    def error(self, message: str) -> NoReturn:
        usage_error(self.prog, message)


def _parser() -> argparse.ArgumentParser:
    common = Parser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    parser = Parser(prog="dalle-kit", parents=[common], description="Images with the OpenAI "
                                     "Images API, online or on the offline simulator (used when OPENAI_API_KEY is "
                                     "unset).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    models = sub.add_parser("models", parents=[common], help="the model registry: status, replacement, capabilities")
    models.add_argument("--current", action="store_true", help="hide retired models")
    models.add_argument("--refresh", action="store_true",
                        help="read shutdown dates from /v1/models first (the offline simulator without a key)")
    gen = sub.add_parser("generate", parents=[common], help="generate images and save them with their provenance",
                         description="One prompt: its images are saved and listed. Several prompts (or --from): "
                         "they are sent a few at a time with a progress bar, then one line per image or failed "
                         "request and a summary with the cost.")
    gen.add_argument("prompts", nargs="*", metavar="PROMPT", help="one or more prompts")
    gen.add_argument("--from", dest="from_file", metavar="FILE",
                     help="read prompts from FILE, one a line (blank lines and # comments skipped; - is stdin)")
    gen.add_argument("-o", "--output", help="file or folder to save to (default: current folder; with several "
                     "prompts a folder, created if missing)")
    gen.add_argument("--model", help=f"model id (default: {DEFAULT_MODEL})")
    gen.add_argument("--size", help="e.g. 1536x1024, 1536x864 or auto")
    gen.add_argument("--quality", help="low, medium, high, xhigh, max or auto (per model)")
    gen.add_argument("-n", type=int, help="number of images per prompt")
    gen.add_argument("--format", dest="output_format", help="png, webp or jpeg")
    gen.add_argument("--background", help="transparent, opaque or auto")
    gen.add_argument("--offline", action="store_true", help="use the offline simulator even with a key")
    gen.add_argument("--concurrency", type=int, metavar="N", help="requests in flight at once (default: 8)")
    gen.add_argument("--images-per-minute", type=float, metavar="N",
                     help="pace the requests to N images a minute (default: the rate the API reports)")
    gen.add_argument("--fresh", action="store_true", help="send even when the store holds the answer")
    gen.add_argument("--budget", type=float, metavar="USD",
                     help="refuse (exit 6, nothing sent) what could take today's spend past USD")
    gen.add_argument("-q", "--quiet", action="store_true", help="no progress bar, no notice about the simulator")
    from .cli_compare import add_parser as add_compare

    add_compare(sub, common)
    from .cli_batch import add_parser as add_batch
    from .cli_pack import add_parser as add_pack

    add_pack(sub, common)
    add_batch(sub, common)
    from .cli_proxy import add_parser as add_proxy

    add_proxy(sub, common)
    from .cli_lab import add_parser as add_lab

    add_lab(sub, common)
    from .cli_studio import add_parser as add_studio

    add_studio(sub, common)
    history = sub.add_parser("history", parents=[common], help="the store's newest images")
    history.add_argument("--limit", type=int, default=20, metavar="N", help="how many (default: 20)")
    history.add_argument("--search", metavar="TEXT", help="only prompts that contain every word of TEXT")
    history.add_argument("--json", action="store_true", help="one JSON object a line (the store's records)")
    spend = sub.add_parser("spend", parents=[common], help="US dollars spent: today and per day")
    spend.add_argument("--days", type=int, default=7, metavar="N", help="how many days back (default: 7)")
    sub.add_parser("repair", parents=[common], help="bring the image store's files and index into agreement "
                   "(after a crash; opening the store does it when it sees one)")
    # serve has its own parser, loaded only when used; it reads everything after the word, --help included
    sub.add_parser("serve", help="run the offline simulator as a loopback server (see: dalle-kit serve --help)",
                   add_help=False)
    return parser


def _generate(args: argparse.Namespace) -> int:
    from . import cli_many
    from .client import Kit

    prompts = cli_many.read_prompts(args.prompts, args.from_file)
    params = {k: v for k in GENERATE_PARAMS if (v := getattr(args, k)) is not None}
    if len(prompts) > 1:
        return cli_many.generate_many(args, prompts, params)
    target = Path(args.output) if args.output else Path.cwd()
    if args.output and not target.suffix and not target.is_file():  # out/newdir: a folder, made before sending
        target = cli_many.folder(args.output)
    kit = Kit(offline=True if args.offline else None, quiet=args.quiet, budget=args.budget)
    result = kit.generate(prompts[0], fresh=args.fresh, **params)
    results = list(result) if hasattr(result, "__len__") else [result]
    for i, image in enumerate(results):
        into = target if target.is_dir() or not args.output else \
            target if len(results) == 1 else target.with_stem(f"{target.stem}-{i + 1}")
        try:
            path = image.save(into)
        except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
            kept = f"; the image is kept in the store at {image.stored_at}" if image.stored_at else ""
            print(f"dalle-kit: cannot write {into}: {getattr(exc, 'strerror', None) or exc}{kept}", file=sys.stderr)
            return EXIT_CODES["io"]
        print(f"{path}  ({image.caption()})")
    return 0


def classify(exc: BaseException) -> tuple[str, str]:
    """The kind of ``exc`` (a key of ``EXIT_CODES``) and one line saying what went wrong."""
    import openai

    from .errors import BudgetExceeded, DalleKitError, DalleKitWarning

    if isinstance(exc, BudgetExceeded):  # its fix names Kit(budget=...); here the option is --budget
        kind, text = "budget", str(exc).replace("Kit(budget=...)", "--budget USD")
    elif isinstance(exc, (DalleKitError, DalleKitWarning)):  # a warning arrives as an error under -W error
        kind, text = "invalid", str(exc)
    elif isinstance(exc, openai.APIError):
        later = (openai.RateLimitError, openai.InternalServerError, openai.APIConnectionError)
        kind = "later" if isinstance(exc, later) and exc.code != "insufficient_quota" else "refused"
        body = exc.body if isinstance(exc.body, dict) else {}
        status = getattr(exc, "status_code", None)
        code = f" ({exc.code})" if exc.code else ""
        text = f"the API answered {status}{code}: {body.get('message') or exc.message}" if status else exc.message
    elif isinstance(exc, TimeoutError):  # the batch's deadline (an OSError too, but no disk is involved)
        kind, text = "later", str(exc) or "timed out"
    elif isinstance(exc, OSError):
        kind, text = "io", exc.strerror or str(exc)
    else:
        kind, text = "unexpected", f"unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback)"
    return kind, " ".join(text.split())


def _report(exc: BaseException) -> int:
    """Print ``exc`` as one line, its notes (dalle_kit's advice) on the same line, and return the exit code."""
    kind, text = classify(exc)
    notes = [_flat(note).removeprefix("dalle_kit: ") for note in getattr(exc, "__notes__", ()) if isinstance(note, str)]
    print(" — ".join([f"dalle-kit: {text}", *(note for note in notes if note)]), file=sys.stderr)
    return EXIT_CODES[kind]


def _one_line_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                      file: Any = None, line: str | None = None) -> None:
    """``warnings.showwarning`` for the command: the message on one line, no source file and line."""
    print(f"dalle-kit: warning: {_flat(message)}", file=sys.stderr if file is None else file)


@contextlib.contextmanager
def _warnings_on_one_line() -> Iterator[None]:
    shown = warnings.showwarning
    warnings.showwarning = _one_line_warning
    try:
        yield
    finally:
        warnings.showwarning = shown


def terminal_width() -> int:
    """Columns of the terminal (``COLUMNS`` first; 100 when stdout is not a terminal)."""
    import shutil

    return max(20, shutil.get_terminal_size((100, 24)).columns)


def fit_table(header: Sequence[str], rows: Sequence[Sequence[str]], width: int, *, drop: Sequence[int] = (),
              keep_whole: Sequence[int] = (0,)) -> str:
    """``rows`` under ``header`` as columns two spaces apart, no line wider than ``width``: the widest cells are
    wrapped at spaces first (columns in ``keep_whole`` never), then the columns in ``drop`` are left out in that
    order, and if even that is too wide, each row becomes a block: its first cell, then the others indented."""
    import textwrap

    def render(columns: list[int]) -> str | None:
        natural = [max(len(r[c]) for r in [header, *rows]) for c in columns]
        least = [n if c in keep_whole else max(len(w) for r in [header, *rows] for w in r[c].split() or [""])
                 for c, n in zip(columns, natural)]
        widths = list(natural)
        room = width - 2 * (len(columns) - 1)
        while sum(widths) > room:
            shrinkable = [i for i, w in enumerate(widths) if w > least[i]]
            if not shrinkable:
                return None
            widest = max(shrinkable, key=lambda i: widths[i])
            widths[widest] -= 1
        lines: list[str] = []
        for number, r in enumerate([header, *rows]):
            cells = [textwrap.wrap(r[c], w, break_on_hyphens=False) or [""] for c, w in zip(columns, widths)]
            height = max(len(cell) for cell in cells)
            if height > 1 and number > 1 and lines[-1]:
                lines.append("")  # a wrapped row stands apart from its neighbours
            for k in range(height):
                parts = [(cell[k] if k < len(cell) else "").ljust(w) for cell, w in zip(cells, widths)]
                lines.append("  ".join(parts).rstrip())
            if height > 1 and 0 < number < len(rows):
                lines.append("")
        return "\n".join(lines)

    columns = list(range(len(header)))
    for dropped in [None, *drop]:
        if dropped is not None:
            columns.remove(dropped)
        table = render(columns)
        if table is not None:
            return table
    blocks = []
    for r in rows:
        block = textwrap.wrap(r[0], width, break_on_hyphens=False) or [""]
        for c in range(1, len(header)):
            block += textwrap.wrap(f"{header[c]}: {r[c]}", width, initial_indent="  ", subsequent_indent="    ",
                                   break_on_hyphens=False)
        blocks.append("\n".join(block))
    return "\n".join(blocks)


def _models(args: argparse.Namespace) -> int:
    """The registry as a table that fits the terminal; the dates line wrapped to it too."""
    import textwrap

    from .catalog import COLUMNS, models

    table = models(include_retired=not args.current, refresh=args.refresh)
    shown = ("model", "status", "endpoints", "quality", "n")
    picked = [COLUMNS.index(name) for name in shown]
    rows = [[row[i].replace(",", ", ") if name == "endpoints" else row[i] for i, name in zip(picked, shown)]
            for row in table.rows()]
    width = terminal_width()
    # under a tight fit quality goes first (models() in Python shows every column), then endpoints, then n
    print(fit_table(shown, rows, width, drop=(3, 2, 4)))
    print("\n".join(textwrap.wrap(str(table).splitlines()[-1], width, break_long_words=True)))
    return 0


def _quiet_stdout() -> None:
    """Point stdout at the null device: its reader has gone, and the interpreter's own flush at exit would print a
    second complaint."""
    import os

    with contextlib.suppress(OSError, ValueError, AttributeError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _serve(rest: list[str]) -> int:
    """``dalle-kit serve``: its options checked here first, so a usage error is one line too."""
    from .simulator.server import build_parser, serve_main

    check = build_parser()
    check.error = lambda message: usage_error(check.prog, message)  # type: ignore[method-assign]
    check.parse_args(rest)
    return serve_main(rest)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args, rest = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    debug = args.debug or "--debug" in rest
    with _warnings_on_one_line():
        return _run(parser, args, rest, debug)


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace, rest: list[str], debug: bool) -> int:
    try:
        if args.command == "serve":
            return _serve([a for a in rest if a != "--debug"])
        if rest:
            parser.error(f"unrecognized arguments: {' '.join(rest)}")
        if args.command == "repair":
            from .store import Store

            store = Store()
            report = store.last_repair if store.last_repair is not None else store.repair()
            print(f"{store.home}: {report}")
            return 0
        if args.command == "models":
            return _models(args)
        if args.command == "compare":
            from .cli_compare import run

            return run(args)
        if args.command == "batch":
            from .cli_batch import main as run_batch

            return run_batch(args)
        if args.command == "proxy":
            from .cli_proxy import run as run_proxy

            return run_proxy(args)
        if args.command == "pack":
            from .cli_pack import run as run_pack

            return run_pack(args)
        if args.command == "lab":
            from .cli_lab import run as run_lab

            return run_lab(args)
        if args.command == "studio":
            from .cli_studio import run as run_studio

            return run_studio(args)
        if args.command in ("history", "spend"):
            from . import cli_many

            return cli_many.history(args) if args.command == "history" else cli_many.spend(args)
        return _generate(args)
    except KeyboardInterrupt:
        print("dalle-kit: interrupted", file=sys.stderr)
        return EXIT_CODES["interrupted"]
    except BrokenPipeError:  # the reader of stdout went away (dalle-kit models | head): nothing to say
        if debug:
            raise
        _quiet_stdout()
        return EXIT_CODES["io"]
    except Exception as exc:  # every error becomes one line; --debug shows the traceback
        if debug:
            raise
        return _report(exc)


if __name__ == "__main__":
    sys.exit(main())
