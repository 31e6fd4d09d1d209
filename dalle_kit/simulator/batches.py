"""The Files API (``/v1/files``) and the Batch API (``/v1/batches``) for image jobs, kept in memory.

Files: ``POST /v1/files`` (multipart: ``file`` and ``purpose`` ``batch``, ``vision`` or ``user_data``; a ``batch``
file must be named ``*.jsonl``), ``GET /v1/files`` (``purpose``, ``order``, ``limit``, ``after``),
``GET /v1/files/{id}``, ``GET /v1/files/{id}/content`` and ``DELETE /v1/files/{id}``. A file may be at most
``file_max_bytes`` (default 200 MB, the API's limit for batch input; beyond: 413 ``file_too_large``). The store
is bounded: at most ``files_max_count`` files and ``files_max_bytes`` bytes in all (defaults 1,000 and 512 MB);
beyond, the oldest files are evicted (a running batch keeps its own copy of its input). Nothing is written to disk.

Batches: ``POST /v1/batches`` (``input_file_id`` of a ``batch`` file, ``endpoint`` ``/v1/images/generations`` or
``/v1/images/edits`` (the simulator batches nothing else: 400 ``invalid_value``), ``completion_window`` ``24h``,
``metadata`` at most 16 string pairs), ``GET /v1/batches`` (newest first; ``limit`` 1-100, default 20,
``after``), ``GET /v1/batches/{id}`` and ``POST /v1/batches/{id}/cancel`` (a finished batch: 400 "Cannot cancel a
batch with status '...'", our choice: the real status is not documented, and the SDK would retry a 409). Unknown
ids: 404 ``No such File object: ...`` / ``No batch found with id '...'``. A batch moves through ``validating``
(the whole file is checked: a line that is not a JSON object with ``custom_id``, ``method: POST``, the batch's
``url`` and a ``body`` object, or a repeated ``custom_id``, fails the batch with ``errors.data[{code, line,
message, param}]``, 1-based physical line numbers; codes, our names: ``invalid_json_line``,
``missing_required_parameter``, ``duplicate_custom_id``, ``invalid_method``, ``mismatched_url``, ``empty_file``,
``too_many_requests`` over 50,000 lines; at most 1,000 are listed), ``in_progress`` (one line at a time,
``request_counts`` updated as each is done), ``finalizing`` and ``completed``; ``cancelling`` -> ``cancelled``
keeps what was done.
Every step (validating, each line, finalizing) takes ``batch_seconds_per_line`` (default 0.01 s) in a background
thread that exists only while a batch is active; ``batch_seconds_per_line=None`` runs nothing by itself, and
``sim.run_batches(steps)`` advances the batches in the caller's thread (clock-free tests).

Each line is answered as a live JSON request would be (same parser, account state, rules, moderation and
pictures; no latency, injected faults or per-minute limits: the Batch API queues its own work). Edits take
``images: [{"file_id": ...}]`` (or ``{"image_url": "data:..."}``) and ``mask: {"file_id": ...}``; streaming and
the legacy DALL·E models are refused per line. A 200 answer becomes an output line
``{"id": "batch_req_...", "custom_id", "response": {"status_code": 200, "request_id", "body": ImagesResponse},
"error": null}``; a 4xx (validation, moderation, account) or a failure injected with ``batch_fail_lines`` (custom
ids, or 1-based line numbers) / ``batch_fail_rate`` (500 ``server_error``) becomes an error-file line of the same
shape with that status and the API's error body. Output and error files are ``batch_output`` files named
``{batch id}_output.jsonl`` / ``_error.jsonl`` (only when they have lines); the batch carries their ids,
``request_counts``, ``usage`` (summed over the images made) and every timestamp. At most 1,000 batches are kept
(the oldest finished ones are forgotten).
"""

from __future__ import annotations

import base64
import json
import random
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from ..errors import InvalidArgument
from .forms import ApiError, Form, _load_json

