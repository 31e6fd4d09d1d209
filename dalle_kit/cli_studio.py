"""``dalle-kit studio``: the studio app, one page served by Voilà (needs ``pip install "dalle_kit[studio]"``).

    dalle-kit studio                       # http://127.0.0.1:8866/ in your browser (or the next free port)
    dalle-kit studio --port 9000 --no-browser

Prompt craft, the generate panel with streaming previews, a comparison grid and the gallery on one page, built
by the notebook ``studio.ipynb`` and shown by Voilà without its code (no code can be run from the page). Without
``OPENAI_API_KEY`` the images come from the offline simulator, and the page says so.

The notebook: the repository's ``notebooks/studio.ipynb`` when dalle_kit runs from a checkout; else the copy
shipped inside the package (``dalle_kit/studio/studio.ipynb``, the same file), copied into dalle_kit's home
folder (``<home>/studio/``) so that the page's working folder, where exports land, is yours and not the
installation's.

It listens on 127.0.0.1 (this machine only). ``--host 0.0.0.0`` serves the room's network: anyone who reaches
the port can generate (with OPENAI_API_KEY set: on your key), so it then asks for a token, printed in the URL.
"""

from __future__ import annotations

import argparse
import importlib.util
import ipaddress
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from .hosts import is_loopback, port_type

__all__ = ["DEFAULT_PORT", "add_parser", "command", "run", "studio_notebook"]

DEFAULT_PORT = 8866  # Voilà's
NOTEBOOK = "studio.ipynb"
PACKAGED = Path(__file__).resolve().parent / "studio" / NOTEBOOK
_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                       r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    studio = sub.add_parser("studio", parents=[common], help="the studio app: prompt craft, generate, compare and "
                            "gallery on one page (needs dalle_kit[studio])", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    studio.add_argument("--port", type=port_type(), metavar="N",
                        help=f"port (default {DEFAULT_PORT}, or the next free one; a given port must be free)")
    studio.add_argument("--host", default="127.0.0.1", metavar="H",
                        help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 for the room's "
                        "network, with a token)")
    studio.add_argument("--no-browser", action="store_true", help="do not open a browser (print the URL only)")




def _check_host(host: str) -> str:
    from .errors import InvalidArgument

    bare = host.strip()
    try:
        ipaddress.ip_address(bare.strip("[]"))
        return bare.strip("[]")
    except ValueError:
        pass
    if not _HOSTNAME.match(bare):
        raise InvalidArgument(f"--host: {host!r} is not an address or a host name; use 127.0.0.1 (this machine "
                              "only) or 0.0.0.0 (every network this machine is on)")
    return bare


def studio_notebook(home: Path | None = None) -> Path:
    """The notebook to serve: the checkout's ``notebooks/studio.ipynb``, else the packaged copy, copied into
    ``<home>/studio/`` (rewritten when the package's differs) so the page works in the user's folder."""
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "notebooks" / NOTEBOOK).is_file():
        return checkout / "notebooks" / NOTEBOOK
    from .store import default_home
    from .store_files import atomic_write

    target = (default_home() if home is None else home) / "studio" / NOTEBOOK
    data = PACKAGED.read_bytes()
    if not target.is_file() or target.read_bytes() != data:
        atomic_write(target, data)
    return target


def command(args: argparse.Namespace, notebook: Path, host: str) -> list[str]:
    """The Voilà command line for ``args``: the notebook's code hidden, no tracebacks, no files served."""
    argv = [sys.executable, "-m", "voila", str(notebook), f"--Voila.ip={host}",
            f"--port={DEFAULT_PORT if args.port is None else args.port}", "--strip_sources=True",
            "--show_tracebacks=False", "--theme=light",
            # the notebook's folder holds other notebooks' outputs: serve none of its files (the page needs none;
            # no file's path is empty)
            "--VoilaConfiguration.file_allowlist=^$"]
    if args.port is not None:
        argv.append("--Voila.port_retries=0")  # the port asked for, or an error: never another one
    if args.no_browser:
        argv.append("--no-browser")
    if not is_loopback(host):
        argv.append("--token")  # reachable from the network: a generated token, printed in the URL
    return argv


def run(args: argparse.Namespace) -> int:
    from .cli import EXIT_CODES

    if importlib.util.find_spec("voila") is None:
        print('dalle-kit: Voilà is not installed: pip install "dalle_kit[studio]"', file=sys.stderr)
        return EXIT_CODES["invalid"]
    host = _check_host(args.host)
    if not is_loopback(host):
        bar, on_key = "!" * 78, " on YOUR OPENAI_API_KEY" if os.environ.get("OPENAI_API_KEY") else ""
        print(f"{bar}\ndalle-kit studio: WARNING: listening on {host}, not this machine only. Anyone who can "
              f"reach\nthis port can generate images{on_key} and read the gallery. A token is required\n"
              f"(it is in the URL printed below): share that URL only with the room.\n{bar}", file=sys.stderr)
    notebook = studio_notebook()
    if not os.environ.get("OPENAI_API_KEY"):
        print("dalle-kit studio: no OPENAI_API_KEY is set, so images come from the offline simulator.",
              file=sys.stderr)
    argv = command(args, notebook, host)
    sys.stdout.flush()
    sys.stderr.flush()
    if sys.platform != "win32":
        os.execv(sys.executable, argv)  # Voilà takes the process: Ctrl-C goes to it alone
    try:
        return subprocess.call(argv)
    except KeyboardInterrupt:
        return EXIT_CODES["interrupted"]
