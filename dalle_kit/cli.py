"""The ``dalle-kit`` command: ``models``, ``generate`` and ``serve``. Heavy modules load only when used."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .registry import DEFAULT_MODEL

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dalle-kit", description="Images with the OpenAI Images API, "
                                     "online or on the offline simulator (used when OPENAI_API_KEY is unset).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    models = sub.add_parser("models", help="the model registry: status, replacement, capabilities")
    models.add_argument("--current", action="store_true", help="hide retired models")
    models.add_argument("--refresh", action="store_true",
                        help="read shutdown dates from /v1/models first (the offline simulator without a key)")
    gen = sub.add_parser("generate", help="generate images and save them with their provenance")
    gen.add_argument("prompt")
    gen.add_argument("-o", "--output", help="file or folder to save to (default: current folder)")
    gen.add_argument("--model", help=f"model id (default: {DEFAULT_MODEL})")
    gen.add_argument("--size", help="e.g. 1536x1024, 1536x864 or auto")
    gen.add_argument("--quality", help="low, medium, high, xhigh, max or auto (per model)")
    gen.add_argument("-n", type=int, help="number of images")
    gen.add_argument("--format", dest="output_format", help="png, webp or jpeg")
    gen.add_argument("--background", help="transparent, opaque or auto")
    gen.add_argument("--offline", action="store_true", help="use the offline simulator even with a key")
    # serve has its own parser, loaded only when used; it reads everything after the word, --help included
    sub.add_parser("serve", help="run the offline simulator as a loopback server (see: dalle-kit serve --help)",
                   add_help=False)
    return parser


def _generate(args: argparse.Namespace) -> int:
    from .client import Kit
    from .errors import InvalidRequest

    kit = Kit(offline=True if args.offline else None)
    params = {k: getattr(args, k) for k in ("model", "size", "quality", "n", "output_format", "background")}
    try:
        result = kit.generate(args.prompt, **{k: v for k, v in params.items() if v is not None})
    except InvalidRequest as exc:
        print(f"dalle-kit: {exc}", file=sys.stderr)
        return 2
    results = list(result) if hasattr(result, "__len__") else [result]
    target = Path(args.output) if args.output else Path.cwd()
    for i, image in enumerate(results):
        if target.is_dir() or not args.output:
            path = image.save(target)
        else:
            path = image.save(target if len(results) == 1 else target.with_stem(f"{target.stem}-{i + 1}"))
        print(f"{path}  ({image.caption()})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args, rest = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    if args.command == "serve":
        from .simulator.server import serve_main

        return serve_main(rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command == "models":
        from .catalog import models

        print(models(include_retired=not args.current, refresh=args.refresh))
        return 0
    return _generate(args)


if __name__ == "__main__":
    sys.exit(main())
