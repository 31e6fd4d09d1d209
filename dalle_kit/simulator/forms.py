"""Request bodies in, plain Python values out: JSON objects and ``multipart/form-data`` (via python-multipart).

Also home of :class:`ApiError`, the simulator's one way of saying no, rendered as the real API's
``{"error": {"message", "type", "param", "code"}}`` body.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

__all__ = ["BAD_JSON", "MAX_JSON_CONTAINERS", "MAX_JSON_DEPTH", "ApiError", "Form", "Upload", "parse_body"]

# python-multipart logs a warning for each malformed body; here that is the client's mistake, answered with a 400.
logging.getLogger("python_multipart").addHandler(logging.NullHandler())


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


#: JSON nesting deeper than this is refused before parsing (the API's own bodies nest three levels at most)...
MAX_JSON_DEPTH = 64
#: ... and so are more arrays and objects than this (outside strings): each costs memory once parsed.
MAX_JSON_CONTAINERS = 10_000
BAD_JSON = ("We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP "
            "library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you "
            "have trouble figuring out how to fix this, please contact us through our help center at "
            "help.openai.com.)")
# A JSON string, or an unterminated one up to the end: always matches, in linear time.
_STRING = re.compile(r'"[^"\\]*(?:\\[\s\S]?[^"\\]*)*"?')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_PAIR = re.compile(r"\[\]|\{\}")  # one level per pass, whichever the bracket


def parse_body(content_type: str | None, body: bytes) -> Form:
    """Parse a request body the way the API does: a JSON object or a multipart form. Raises :class:`ApiError`.

    No ``Content-Type`` is read as JSON; any type but ``application/json`` (or ``...+json``) and
    ``multipart/form-data`` is refused with the API's 400 ``unsupported_content_type``.
    """
    try:
        ctype, options = parse_options_header(content_type or "")
    except ValueError:  # not latin-1
        ctype, options = b"?", {}
    if ctype == b"multipart/form-data":
        boundary = options.get(b"boundary")
        if not boundary:
            raise _bad_body("Invalid multipart body: missing boundary.")
        return _parse_multipart(boundary, body)
    if ctype and ctype != b"application/json" and not ctype.endswith(b"+json"):
        shown = (content_type or "")[:200]
        raise ApiError(400, f"Unsupported content type: '{shown}'. This API method only accepts 'application/json' "
                       f"or 'multipart/form-data' requests, but you specified the header 'Content-Type: {shown}'. "
                       "Please try again with a supported content type.", code="unsupported_content_type")
    if not body.strip():
        return Form({}, [], False)
    values = _load_json(body)
    if not isinstance(values, dict):
        raise _bad_body("Invalid request body: expected a JSON object.")
    return Form(values, [], False)


def _no_constant(name: str) -> Any:
    raise _bad_body(BAD_JSON)  # NaN, Infinity, -Infinity: Python's extensions, not JSON


def _load_json(body: bytes) -> Any:
    """``json.loads`` without its extensions (NaN, Infinity) and within ``MAX_JSON_DEPTH`` and
    ``MAX_JSON_CONTAINERS``; anything else is the API's 400 for bad JSON."""
    try:
        text = body.decode(json.detect_encoding(body), "surrogatepass")
        if not _too_deep(text):
            return json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        pass
    raise _bad_body(BAD_JSON)


def _too_deep(text: str) -> bool:
    """True when the JSON ``text`` nests deeper than ``MAX_JSON_DEPTH``, holds more than ``MAX_JSON_CONTAINERS``
    arrays and objects, or its brackets do not match. No recursion, and linear work: strings out, brackets kept,
    then at most ``MAX_JSON_DEPTH`` passes over those (each removes the innermost pairs)."""
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return False
    skeleton = _NOT_BRACKET.sub("", _STRING.sub("", text))
    if len(skeleton) > 2 * MAX_JSON_CONTAINERS:
        return True
    for _ in range(MAX_JSON_DEPTH):
        if not skeleton:
            return False
        skeleton = _PAIR.sub("", skeleton)
    return bool(skeleton)


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
    if len(keys) > MAX_JSON_DEPTH:
        raise _bad_body(f"Invalid multipart body: a field name may nest at most {MAX_JSON_DEPTH} levels.")
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
