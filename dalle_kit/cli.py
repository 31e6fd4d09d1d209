"""The ``dalle-kit`` command: ``models``, ``generate``, ``compare``, ``history``, ``spend``, ``repair``, ``serve``,
``pack`` and ``batch``. Heavy modules load only when used; several prompts, ``history`` and ``spend`` live in
:mod:`dalle_kit.cli_many`, ``compare`` in :mod:`dalle_kit.cli_compare`, ``pack`` in :mod:`dalle_kit.cli_pack`,
``batch`` in :mod:`dalle_kit.cli_batch`.

Every error is one line saying what went wrong and how to fix it (plus the note dalle_kit adds to API
errors), never a traceback unless ``--debug`` asks for one. Exit codes: 0 done, 1 unexpected, 2 bad input
(refused before anything was sent), 3 the API refused the request, 4 try again later (rate limit, server
error, network, the batch's deadline), 5 the result could not be written (it is still in the store), 6 the
``--budget`` would be passed (nothing was sent), 130 interrupted. A batch that is partly done exits with the
lowest code among its failures.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .registry import DEFAULT_MODEL

__all__ = ["EXIT_CODES", "main"]

EXIT_CODES = {"done": 0, "unexpected": 1, "invalid": 2, "refused": 3, "later": 4, "io": 5, "budget": 6,
              "interrupted": 130}
GENERATE_PARAMS = ("model", "size", "quality", "n", "output_format", "background")


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    parser = argparse.ArgumentParser(prog="dalle-kit", parents=[common], description="Images with the OpenAI "
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
    kit = Kit(offline=True if args.offline else None, quiet=args.quiet, budget=args.budget)
    result = kit.generate(prompts[0], fresh=args.fresh, **params)
    results = list(result) if hasattr(result, "__len__") else [result]
    target = Path(args.output) if args.output else Path.cwd()
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
    """Print ``exc`` as one line (and its notes) and return the exit code for its kind."""
    kind, text = classify(exc)
    lines = [f"dalle-kit: {text}"]
    lines += [f"  {note}" for note in getattr(exc, "__notes__", ()) if isinstance(note, str)]
    print("\n".join(lines), file=sys.stderr)
    return EXIT_CODES[kind]


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args, rest = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    debug = args.debug or "--debug" in rest
    try:
        if args.command == "serve":
            from .simulator.server import serve_main

            return serve_main([a for a in rest if a != "--debug"])
        if rest:
            parser.error(f"unrecognized arguments: {' '.join(rest)}")
        if args.command == "repair":
            from .store import Store

            store = Store()
            report = store.last_repair if store.last_repair is not None else store.repair()
            print(f"{store.home}: {report}")
            return 0
        if args.command == "models":
            from .catalog import models

            print(models(include_retired=not args.current, refresh=args.refresh))
            return 0
        if args.command == "compare":
            from .cli_compare import run

            return run(args)
        if args.command == "batch":
            from .cli_batch import main as run_batch

            return run_batch(args)
        if args.command == "pack":
            from .cli_pack import run as run_pack

            return run_pack(args)
        if args.command in ("history", "spend"):
            from . import cli_many

            return cli_many.history(args) if args.command == "history" else cli_many.spend(args)
        return _generate(args)
    except KeyboardInterrupt:
        print("dalle-kit: interrupted", file=sys.stderr)
        return EXIT_CODES["interrupted"]
    except Exception as exc:  # every error becomes one line; --debug shows the traceback
        if debug:
            raise
        return _report(exc)


if __name__ == "__main__":
    sys.exit(main())
