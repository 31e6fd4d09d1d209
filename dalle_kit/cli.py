"""The ``dalle-kit`` command: ``models``, ``generate``, ``repair`` and ``serve``. Heavy modules load only when used.

Every error is one line saying what went wrong and how to fix it (plus the note dalle_kit adds to API
errors), never a traceback unless ``--debug`` asks for one. Exit codes: 0 done, 1 unexpected, 2 bad input
(refused before anything was sent), 3 the API refused the request, 4 try again later (rate limit, server
error, network), 5 the result could not be written (it is still in the store), 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .registry import DEFAULT_MODEL

__all__ = ["EXIT_CODES", "main"]

EXIT_CODES = {"done": 0, "unexpected": 1, "invalid": 2, "refused": 3, "later": 4, "io": 5, "interrupted": 130}


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
    gen = sub.add_parser("generate", parents=[common], help="generate images and save them with their provenance")
    gen.add_argument("prompt")
    gen.add_argument("-o", "--output", help="file or folder to save to (default: current folder)")
    gen.add_argument("--model", help=f"model id (default: {DEFAULT_MODEL})")
    gen.add_argument("--size", help="e.g. 1536x1024, 1536x864 or auto")
    gen.add_argument("--quality", help="low, medium, high, xhigh, max or auto (per model)")
    gen.add_argument("-n", type=int, help="number of images")
    gen.add_argument("--format", dest="output_format", help="png, webp or jpeg")
    gen.add_argument("--background", help="transparent, opaque or auto")
    gen.add_argument("--offline", action="store_true", help="use the offline simulator even with a key")
    sub.add_parser("repair", parents=[common], help="bring the image store's files and index into agreement "
                   "(after a crash; opening the store does it when it sees one)")
    # serve has its own parser, loaded only when used; it reads everything after the word, --help included
    sub.add_parser("serve", help="run the offline simulator as a loopback server (see: dalle-kit serve --help)",
                   add_help=False)
    return parser


def _generate(args: argparse.Namespace) -> int:
    from .client import Kit

    kit = Kit(offline=True if args.offline else None)
    params = {k: getattr(args, k) for k in ("model", "size", "quality", "n", "output_format", "background")}
    result = kit.generate(args.prompt, **{k: v for k, v in params.items() if v is not None})
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


def _report(exc: BaseException) -> int:
    """Print ``exc`` as one line (and its notes) and return the exit code for its kind."""
    import openai

    from .errors import DalleKitError

    if isinstance(exc, DalleKitError):
        kind, text = "invalid", str(exc)
    elif isinstance(exc, openai.APIError):
        later = (openai.RateLimitError, openai.InternalServerError, openai.APIConnectionError)
        kind = "later" if isinstance(exc, later) and exc.code != "insufficient_quota" else "refused"
        body = exc.body if isinstance(exc.body, dict) else {}
        status = getattr(exc, "status_code", None)
        code = f" ({exc.code})" if exc.code else ""
        text = f"the API answered {status}{code}: {body.get('message') or exc.message}" if status else exc.message
    elif isinstance(exc, OSError):
        kind, text = "io", exc.strerror or str(exc)
    else:
        kind, text = "unexpected", f"unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback)"
    lines = [f"dalle-kit: {' '.join(text.split())}"]
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
