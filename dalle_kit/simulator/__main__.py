"""``python -m dalle_kit.simulator [--host H] [--port N] ...``: the same as ``dalle-kit serve``."""

from .server import serve_main

raise SystemExit(serve_main())