__all__ = ["BATCH_ENDPOINTS", "FILE_PURPOSES", "BatchStore", "FileStore"]

_MB = 1024 * 1024
BATCH_ENDPOINTS = {"/v1/images/generations": "generate", "/v1/images/edits": "edit"}
FILE_PURPOSES = ("batch", "vision", "user_data")
MAX_BATCH_LINES = 50_000
MAX_BATCHES = 1_000
MAX_LINE_ERRORS = 1_000
_ACTIVE = ("validating", "in_progress", "finalizing", "cancelling")


def _query(query: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}


def _limit(raw: str | None, default: int, maximum: int) -> int:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"Invalid 'limit': expected an integer, but got '{raw[:50]}' instead.", param="limit",
                       code="invalid_type") from None
    if value < 1:
        raise ApiError(400, f"Invalid 'limit': integer below minimum value. Expected a value >= 1, but got {value} "
                       "instead.", param="limit", code="integer_below_min_value")
    if value > maximum:
        raise ApiError(400, f"Invalid 'limit': integer above maximum value. Expected a value <= {maximum}, but got "
                       f"{value} instead.", param="limit", code="integer_above_max_value")
    return value


def _page(items: list[dict[str, Any]], after: str | None, limit: int) -> dict[str, Any]:
    """A cursor page (``after`` = the last id seen) in the API's list shape."""
    if after:
        ids = [item["id"] for item in items]
        items = items[ids.index(after) + 1:] if after in ids else []
    data = items[:limit]
    return {"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None, "has_more": len(items) > limit}


# -- files ----------------------------------------------------------------------------------------------------------
@dataclass
class StoredFile:
    id: str
    filename: str
    purpose: str
    data: bytes
    content_type: str
    created_at: int

    def obj(self) -> dict[str, Any]:
        return {"id": self.id, "object": "file", "bytes": len(self.data), "created_at": self.created_at,
                "filename": self.filename, "purpose": self.purpose, "status": "processed", "expires_at": None,
                "status_details": None}


def _sniff(data: bytes, declared: str) -> str:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return declared


class FileStore:
    """Uploaded and produced files, in memory: bounded by count and total bytes, oldest evicted first."""

    def __init__(self, new_id: Callable[[str], str], *, max_file_bytes: int, max_total_bytes: int,
                 max_count: int) -> None:
        if min(max_file_bytes, max_total_bytes, max_count) < 1:
            raise InvalidArgument("file_max_bytes, files_max_bytes and files_max_count must be at least 1")
        self._new_id = new_id
        self.max_file_bytes = max_file_bytes
        self.max_total_bytes = max_total_bytes
        self.max_count = max_count
        self._lock = threading.Lock()
        self._files: OrderedDict[str, StoredFile] = OrderedDict()
        self._bytes = 0
        self.evicted = 0

    def add(self, data: bytes, filename: str, purpose: str, content_type: str = "application/octet-stream"
            ) -> StoredFile:
        entry = StoredFile(self._new_id("file-"), filename, purpose, data, content_type, int(time.time()))
        with self._lock:
            self._files[entry.id] = entry
            self._bytes += len(data)
            while len(self._files) > 1 and (len(self._files) > self.max_count or
                                            self._bytes > self.max_total_bytes):
                _, old = self._files.popitem(last=False)
                self._bytes -= len(old.data)
                self.evicted += 1
        return entry

    def get(self, file_id: str) -> StoredFile:
        with self._lock:
            entry = self._files.get(file_id)
        if entry is None:
            raise ApiError(404, f"No such File object: {file_id}", param="id")
        return entry

    def delete(self, file_id: str) -> dict[str, Any]:
        with self._lock:
            entry = self._files.pop(file_id, None)
            if entry is not None:
                self._bytes -= len(entry.data)
        if entry is None:
            raise ApiError(404, f"No such File object: {file_id}", param="id")
        return {"id": file_id, "object": "file", "deleted": True}

    def stats(self) -> dict[str, Any]:
        with self._lock:
            purposes = Counter(f.purpose for f in self._files.values())
            return {"count": len(self._files), "bytes": self._bytes, "by_purpose": dict(purposes),
                    "evicted": self.evicted}

    # -- routes
    def upload(self, form: Form, body_size: int) -> dict[str, Any]:
        if body_size > self.max_file_bytes + 64 * 1024:  # refused before looking at the parts
            raise self._too_large(body_size)
        purpose = form.values.get("purpose")
        if purpose is None:
            raise ApiError(400, "Missing required parameter: 'purpose'.", param="purpose",
                           code="missing_required_parameter")
        if purpose not in FILE_PURPOSES:
            raise ApiError(400, f"Invalid value: '{str(purpose)[:100]}'. The offline simulator accepts the "
                           f"purposes {', '.join(repr(p) for p in FILE_PURPOSES)}.", param="purpose",
                           code="invalid_value")
        parts = [u for u in form.uploads if u.field == "file"]
        if "file" in form.values or not form.multipart:
            raise ApiError(400, "Invalid type for 'file': expected a file, but got a string instead."
                           if "file" in form.values else "Missing required parameter: 'file'.", param="file",
                           code="invalid_type" if "file" in form.values else "missing_required_parameter")
        if len(parts) != 1:
            raise ApiError(400, "Missing required parameter: 'file'." if not parts else
                           f"Invalid 'file': expected one file, but got {len(parts)}.", param="file",
                           code="missing_required_parameter" if not parts else "invalid_value")
        part = parts[0]
        if len(part.data) > self.max_file_bytes:
            raise self._too_large(len(part.data))
        filename = part.filename or "upload"
        if purpose == "batch" and not filename.lower().endswith(".jsonl"):
            raise ApiError(400, "Invalid file format for Batch API. Must be .jsonl", param="file",
                           code="invalid_file_format")
        return self.add(part.data, filename, purpose, _sniff(part.data, part.content_type)).obj()

    def _too_large(self, size: int) -> ApiError:
        return ApiError(413, f"File too large: {size / _MB:.1f} MB. The maximum file size is "
                        f"{self.max_file_bytes / _MB:g} MB.", param="file", code="file_too_large")

    def listing(self, query: str) -> dict[str, Any]:
        q = _query(query)
        order = q.get("order", "desc")
        if order not in ("asc", "desc"):
            raise ApiError(400, f"Invalid value: '{order[:50]}'. Supported values are: 'asc' and 'desc'.",
                           param="order", code="invalid_value")
        with self._lock:
            files = list(self._files.values())
        if order == "desc":
            files.reverse()
        purpose = q.get("purpose")
        items = [f.obj() for f in files if purpose is None or f.purpose == purpose]
        return _page(items, q.get("after"), _limit(q.get("limit"), 10_000, 10_000))

    def resolve(self, form: Form) -> None:
        """JSON edits: ``images: [{"file_id": ...}]`` and ``mask: {"file_id": ...}`` become data URLs, so the rules
        read them as any inline image (an unknown id is a 400 on that reference)."""
        if form.multipart:
            return
        refs = form.values.get("images")
        if isinstance(refs, list):
            form.values["images"] = [self._inline(ref, f"images[{i}]") for i, ref in enumerate(refs)]
        if "mask" in form.values:
            form.values["mask"] = self._inline(form.values["mask"], "mask")

    def _inline(self, ref: Any, param: str) -> Any:
        if not isinstance(ref, dict) or "file_id" not in ref:
            return ref
        file_id = ref["file_id"]
        if not isinstance(file_id, str):
            raise ApiError(400, f"Invalid type for '{param}.file_id': expected a string.", param=param,
                           code="invalid_type")
        with self._lock:
            entry = self._files.get(file_id)
        if entry is None:
            raise ApiError(400, f"Invalid '{param}': no file with id '{file_id[:100]}'.", param=param,
                           code="invalid_value")
        payload = base64.b64encode(entry.data).decode()
        return {"image_url": f"data:{entry.content_type};base64,{payload}"}


# -- batches --------------------------------------------------------------------------------------------------------
@dataclass
class _Batch:
    id: str
    input_file_id: str
    endpoint: str
    completion_window: str
    metadata: dict[str, str] | None
    created_at: int
    data: bytes
    status: str = "validating"
    times: dict[str, int] = field(default_factory=dict)
    lines: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    total: int = 0
    done: int = 0
    completed: int = 0
    failed: int = 0
    outputs: list[bytes] = field(default_factory=list)
    error_lines: list[bytes] = field(default_factory=list)
    usage: Counter[str] = field(default_factory=Counter)
    errors: list[dict[str, Any]] | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    model: str | None = None

    def obj(self) -> dict[str, Any]:
        usage = {"input_tokens": self.usage["input_tokens"],
                 "input_tokens_details": {"cached_tokens": 0},
                 "output_tokens": self.usage["output_tokens"],
                 "output_tokens_details": {"reasoning_tokens": 0},
                 "total_tokens": self.usage["total_tokens"]}
        return {"id": self.id, "object": "batch", "endpoint": self.endpoint, "model": self.model,
                "errors": {"object": "list", "data": self.errors} if self.errors is not None else None,
                "input_file_id": self.input_file_id, "completion_window": self.completion_window,
                "status": self.status, "output_file_id": self.output_file_id, "error_file_id": self.error_file_id,
                "created_at": self.created_at, "in_progress_at": self.times.get("in_progress"),
                "expires_at": self.created_at + 24 * 3600, "finalizing_at": self.times.get("finalizing"),
                "completed_at": self.times.get("completed"), "failed_at": self.times.get("failed"),
                "expired_at": None, "cancelling_at": self.times.get("cancelling"),
                "cancelled_at": self.times.get("cancelled"),
                "request_counts": {"total": self.total, "completed": self.completed, "failed": self.failed},
                "usage": usage, "metadata": self.metadata}


#: answers one line: (endpoint name, body, request id) -> (status, body)
LineAnswer = Callable[[str, dict[str, Any], str], tuple[int, dict[str, Any]]]


class BatchStore:
    """Batches, their background worker (or ``run`` for clock-free tests) and the line counters."""

    def __init__(self, files: FileStore, answer: LineAnswer, new_id: Callable[[str], str], *, seed: int,
                 seconds_per_line: float | None, fail_lines: Iterable[str | int], fail_rate: float) -> None:
        if seconds_per_line is not None and seconds_per_line < 0:
            raise InvalidArgument("batch_seconds_per_line must be at least 0 (or None: advance with run_batches())")
        if not 0.0 <= fail_rate <= 1.0:
            raise InvalidArgument("batch_fail_rate must be between 0 and 1")
        self.files = files
        self._answer = answer
        self._new_id = new_id
        self.seed = seed
        self.seconds_per_line = seconds_per_line
        self.fail_lines: set[str | int] = set(fail_lines)
        self.fail_rate = fail_rate
        self._lock = threading.Lock()
        self._batches: OrderedDict[str, _Batch] = OrderedDict()
        self._thread: threading.Thread | None = None
        self.lines: Counter[str] = Counter()

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {"by_status": dict(Counter(b.status for b in self._batches.values())),
                    "lines": {"completed": self.lines["completed"], "failed": self.lines["failed"]}}

    def reset_counts(self) -> None:
        with self._lock:
            self.lines = Counter()

    def _get(self, batch_id: str) -> _Batch:
        batch = self._batches.get(batch_id)
        if batch is None:
            raise ApiError(404, f"No batch found with id '{batch_id[:100]}'.", param="batch_id")
        return batch

    # -- routes
    def create(self, form: Form) -> dict[str, Any]:
        v = form.values
        for name in ("input_file_id", "endpoint", "completion_window"):
            if name not in v:
                raise ApiError(400, f"Missing required parameter: '{name}'.", param=name,
                               code="missing_required_parameter")
            if not isinstance(v[name], str):
                raise ApiError(400, f"Invalid type for '{name}': expected a string, but got "
                               f"{type(v[name]).__name__} instead.", param=name, code="invalid_type")
        unknown = sorted(set(v) - {"input_file_id", "endpoint", "completion_window", "metadata",
                                   "output_expires_after"})
        if unknown:
            raise ApiError(400, f"Unknown parameter: '{unknown[0][:100]}'.", param=unknown[0],
                           code="unknown_parameter")
        if v["endpoint"] not in BATCH_ENDPOINTS:
            raise ApiError(400, f"Invalid value: '{v['endpoint'][:100]}'. The offline simulator batches only "
                           "'/v1/images/generations' and '/v1/images/edits'.", param="endpoint",
                           code="invalid_value")
        if v["completion_window"] != "24h":
            raise ApiError(400, f"Invalid value: '{v['completion_window'][:50]}'. Supported values are: '24h'.",
                           param="completion_window", code="invalid_value")
        metadata = _metadata(v.get("metadata"))
        source = self.files.get(v["input_file_id"]) if v["input_file_id"] else None
        if source is None:
            raise ApiError(400, "Invalid 'input_file_id': empty string.", param="input_file_id",
                           code="invalid_value")
        if source.purpose != "batch":
            raise ApiError(400, f"Invalid 'input_file_id': file {source.id} has purpose '{source.purpose}'; a batch "
                           "input file must be uploaded with purpose 'batch'.", param="input_file_id",
                           code="invalid_value")
        batch = _Batch(self._new_id("batch_"), source.id, v["endpoint"], "24h", metadata, int(time.time()),
                       source.data)
        with self._lock:
            self._batches[batch.id] = batch
            self._forget()
            answer = batch.obj()
            self._kick()
        return answer

    def _forget(self) -> None:
        finished = [k for k, b in self._batches.items() if b.status not in _ACTIVE]
        for key in finished[:max(0, len(self._batches) - MAX_BATCHES)]:
            del self._batches[key]

    def retrieve(self, batch_id: str) -> dict[str, Any]:
        with self._lock:
            return self._get(batch_id).obj()

    def listing(self, query: str) -> dict[str, Any]:
        q = _query(query)
        limit = _limit(q.get("limit"), 20, 100)
        with self._lock:
            items = [b.obj() for b in reversed(self._batches.values())]
        return _page(items, q.get("after"), limit)

    def cancel(self, batch_id: str) -> dict[str, Any]:
        with self._lock:
            batch = self._get(batch_id)
            if batch.status not in ("validating", "in_progress", "finalizing", "cancelling"):
                # 400, not 409: the SDK would retry a 409 (the real status is not documented)
                raise ApiError(400, f"Cannot cancel a batch with status '{batch.status}'.")
            if batch.status != "cancelling":
                batch.status = "cancelling"
                batch.times["cancelling"] = int(time.time())
            answer = batch.obj()
            self._kick()
        return answer

    # -- processing
    def _kick(self) -> None:
        """Start the worker if none runs (lock held). No worker in manual mode."""
        if self.seconds_per_line is None or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._work, name="dalle_kit-batches", daemon=True)
        self._thread.start()

    def _next(self) -> _Batch | None:
        return next((b for b in self._batches.values() if b.status in _ACTIVE), None)

    def _work(self) -> None:
        while True:
            started = time.perf_counter()
            with self._lock:
                batch = self._next()
                if batch is None:
                    self._thread = None
                    return
            self._step(batch)
            wait = (self.seconds_per_line or 0.0) - (time.perf_counter() - started)
            if wait > 0:
                time.sleep(wait)

    def run(self, steps: int | None = None) -> int:
        """Advance the batches in this thread: ``steps`` steps (validating, one line, finalizing each count one),
        or until none is active. Returns the steps taken. With a background worker, only waits (returns 0)."""
        if self.seconds_per_line is not None:
            self.wait()
            return 0
        taken = 0
        while steps is None or taken < steps:
            with self._lock:
                batch = self._next()
            if batch is None:
                break
            self._step(batch)
            taken += 1
        return taken

    def wait(self, timeout: float = 60.0) -> bool:
        """Wait until no batch is active (with a background worker); True when none is."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self._next() is None:
                    return True
            time.sleep(0.005)
        return False

    def _step(self, batch: _Batch) -> None:
        with self._lock:
            status = batch.status
        now = int(time.time())
        if status == "cancelling":
            self._finish(batch, "cancelled")
        elif status == "validating":
            lines, errors = _validate(batch.data, batch.endpoint)
            with self._lock:
                if batch.status != "validating":
                    return
                if errors:
                    batch.status, batch.errors = "failed", errors
                    batch.times["failed"] = now
                    batch.data = b""
                else:
                    batch.lines, batch.total, batch.status = lines, len(lines), "in_progress"
                    batch.times["in_progress"] = now
                    model = lines[0][1]["body"].get("model")
                    batch.model = model if isinstance(model, str) else None
                    batch.data = b""
        elif status == "in_progress":
            self._line(batch)
        elif status == "finalizing":
            self._finish(batch, "completed")

    def _line(self, batch: _Batch) -> None:
        number, record = batch.lines[batch.done]
        custom_id = record["custom_id"]
        request_id = self._new_id("req_")
        if number in self.fail_lines or custom_id in self.fail_lines or self._unlucky(batch, custom_id):
            status, body = 500, ApiError(500, "The server had an error while processing your request. Sorry about "
                                         "that! (simulated batch line failure)", type="server_error").body()
        else:
            status, body = self._answer(BATCH_ENDPOINTS[batch.endpoint], record["body"], request_id)
        line = json.dumps({"id": self._new_id("batch_req_"), "custom_id": custom_id,
                           "response": {"status_code": status, "request_id": request_id, "body": body},
                           "error": None}, separators=(",", ":")).encode()
        with self._lock:
            batch.done += 1
            kind = "completed" if status == 200 else "failed"
            self.lines[kind] += 1
            if status == 200:
                batch.completed += 1
                batch.outputs.append(line)
                usage = body.get("usage") or {}
                for key in ("input_tokens", "output_tokens", "total_tokens"):
                    batch.usage[key] += int(usage.get(key, 0))
            else:
                batch.failed += 1
                batch.error_lines.append(line)
            if batch.done >= len(batch.lines) and batch.status == "in_progress":
                batch.status = "finalizing"
                batch.times["finalizing"] = int(time.time())

    def _unlucky(self, batch: _Batch, custom_id: str) -> bool:
        if not self.fail_rate:
            return False
        return random.Random(f"{self.seed}:{batch.id}:{custom_id}").random() < self.fail_rate

    def _finish(self, batch: _Batch, status: str) -> None:
        with self._lock:
            outputs, error_lines = batch.outputs, batch.error_lines
            batch.outputs, batch.error_lines = [], []
        out_id = self.files.add(b"\n".join(outputs) + b"\n", f"{batch.id}_output.jsonl", "batch_output",
                                "application/jsonl").id if outputs else None
        err_id = self.files.add(b"\n".join(error_lines) + b"\n", f"{batch.id}_error.jsonl", "batch_output",
                                "application/jsonl").id if error_lines else None
        with self._lock:
            batch.output_file_id, batch.error_file_id = out_id, err_id
            batch.status = status
            batch.times[status] = int(time.time())
            batch.lines, batch.data = [], b""


def _metadata(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ApiError(400, "Invalid type for 'metadata': expected an object.", param="metadata", code="invalid_type")
    if len(value) > 16:
        raise ApiError(400, "Invalid 'metadata': too many properties. Expected an object with at most 16 properties, "
                       f"but got an object with {len(value)} properties instead.", param="metadata",
                       code="object_above_max_properties")
    for key, item in value.items():
        if len(key) > 64:
            raise ApiError(400, f"Invalid 'metadata': key '{key[:64]}...' is longer than 64 characters.",
                           param="metadata", code="invalid_value")
        if not isinstance(item, str) or len(item) > 512:
            raise ApiError(400, f"Invalid 'metadata.{key[:64]}': expected a string of at most 512 characters.",
                           param=f"metadata.{key[:64]}", code="invalid_value")
    return dict(value)


def _validate(data: bytes, url: str) -> tuple[list[tuple[int, dict[str, Any]]], list[dict[str, Any]]]:
    """The input file's lines as (1-based line number, record), or the errors that fail the batch."""
    lines: list[tuple[int, dict[str, Any]]] = []
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()

    def bad(number: int, code: str, message: str, param: str | None = None) -> None:
        if len(errors) < MAX_LINE_ERRORS:
            errors.append({"code": code, "line": number, "message": message, "param": param})

    for number, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            record = _load_json(raw)
        except ApiError:
            record = None
        if not isinstance(record, dict):
            bad(number, "invalid_json_line", "This line is not parseable as valid JSON (a JSON object per line).")
            continue
        custom_id = record.get("custom_id")
        if not isinstance(custom_id, str) or not custom_id:
            bad(number, "missing_required_parameter", "Missing required parameter: 'custom_id' (a string).",
                "custom_id")
            continue
        if custom_id in seen:
            bad(number, "duplicate_custom_id", "The custom_id for this request is a duplicate of another request. The "
                "custom_id parameter must be unique for each individual request in a batch.", "custom_id")
            continue
        seen.add(custom_id)
        if record.get("method") != "POST":
            bad(number, "invalid_method", "Invalid 'method': only 'POST' is supported.", "method")
            continue
        if record.get("url") != url:
            bad(number, "mismatched_url", f"The url '{str(record.get('url'))[:100]}' does not match the batch's "
                f"endpoint '{url}'.", "url")
            continue
        if not isinstance(record.get("body"), dict):
            bad(number, "missing_required_parameter", "Missing required parameter: 'body' (a JSON object).", "body")
            continue
        lines.append((number, record))
    if not lines and not errors:
        bad(1, "empty_file", "The input file is empty: it holds no request.")
    if len(lines) > MAX_BATCH_LINES:
        bad(MAX_BATCH_LINES + 1, "too_many_requests", f"A batch holds at most {MAX_BATCH_LINES:,} requests; this file "
            f"has {len(lines):,}.")
    return lines, errors


def batch_route(files: FileStore, batches: BatchStore, name: str, ident: str | None, query: str, form: Form | None,
                body_size: int) -> tuple[int, dict[str, Any] | bytes, str]:
    """One Files or Batches route: (status, JSON payload or raw bytes, content type)."""
    ident = ident or ""
    if name == "files_create":
        assert form is not None
        return 200, files.upload(form, body_size), "application/json"
    if name == "files_list":
        return 200, files.listing(query), "application/json"
    if name == "file_get":
        return 200, files.get(ident).obj(), "application/json"
    if name == "file_delete":
        return 200, files.delete(ident), "application/json"
    if name == "file_content":
        entry = files.get(ident)
        return 200, entry.data, entry.content_type
    if name == "batches_create":
        assert form is not None
        return 200, batches.create(form), "application/json"
    if name == "batches_list":
        return 200, batches.listing(query), "application/json"
    if name == "batch_get":
        return 200, batches.retrieve(ident), "application/json"
    if name == "batch_cancel":
        return 200, batches.cancel(ident), "application/json"
    raise ApiError(404, f"Invalid URL ({name})")
