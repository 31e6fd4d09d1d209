"""Request bodies in, plain Python values out: JSON objects and ``multipart/form-data`` (via python-multipart).

Also home of :class:`ApiError`, the simulator's one way of saying no, rendered as the real API's
``{"error": {"message", "type", "param", "code"}}`` body.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

__all__ = ["ApiError", "Form", "Upload", "parse_body"]


@dataclass
class ApiError(Exception):
    """An error answer: HTTP status plus the fields of the API's error object."""

    status: int
    message: str
    type: str = "invalid_request_error"
    param: str | None = None
    code: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code,
                          **self.extra}}


@dataclass(frozen=True)
class Upload:
    """One uploaded file part."""

    field: str
    filename: str | None
    content_type: str
    data: bytes


@dataclass
class Form:
    """A parsed request body: ``values`` (JSON-typed, or strings for multipart) and uploaded files."""

    values: dict[str, Any]
    uploads: list[Upload]
    multipart: bool


def _bad_body(message: str) -> ApiError:
    return ApiError(400, message)


def parse_body(content_type: str | None, body: bytes) -> Form:
    """Parse a request body the way the API does: JSON object or multipart form. Raises :class:`ApiError`."""
    ctype, options = parse_options_header(content_type or "")
    if ctype == b"multipart/form-data":
        boundary = options.get(b"boundary")
        if not boundary:
            raise _bad_body("Invalid multipart body: missing boundary.")
        return _parse_multipart(boundary, body)
    if not body.strip():
        return Form({}, [], False)
    try:
        values = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise _bad_body(
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your "
            "HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. "
            "If you have trouble figuring out how to fix this, please contact us through our help center at "
            "help.openai.com.)") from None
    if not isinstance(values, dict):
        raise _bad_body("Invalid request body: expected a JSON object.")
    return Form(values, [], False)


class _Part:
    def __init__(self) -> None:
        self.headers: dict[str, str] = {}
        self.data = bytearray()
        self._field = bytearray()
        self._value = bytearray()


def _parse_multipart(boundary: bytes, body: bytes) -> Form:
    parts: list[_Part] = []
    current: list[_Part] = []

    def on_part_begin() -> None:
        current[:] = [_Part()]

    def on_part_data(data: bytes, start: int, end: int) -> None:
        current[0].data += data[start:end]

    def on_part_end() -> None:
        parts.append(current[0])

    def on_header_field(data: bytes, start: int, end: int) -> None:
        current[0]._field += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        current[0]._value += data[start:end]

    def on_header_end() -> None:
        part = current[0]
        part.headers[part._field.decode("latin-1").strip().lower()] = part._value.decode("latin-1").strip()
        part._field.clear()
        part._value.clear()

    parser = MultipartParser(boundary, callbacks={
        "on_part_begin": on_part_begin, "on_part_data": on_part_data, "on_part_end": on_part_end,
        "on_header_field": on_header_field, "on_header_value": on_header_value, "on_header_end": on_header_end,
    })
    try:
        parser.write(body)
        parser.finalize()
    except MultipartParseError as exc:
        raise _bad_body(f"Invalid multipart body: {exc}") from None

    values: dict[str, Any] = {}
    uploads: list[Upload] = []
    for part in parts:
        disposition, opts = parse_options_header(part.headers.get("content-disposition", ""))
        name = opts.get(b"name", b"").decode("utf-8", "replace")
        if disposition != b"form-data" or not name:
            raise _bad_body("Invalid multipart body: every part needs Content-Disposition: form-data; name=...")
        if b"filename" in opts:
            ctype, _ = parse_options_header(part.headers.get("content-type", "application/octet-stream"))
            uploads.append(Upload(name, opts[b"filename"].decode("utf-8", "replace"),
                                  ctype.decode("latin-1") or "application/octet-stream", bytes(part.data)))
        else:
            text = bytes(part.data).decode("utf-8", "replace")
            _nest(values, name, text)
    return Form(values, uploads, True)


def _nest(values: dict[str, Any], name: str, text: str) -> None:
    """``svg[reasoning][effort]=low`` -> ``{"svg": {"reasoning": {"effort": "low"}}}``; repeats become lists."""
    head, sep, rest = name.partition("[")
    keys = [head] + ([k.rstrip("]") for k in ("[" + rest).split("[")[1:]] if sep else [])
    target = values
    for key in keys[:-1]:
        nxt = target.get(key)
        if not isinstance(nxt, dict):
            nxt = target[key] = {}
        target = nxt
    last = keys[-1]
    if last in target:
        prev = target[last]
        target[last] = (prev if isinstance(prev, list) else [prev]) + [text]
    else:
        target[last] = text
