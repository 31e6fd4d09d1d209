"""``dalle-kit lab``: JupyterLab on the notebooks, for a workshop (``pip install "dalle_kit[lab]"`` is enough).

It opens the repository's ``notebooks`` folder when dalle_kit runs from a checkout, else ``./notebooks`` when
there is one, else the current folder; with ``--host``/``--port`` for a server the class reaches, and with
JupyterLab's "Would you like to get notified about official Jupyter news?" prompt off: the setting
``@jupyterlab/apputils-extension:notification`` ``fetchNews`` defaults to ``"false"`` (a
``labconfig/default_setting_overrides.json`` on ``JUPYTER_CONFIG_PATH``; a choice the user saved still wins),
and ``--LabApp.news_url=None`` keeps the server from fetching the feed. Loaded only when used.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from .hosts import port_type

__all__ = ["NEWS_OFF", "add_parser", "command", "notebooks_folder", "run"]

#: The JupyterLab settings dalle-kit lab starts with (defaults: what the user saves in Settings wins).
NEWS_OFF = {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False}}


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    lab = sub.add_parser("lab", parents=[common], help="JupyterLab on the notebooks (needs dalle_kit[lab])",
                         description=__doc__)
    lab.add_argument("folder", nargs="?", help="the folder to open (default: the notebooks, see above)")
    lab.add_argument("--port", type=port_type(), metavar="N",
                     help="port (default: JupyterLab's, 8888 or the next free)")
    lab.add_argument("--host", metavar="H", help="address to listen on, e.g. 0.0.0.0 for a workshop server "
                     "(default: 127.0.0.1)")
    lab.add_argument("--no-browser", action="store_true", help="do not open a browser (print the URL only)")


def notebooks_folder(cwd: Path | None = None) -> Path:
    """The repository's ``notebooks`` (dalle_kit installed from a checkout), else ``./notebooks``, else ``.``."""
    cwd = Path.cwd() if cwd is None else cwd
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "notebooks").is_dir():
        return checkout / "notebooks"
    return cwd / "notebooks" if (cwd / "notebooks").is_dir() else cwd


def _config_dir() -> Path:
    """A Jupyter config folder holding the settings of ``NEWS_OFF`` (in dalle_kit's home, written each start)."""
    from .store import default_home
    from .store_files import atomic_write

    folder = default_home() / "jupyter-config"
    data = json.dumps(NEWS_OFF, indent=2).encode()
    target = folder / "labconfig" / "default_setting_overrides.json"
    if not target.is_file() or target.read_bytes() != data:
        atomic_write(target, data)
    return folder


def command(args: argparse.Namespace, folder: Path) -> list[str]:
    """The JupyterLab command line for ``args``."""
    argv = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={folder}", "--LabApp.news_url=None"]
    if args.port is not None:
        argv.append(f"--ServerApp.port={args.port}")
    if args.host:
        argv.append(f"--ServerApp.ip={args.host}")
    if args.no_browser:
        argv.append("--no-browser")
    if hasattr(os, "getuid") and os.getuid() == 0:
        argv.append("--allow-root")  # a container's root: JupyterLab refuses to start otherwise
    return argv


def run(args: argparse.Namespace) -> int:
    from .cli import EXIT_CODES
    from .errors import InvalidArgument

    if importlib.util.find_spec("jupyterlab") is None:
        print('dalle-kit: JupyterLab is not installed: pip install "dalle_kit[lab]"', file=sys.stderr)
        return EXIT_CODES["invalid"]
    folder = Path(args.folder) if args.folder else notebooks_folder()
    if not folder.is_dir():
        raise InvalidArgument(f"{folder} is not a folder")
    env = dict(os.environ)
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(p for p in (str(_config_dir()), env.get("JUPYTER_CONFIG_PATH"))
                                                 if p)
    argv = command(args, folder.resolve())
    sys.stdout.flush()
    sys.stderr.flush()
    if sys.platform != "win32":
        os.execve(sys.executable, argv, env)  # JupyterLab takes the process: Ctrl-C goes to it alone
    try:
        return subprocess.call(argv, env=env)
    except KeyboardInterrupt:
        return EXIT_CODES["interrupted"]
