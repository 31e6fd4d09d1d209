"""What Kit adds on top of a bare SDK call, per image: validation, input handling, the store write, the result.

Both sides send the same requests through the same in-process simulator and do the same work with the answer:
the bare side decodes the Base64 and writes each image to a file, as a script would; Kit also stores it (hash,
fsync of file, folder and index row) and builds its result. The time spent inside the transport (the simulator
drawing, and here answering) is measured and taken out: what is left is client work. Rounds are interleaved
(Kit, bare, Kit, bare...) so the machine's moods fall on both alike. Two kinds of images: the simulator's own
(flat drawings: small PNGs) and photo-like 1536x1024 PNGs of a few MB (noise over gradients, made once here and
made unique per answer with a text chunk, since the simulator draws flat pictures and Kit's store dedupes).
Prints medians in ms and ratios (these machines are noisy; compare ratios). Run:
.venv/bin/python benchmarks/kit_overhead.py
"""

from __future__ import annotations

import base64
import io
import itertools
import json
import os
import shutil
import statistics
import struct
import tempfile
import time
import zlib
from pathlib import Path

import httpx2
import numpy as np
import openai
from PIL import Image

from dalle_kit import Kit, Simulator, validate

SMALL = {"model": "gpt-image-2.5-flare", "size": "1024x1024", "quality": "low"}
PHOTO = {"model": "gpt-image-2.5-flare", "size": "1536x1024", "quality": "low"}


def photo_png(seed: int = 1) -> bytes:
    """A noisy 1536x1024 RGB picture with gradients: compresses like a photo (a few MB as PNG)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:1024, 0:1536]
    base = np.stack([x / 6, y / 4, (x + y) / 10], axis=-1)
    pixels = np.clip(base + rng.normal(0, 18, (1024, 1536, 3)), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, format="PNG")
    return buffer.getvalue()


class Answering(httpx2.BaseTransport):
    """The simulator's transport, timed (``spent``); with ``photo``, each image in its answers replaced by the
    photo-like PNG made unique (a tEXt chunk before IEND), Base64 encoded as the API sends it."""

    def __init__(self, inner: httpx2.BaseTransport, photo: bytes | None) -> None:
        self.inner, self.spent, self.serial = inner, 0.0, itertools.count()
        if photo is not None:
            head = photo[:-12]  # all but IEND
            cut = len(head) - len(head) % 3  # Base64 of the common part computed once
            self.head64, self.tail = base64.b64encode(head[:cut]).decode(), head[cut:]
        self.photo = photo

    def _unique(self) -> str:
        text = b"Comment\0" + str(next(self.serial)).encode()
        chunk = struct.pack(">I", len(text)) + b"tEXt" + text + struct.pack(">I", zlib.crc32(b"tEXt" + text))
        iend = struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
        return self.head64 + base64.b64encode(self.tail + chunk + iend).decode()

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        start = time.perf_counter()
        response = self.inner.handle_request(request)
        response.read()
        if self.photo is not None and response.status_code == 200:
            body = json.loads(response.content)
            for item in body.get("data", []):
                item["b64_json"] = self._unique()
            headers = [(k, v) for k, v in response.headers.items() if k.lower() not in ("content-length",
                                                                                         "content-encoding")]
            response = httpx2.Response(200, headers=headers, content=json.dumps(body).encode())
        self.spent += time.perf_counter() - start
        return response

    def close(self) -> None:
        self.inner.close()


def client_work(fn, transport: Answering, images: int) -> float:
    """Seconds of client work per image of one call of ``fn``: its time less the transport's."""
    spent, start = transport.spent, time.perf_counter()
    fn()
    return (time.perf_counter() - start - (transport.spent - spent)) / images


def compare(label: str, params: dict, photo: bytes | None, rounds: int, n: int) -> float:
    """Kit and the bare SDK, interleaved rounds; prints per-image client work; returns a bare call's seconds."""
    sim = Simulator(seed=1)
    transports: list[Answering] = []
    real_transport = sim.transport

    def transport() -> Answering:  # what Kit (and the bare client) get from the simulator
        transports.append(Answering(real_transport(), photo))
        return transports[-1]

    sim.transport = transport  # type: ignore[method-assign]
    bare_http = httpx2.Client(transport=transport())
    sdk = openai.OpenAI(api_key="sk-bench", base_url="http://simulator.invalid/v1", http_client=bare_http)
    out = Path(tempfile.mkdtemp(prefix="dalle-kit-bench-bare-"))
    kit = Kit(offline=True, simulator=sim, quiet=True)
    bare_transport, kit_transport = transports[0], transports[-1]

    def bare(i: int) -> None:  # what a script does with the answer: decode each image and write it to a file
        answer = sdk.images.generate(prompt=f"{label}: a lighthouse {i}", n=n, **params)
        for k, item in enumerate(answer.data or []):
            (out / f"{i}-{k}.png").write_bytes(base64.b64decode(item.b64_json or ""))

    def full(i: int) -> None:
        kit.generate(f"{label}: a lighthouse {i}", n=n, **params)

    bare(-1), full(-1)  # warm up: imports, first connections, the SDK's first parse
    samples: dict[str, list[float]] = {"kit": [], "bare": []}
    for i in range(rounds):
        samples["kit"].append(client_work(lambda i=i: full(i), kit_transport, n))
        samples["bare"].append(client_work(lambda i=i: bare(i), bare_transport, n))
    call = statistics.median(_call_seconds(bare, bare_transport, rounds))
    kit.close()
    kit.store.close()
    sdk.close()
    shutil.rmtree(out)
    shutil.rmtree(kit.store.home)
    k, b = statistics.median(samples["kit"]) * 1000, statistics.median(samples["bare"]) * 1000
    size = len(base64.b64decode(Answering(real_transport(), photo)._unique())) if photo else None
    what = f"{params['size']} photo-like PNG, {size / 1e6:.1f} MB" if size else f"{params['size']} simulator PNG"
    print(f"{what} (n={n}, median of {rounds} interleaved rounds), client work per image:")
    print(f"  bare SDK (decode + write file): {b:7.2f} ms")
    print(f"  Kit.generate:                   {k:7.2f} ms   Kit / bare: {k / b:.2f}x   Kit adds {k - b:.2f} ms")
    return call


def _call_seconds(bare, transport: Answering, rounds: int) -> list[float]:
    """Whole bare calls, transport included (the yardstick for validate())."""
    samples = []
    for i in range(rounds):
        start = time.perf_counter()
        bare(1000 + i)
        samples.append(time.perf_counter() - start)
    return samples


def main() -> None:
    os.environ["DALLE_KIT_HOME"] = tempfile.mkdtemp(prefix="dalle-kit-bench-")
    call = compare("small", SMALL, None, rounds=20, n=2)
    compare("photo", PHOTO, photo_png(), rounds=8, n=2)
    samples = []
    for i in range(2000):
        start = time.perf_counter()
        validate("generate", prompt=f"a lighthouse {i}", **SMALL)
        samples.append(time.perf_counter() - start)
    check = statistics.median(samples)
    print(f"validate() alone: {check * 1e6:.0f} µs = {check / call:.4f} of a whole bare call on the simulator")
    shutil.rmtree(os.environ["DALLE_KIT_HOME"], ignore_errors=True)


if __name__ == "__main__":
    main()
