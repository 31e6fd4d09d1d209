"""Helpers shared by tests/test_simulator_*.py: images, SDK clients, a served simulator, schema validation."""

from __future__ import annotations

import base64
import copy
import io
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import httpx2
import openai
from PIL import Image

from dalle_kit.simulator import Simulator

REPO = Path(__file__).resolve().parents[2]
OPENAPI = REPO / "tests" / "data" / "openai-images-openapi.json"  # vendored: the Images subset of the spec
BASE = "http://simulator.test/v1"


def png(size=(64, 64), color=(200, 80, 40, 255), mode="RGBA") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, color if mode == "RGBA" else color[:3]).save(buf, "PNG")
    return buf.getvalue()


def noisy_png(size=(256, 256), seed=0) -> bytes:
    """A photo-like input: every pixel different, so 'unchanged' is a strong claim."""
    buf = io.BytesIO()
    noise = Image.effect_noise(size, 80 + seed)
    Image.merge("RGB", (noise, noise.rotate(90), noise.transpose(Image.Transpose.FLIP_LEFT_RIGHT))).save(buf, "PNG")
    return buf.getvalue()


def decode(b64: str) -> Image.Image:
    img = Image.open(io.BytesIO(base64.b64decode(b64)))
    img.load()
    return img


def client(sim: Simulator, **kw) -> openai.OpenAI:
    return openai.OpenAI(api_key="sk-test", base_url=BASE, http_client=httpx2.Client(transport=sim.transport()), **kw)


def aclient(sim: Simulator, **kw) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key="sk-test", base_url=BASE,
                              http_client=httpx2.AsyncClient(transport=sim.async_transport()), **kw)


def raw(sim: Simulator, method: str, path: str, **kw) -> httpx2.Response:
    """A plain HTTP call through the in-process transport (no SDK)."""
    with httpx2.Client(transport=sim.transport(), base_url="http://simulator.test") as http:
        return http.request(method, path, **kw)


AUTH = {"Authorization": "Bearer sk-test"}


class Served:
    """``python -m dalle_kit serve --port 0`` (the ``dalle-kit serve`` command) in a subprocess; ``url`` is its
    /v1 base URL."""

    def __init__(self, tmp: Path, *args: str) -> None:
        self.log = tmp / f"served-{time.monotonic_ns()}.log"
        self.err = tmp / f"served-{time.monotonic_ns()}.err"
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        with self.log.open("wb") as out, self.err.open("wb") as err:  # the child keeps its own copies
            self.proc = subprocess.Popen([sys.executable, "-m", "dalle_kit", "serve", "--port", "0", *args],
                                         stdout=out, stderr=err, env=env, cwd=REPO)
        deadline = time.monotonic() + 20
        port = None
        while port is None:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"simulator did not start: {self.err.read_text()}")
            m = re.search(r"http://127\.0\.0\.1:(\d+)/v1", self.log.read_text())
            port = int(m.group(1)) if m else None
            time.sleep(0.05)
        self.root = f"http://127.0.0.1:{port}"
        self.url = self.root + "/v1"
        with urllib.request.urlopen(self.root + "/_simulator/stats", timeout=10) as r:  # readiness
            assert r.status == 200

    def stats(self) -> dict:
        with urllib.request.urlopen(self.root + "/_simulator/stats", timeout=10) as r:
            return json.load(r)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# -- the published OpenAPI document, adjusted only where it lags the SDK -------------------------------------------
def openapi_schemas() -> dict:
    """The spec's component schemas with the documented lags fixed; every change is listed here.

    The spec (2026-08-21) predates SDK 3.54, which wins where they disagree:
    - ImagesResponse.size: enum of the three fixed sizes; the SDK types it ``str`` ("WIDTHxHEIGHT, for example
      1536x864") because 2.x models take free-form sizes -> enum dropped.
    - ImagesResponse.quality: low/medium/high; the SDK adds ``xhigh`` and ``max`` (2.5 models) -> added.
    - ImagesResponse.output_format: png/webp/jpeg; the SDK adds ``gif`` and ``svg`` -> added.
    - Image{Gen,Edit}{Partial,Completed}Event.size: fixed sizes + auto; SDK: ``str`` -> enum dropped.
    - Image{Gen,Edit}{Partial,Completed}Event.quality: low/medium/high/auto; SDK adds xhigh/max -> added.
    """
    doc = json.loads(OPENAPI.read_text())
    schemas = copy.deepcopy(doc["components"]["schemas"])
    resp = schemas["ImagesResponse"]["properties"]
    resp["size"].pop("enum")
    resp["quality"]["enum"] += ["xhigh", "max"]
    resp["output_format"]["enum"] += ["gif", "svg"]
    for name in ("ImageGenPartialImageEvent", "ImageGenCompletedEvent", "ImageEditPartialImageEvent",
                 "ImageEditCompletedEvent"):
        props = schemas[name]["properties"]
        props["size"].pop("enum")
        props["quality"]["enum"] += ["xhigh", "max"]
    return schemas


def spec_validate(instance: dict, schema_name: str, schemas: dict | None = None) -> None:
    """Validate against ``#/components/schemas/<schema_name>`` with $ref resolution (raises on failure)."""
    import jsonschema

    root = {"$ref": f"#/components/schemas/{schema_name}", "components": {"schemas": schemas or openapi_schemas()}}
    jsonschema.Draft202012Validator(root).validate(instance)
