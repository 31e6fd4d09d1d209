"""A participant's request body in, a checked :class:`~dalle_kit.request.Request` and its price out.

Two checks, both driven by the registry, before anything is reserved or sent: the API's own reading of the wire
(JSON or multipart, the Node SDK's ``image[]`` arrays, types, ranges; the simulator's server-side rules, so the
answer is the API's error body), then dalle_kit's pre-flight validation (the rules that name the fix). A request
either side refuses is answered 400 and never reaches the backend.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import costs, vocabulary
from ..errors import InvalidRequest, collected_warnings
from ..pacing import request_tokens
from ..request import Request
from ..simulator.forms import ApiError, Form, parse_body
from ..simulator.params import Reader
from ..simulator.rules import check
from ..simulator.uploads import _from_data_url
from ..validation import validate

__all__ = ["Checked", "preflight", "safety_id"]

_READ: dict[str, Callable[[Reader, str], Any]] = {"int": Reader.int, "bool": Reader.bool}


@dataclass(frozen=True)
class Checked:
    """A request ready to forward: what it asks, what it may cost at most, and dalle_kit's notes on it."""

    request: Request
    images: int  # images asked for
    tokens: int  # a high guess of the tokens it counts against the account's tokens per minute
    high: float | None  # the most it may cost, in USD (None: no price known)
    notes: tuple[str, ...] = ()

    @property
    def stream(self) -> bool:
        return bool(self.request.params.get("stream"))


def safety_id(room: str, name: str) -> str:
    """The ``safety_identifier`` sent for a participant: stable, and neither their name nor their token.

    OpenAI's moderation can then act on the one participant who misbehaves instead of the teacher's whole key."""
    return "dalle-kit-" + hashlib.sha256(f"{room}\0{name}".encode()).hexdigest()[:24]


def _images(form: Form) -> list[tuple[str | None, str, bytes]]:
    uploads = [u for u in form.uploads if u.field.split("[", 1)[0] in ("image", "images")]
    refs = form.values.get("images") if not form.multipart else None
    if isinstance(refs, list):
        for i, ref in enumerate(refs):
            if isinstance(ref, dict) and "file_id" in ref:
                raise ApiError(400, f"Invalid 'images[{i}]': this workshop proxy has no Files API; upload the image "
                               "(multipart) or pass image_url with a 'data:<mime>;base64,...' URL.",
                               param=f"images[{i}]", code="invalid_value")
            uploads.append(_from_data_url(ref, "images[]", f"images[{i}]"))
    return [(u.filename, u.content_type, u.data) for u in uploads]


def _named(upload: tuple[str | None, str, bytes], fallback: str) -> tuple[str, bytes, str]:
    filename, mimetype, data = upload
    return (filename or fallback, data, mimetype)


def _params(form: Form, endpoint: str) -> dict[str, Any]:
    """The given values, typed as the API reads them (multipart values arrive as strings)."""
    reader = Reader(form)
    out: dict[str, Any] = {}
    for row in vocabulary.rows(endpoint):
        if row.kind == "file" or not reader.given(row.name):
            continue
        read = _READ.get(row.kind)
        out[row.name] = read(reader, row.name) if read else form.values[row.name]
    files = {u.field.split("[", 1)[0]: u for u in form.uploads}
    for name in ("mask", "markup"):
        if name in files:
            u = files[name]
            out[name] = _named((u.filename, u.content_type, u.data), f"{name}.png")
    if endpoint != "generate":
        images = [_named(u, f"image-{i + 1}.png") for i, u in enumerate(_images(form))]
        out["image"] = images[0] if len(images) == 1 else images
    return out


def _validated(endpoint: str, today: dt.date | None, params: dict[str, Any]) -> Request:
    try:
        return validate(endpoint, today=today, **params)
    except InvalidRequest as exc:
        raise ApiError(400, str(exc), param=exc.param, code="invalid_value") from None


def preflight(endpoint: str, content_type: str | None, body: bytes, *, room: str, name: str,
              today: dt.date | None = None) -> Checked:
    """Check one request to ``endpoint`` ("generate" or "edit"). Raises :class:`ApiError` (400) when refused."""
    form = parse_body(content_type, body)
    _images(form)  # a Files API reference gets this proxy's own answer, not the simulator's
    job = check(form, endpoint, today=today)
    params = _params(form, endpoint)
    if "safety_identifier" in vocabulary.names(endpoint):
        params.pop("user", None)  # deprecated twin of safety_identifier; the proxy sets the participant's own
        params["safety_identifier"] = safety_id(room, name)
    with collected_warnings() as notes:
        try:
            request = validate(endpoint, today=today, **params)
        except InvalidRequest as exc:
            if exc.param != "safety_identifier" or "safety_identifier" not in params:
                raise ApiError(400, str(exc), param=exc.param, code="invalid_value") from None
            del params["safety_identifier"]  # a model that takes none: send without
            request = _validated(endpoint, today, params)
    estimate = costs.estimate(request)
    return Checked(request, images=job.n, tokens=request_tokens(request), high=estimate.high,
                   notes=tuple(notes))
