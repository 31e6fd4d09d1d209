"""Shared by the benchmarks that need the served simulator (``dalle-kit serve``) in a subprocess.

Not a benchmark itself (``make bench`` runs it too; it does nothing then). ``Served(*serve_options, photo=False,
drawn=False)`` starts the real ``serve_main`` on a free port with ``--quiet``. Unless ``drawn=True``, it first
patches the simulator's ``output.encoded`` to answer every PNG request with one precomputed picture made unique per
answer by a tEXt chunk: the simulator's own flat 1024x1024 picture (~40 KB), or with ``photo=True`` a noisy
1536x1024 one (a few MB). So the server spends its time on the wire, not drawing: on a 2-core machine, drawing
eight pictures at once makes some answers come later than the latency, for every client alike, and the
benchmarks measure the clients.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
IMAGES = "POST /v1/images/generations"

SERVER = r"""
import sys

if sys.argv[1] in ("photo", "flat"):
    import io
    import itertools
    import struct
    import zlib

    from PIL import Image, ImageFilter

    from dalle_kit.simulator import output, render

    if sys.argv[1] == "photo":
        W, H = 1536, 1024
        # a photo-like picture: smooth colour gradients under fine grain (PNG compresses it poorly, as photos do)
        base = Image.linear_gradient("L").resize((W, H))
        tint = Image.radial_gradient("L").resize((W, H))
        grain = [Image.effect_noise((W, H), sigma) for sigma in (28, 32, 36)]
        channels = [Image.blend(Image.blend(base, tint, 0.3 * k), g.filter(ImageFilter.BoxBlur(k % 2)), 0.5)
                    for k, g in enumerate(grain)]
        buf = io.BytesIO()
        Image.merge("RGB", channels).save(buf, "PNG", compress_level=1)
        PICTURE = buf.getvalue()
    else:  # the simulator's own flat picture (1024x1024, low), drawn once
        PICTURE = render.encode(render.draw(render.Scene("a lighthouse", 1024, 1024, quality="low")), "png")
    HEAD, IEND = PICTURE[:-12], PICTURE[-12:]
    assert IEND[4:8] == b"IEND"
    counter = itertools.count()

    def text_chunk(data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + b"tEXt" + data + struct.pack(">I", zlib.crc32(b"tEXt" + data))

    real = output.encoded

    def encoded(job, index, seed):
        if job.output_format != "png":
            return real(job, index, seed)
        tag = f"{next(counter)}:{index}:{job.fingerprint}".encode()  # a different file for every answer
        return HEAD + text_chunk(b"Comment\x00" + tag) + IEND, None

    output.encoded = encoded
    print(f"{sys.argv[1]} {len(PICTURE)}", flush=True)
else:
    print("drawn", flush=True)

from dalle_kit.simulator.server import serve_main

sys.exit(serve_main(["--port", "0", "--quiet", *sys.argv[2:]]))
"""


def engine() -> tuple[Any, str | None]:
    """``(Kit, None)`` when ``Kit.generate_many`` exists, else ``(Kit or None, why the dalle_kit runs are skipped)``."""
    try:
        from dalle_kit import Kit
    except ImportError as exc:  # the engine's files may be half written while it is being built
        return None, f"dalle_kit runs skipped: importing dalle_kit.Kit failed ({exc})"
    if not hasattr(Kit, "generate_many"):
        return Kit, "dalle_kit runs skipped: Kit has no generate_many yet (the engine has not landed)"
    return Kit, None


class Served:
    """The served simulator in a subprocess; ``url`` is its /v1 base URL. Use as a context manager (stops it)."""

    def __init__(self, *options: str, photo: bool = False, drawn: bool = False) -> None:
        mode = "drawn" if drawn else "photo" if photo else "flat"
        self.proc = subprocess.Popen([sys.executable, "-c", SERVER, mode, *options],
                                     stdout=subprocess.PIPE, text=True, cwd=REPO,
                                     env={**os.environ, "PYTHONPATH": str(REPO)})
        try:
            assert self.proc.stdout is not None
            first = self.proc.stdout.readline().split()
            self.photo_bytes = int(first[1]) if photo and len(first) > 1 else 0
            line = self.proc.stdout.readline()
            m = re.search(r"http://127\.0\.0\.1:(\d+)/v1", line)
            if not m:
                raise RuntimeError(f"the simulator did not start: {line!r}")
        except BaseException:
            self.stop()
            raise
        self.root = f"http://127.0.0.1:{m.group(1)}"
        self.url = self.root + "/v1"

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.root + "/_simulator/stats", timeout=10) as r:
            return json.load(r)

    def reset(self) -> None:
        """Empty the server's counters and its 60 s rate-limit windows (``POST /_simulator/reset``): the budget its
        ``x-ratelimit-remaining-*`` headers report (250 images a minute unless ``--rate-limit``) starts full again,
        so a client that paces itself by them is not slowed by the runs before it."""
        request = urllib.request.Request(self.root + "/_simulator/reset", data=b"", method="POST",
                                         headers={"Authorization": "Bearer sk-bench"})
        with urllib.request.urlopen(request, timeout=10) as r:
            assert r.status == 200

    def image_requests(self) -> int:
        """Image requests the server has answered (or dropped) so far."""
        return int(self.stats()["requests"].get(IMAGES, 0))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def __enter__(self) -> Served:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
