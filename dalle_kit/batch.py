"""OpenAI's Batch API for big jobs: up to 50,000 requests, a 24 h window, half the price.

``submit(kit, requests)`` validates every request (an invalid one is reported, never sent), leaves out what the
store already holds, checks the budget at the Batch price, writes the JSONL (``custom_id`` = the request key; a
JSON body per line; an edit's images and mask as data URLs, since a line cannot carry multipart), uploads it
(purpose ``batch``), creates the batch and keeps the job in the store. ``BatchJob.collect()`` polls with a
progress bar (request counts), downloads the output and error files, and puts every image in the store, the
same path as a live answer (so the cache and packs see them); it returns a ``ManyResult`` in submission order,
each failed line with its line number and custom_id. ``kit.batch_jobs()`` lists the jobs of the store, so a
restarted kernel collects a job by its id: the requests are rebuilt from their provenance (an edit's inputs are
kept in the store at submission, kind ``input``).
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import json
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from openai.types import ImagesResponse
from tqdm.auto import tqdm

from . import costs
from .api_errors import annotate
from .errors import BatchNotDone, DalleKitError, InvalidArgument
from .many import prepare
from .many_result import ManyResult, Outcome
from .request import Request, Upload
from .responses import Collector

if TYPE_CHECKING:
    from .client import Kit

__all__ = ["BatchJob", "BatchLineError", "jobs", "line", "open_job", "submit"]

URLS = {"generate": "/v1/images/generations", "edit": "/v1/images/edits"}
DONE = frozenset({"completed", "failed", "expired", "cancelled"})
#: What the Batch API takes in one job.
MAX_LINES = 50_000


class BatchLineError(DalleKitError):
    """A line of a Batch job that came back without images: ``line`` (1-based, in the input file),
    ``custom_id`` (the request key), ``status`` (the HTTP status the API gave it, or None) and ``code``."""

    def __init__(self, message: str, *, line: int | None, custom_id: str, status: int | None = None,
                 code: str | None = None, body: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.line, self.custom_id, self.status, self.code = line, custom_id, status, code
        self.body = dict(body or {})


def _data_url(upload: Upload) -> dict[str, str]:
    return {"image_url": f"data:{upload.mimetype};base64,{base64.b64encode(upload.data).decode('ascii')}"}


def line(request: Request) -> dict[str, Any]:
    """The JSONL line for ``request`` (``BatchRequestInput``)."""
    body: dict[str, Any] = {"model": request.model, **request.params}
    if request.images:
        body["images"] = [_data_url(u) for u in request.images]
    for name in ("mask", "markup"):
        upload = getattr(request, name)
        if upload is not None:
            body[name] = _data_url(upload)
    return {"custom_id": request.key, "method": "POST", "url": URLS[request.endpoint], "body": body}


def submit(kit: Kit, items: Iterable[Any], *, endpoint: str = "generate", fresh: bool = False,
           metadata: Mapping[str, str] | None = None, **common: Any) -> BatchJob:
    """Validate, leave out what the store holds, check the budget, upload the JSONL and create the batch."""
    if endpoint not in URLS:
        raise InvalidArgument(f"endpoint must be one of {', '.join(URLS)} for the Batch API, got {endpoint!r}")
    outcomes = prepare(kit, endpoint, items, common)
    for outcome in outcomes:
        if outcome.request is not None:
            cached = kit._cached(outcome.request, fresh)
            if cached is not None:
                outcome.result, outcome.source = cached, "store"
    todo = [o.request for o in outcomes if o.request is not None and o.source == "not sent"]
    if len(todo) > MAX_LINES:
        raise InvalidArgument(f"a Batch job takes at most {MAX_LINES:,} requests, got {len(todo):,}; split them")
    if todo and kit.budget is not None:
        costs.check_budget(cap=kit.budget, spent=kit.store.spent(kit.backend),
                           estimate=costs.estimate_many(todo, batch=True),
                           what=f"this Batch job of {len(todo)} requests", where=f"today on {kit.backend}")
    job = BatchJob(kit, None, endpoint, outcomes, lines={r.key: n for n, r in enumerate(todo, start=1)})
    if not todo:
        return job  # everything was refused or is in the store: nothing to send
    if endpoint == "edit":  # kept, so that a restarted kernel can rebuild the requests (recall finds them)
        inputs = {u.digest: u for r in todo for u in (*r.images, r.mask, r.markup) if u is not None}
        kit.store.put_many([(u.data, u.mimetype.partition("/")[2], {"upload": u.describe()}) for u in
                            inputs.values()], kind="input")
    data = "".join(json.dumps(line(r), separators=(",", ":")) + "\n" for r in todo).encode()
    with annotate(kit._client.api_key):
        uploaded = kit._client.files.create(file=("dalle_kit-batch.jsonl", data, "application/jsonl"),
                                            purpose="batch")
        created = kit._client.batches.create(input_file_id=uploaded.id, endpoint=URLS[endpoint],  # type: ignore[arg-type]
                                             completion_window="24h",
                                             metadata={"software": "dalle_kit", **(metadata or {})})
    job.id, job.status = created.id, created.status
    described = [{"key": o.request.key, "request": o.request.describe(), "line": job.lines.get(o.request.key)}
                 if o.request is not None else {"invalid": str(o.error)} for o in outcomes]
    with kit.store._transaction() as db:
        db.execute("INSERT INTO batch_jobs (id, created, backend, endpoint, input_file_id, status, requests) "
                   "VALUES (?,?,?,?,?,?,?)", (created.id, time.time(), kit.backend, endpoint, uploaded.id,
                                              created.status, json.dumps(described, ensure_ascii=False)))
    return job


def jobs(kit: Kit) -> list[dict[str, Any]]:
    """The Batch jobs this store submitted on this backend, newest first (id, created, endpoint, status as last
    seen, requests, collected)."""
    rows = kit.store.query("SELECT id, created, endpoint, status, requests, collected FROM batch_jobs "
                           "WHERE backend = ? ORDER BY created DESC", (kit.backend,))
    return [{**dict(row), "requests": len(json.loads(row["requests"]))} for row in rows]


def open_job(kit: Kit, job_id: str) -> BatchJob:
    """A job of this store by its id (a restarted kernel): its requests rebuilt from their provenance."""
    from .recall import recall

    rows = kit.store.query("SELECT endpoint, requests, collected FROM batch_jobs WHERE id = ?", (job_id,))
    if not rows:
        known = ", ".join(j["id"] for j in jobs(kit)[:5]) or "none"
        raise InvalidArgument(f"no Batch job {job_id!r} in the store at {kit.store.home} (newest: {known})")
    outcomes, lines = [], {}
    for index, entry in enumerate(json.loads(rows[0]["requests"])):
        if entry.get("line"):
            lines[entry["key"]] = int(entry["line"])
        outcome = Outcome(index, entry.get("request"))
        if "key" in entry:
            request = recall(kit, {"request": entry["request"], "request_key": entry["key"]})
            outcome.request = request if request.key == entry["key"] else dataclasses.replace(
                request, take=int(entry["request"].get("take", 0)))
        else:
            outcome.error, outcome.source = InvalidArgument(entry.get("invalid", "invalid")), "invalid"
        outcomes.append(outcome)
    job = BatchJob(kit, job_id, rows[0]["endpoint"], outcomes, lines=lines, collected=rows[0]["collected"])
    job.refresh()
    return job


@dataclasses.dataclass
class BatchJob:
    """One Batch API job: ``id`` (None when nothing had to be sent), ``status``, ``outcomes`` in order."""

    kit: Kit = dataclasses.field(repr=False)
    id: str | None
    endpoint: str
    outcomes: list[Outcome] = dataclasses.field(repr=False)
    status: str = "completed"
    counts: dict[str, int] = dataclasses.field(default_factory=dict)
    lines: dict[str, int] = dataclasses.field(default_factory=dict, repr=False)  # request key -> its line (1-based)
    collected: float | None = None  # when its images were first put in the store (then the store answers)

    def refresh(self) -> Any:
        """Ask the API for the job's state (``status``, ``counts``); returns the SDK's ``Batch``."""
        if self.id is None:
            return None
        with annotate(self.kit._client.api_key):
            batch = self.kit._client.batches.retrieve(self.id)
        self.status = batch.status
        counts = batch.request_counts
        self.counts = {"total": counts.total, "completed": counts.completed, "failed": counts.failed} if counts \
            else {}
        with self.kit.store._transaction() as db:
            db.execute("UPDATE batch_jobs SET status = ? WHERE id = ?", (batch.status, self.id))
        return batch

    def cancel(self) -> None:
        if self.id is not None:
            with annotate(self.kit._client.api_key):
                self.kit._client.batches.cancel(self.id)
            self.refresh()

    def collect(self, *, poll: float = 5.0, timeout: float | None = None, progress: bool = True) -> ManyResult:
        """Wait for the job (polling every ``poll`` seconds, a progress bar of request counts), then store every
        image and return the outcomes in submission order. ``timeout`` seconds: raise ``BatchNotDone`` (a
        ``TimeoutError``; the job goes on: call ``collect`` again later)."""
        started = time.monotonic()
        batch = self.refresh()
        with tqdm(total=max(1, self.counts.get("total") or len(self.outcomes)), desc=f"batch {self.id or ''}",
                  unit="req", disable=not progress or batch is None) as bar:
            while batch is not None and batch.status not in DONE:
                bar.n = self.counts.get("completed", 0) + self.counts.get("failed", 0)
                bar.set_postfix_str(batch.status, refresh=True)
                if timeout is not None and time.monotonic() - started > timeout:
                    raise BatchNotDone(f"Batch job {self.id} is {batch.status} after {timeout:g} s; it goes on: call "
                                       "collect() again later")
                time.sleep(poll)
                batch = self.refresh()
            if batch is not None:
                bar.n = self.counts.get("completed", 0) + self.counts.get("failed", 0)
                bar.set_postfix_str(batch.status, refresh=True)
        if batch is not None:
            self._read(batch)
            if self.collected is None:
                self.collected = time.time()
                with self.kit.store._transaction() as db:
                    db.execute("UPDATE batch_jobs SET collected = ? WHERE id = ?", (self.collected, self.id))
        return ManyResult(self.outcomes, sent=sum(o.attempts for o in self.outcomes),
                          wall=round(time.monotonic() - started, 4))

    def _read(self, batch: Any) -> None:
        """Answer each request: from the store when it holds it (what was there at submission, or a job collected
        before: read twice, paid once), else from the job's output and error files."""
        by_key: dict[str, Outcome] = {}
        for outcome in self.outcomes:
            if outcome.request is None or outcome.source != "not sent":
                continue
            sent = outcome.request.key in self.lines
            cached = self.kit._cached(outcome.request) if self.collected or not sent else None
            if cached is not None:
                outcome.result, outcome.source = cached, "store"
            elif sent:
                by_key[outcome.request.key] = outcome
        numbers = self.lines
        for file_id in (batch.output_file_id, batch.error_file_id):
            if not file_id:
                continue
            with annotate(self.kit._client.api_key):
                content = self.kit._client.files.content(file_id).content
            for text in content.decode("utf-8").splitlines():
                if text.strip():
                    self._answer(json.loads(text), by_key, numbers)
        for key, outcome in by_key.items():
            if outcome.source == "not sent":  # neither file has its line
                outcome.source = "failed" if batch.status == "completed" else "not sent"
                outcome.error = BatchLineError(f"line {numbers[key]} came back in neither file (the job is "
                                               f"{batch.status})", line=numbers[key], custom_id=key)

    def _answer(self, record: Mapping[str, Any], by_key: Mapping[str, Outcome], numbers: Mapping[str, int]) -> None:
        key = str(record.get("custom_id"))
        outcome = by_key.get(key)
        if outcome is None or outcome.request is None or outcome.source != "not sent":
            return  # not ours, or already read
        outcome.attempts = 1
        response = record.get("response") or {}
        status = response.get("status_code")
        body = response.get("body") or {}
        if status == 200 and isinstance(body, Mapping) and body.get("data"):
            collector = Collector(outcome.request, self.kit.store, self.kit.backend, self.kit._fetch,
                                  pricing=functools.partial(costs.cost, batch=True), session=self.kit.session)
            outcome.result = collector.from_response(ImagesResponse.model_validate(body))
            outcome.cost, outcome.source = collector.cost, "api"
            return
        error = (body.get("error") if isinstance(body, Mapping) else None) or record.get("error") or {}
        message = error.get("message") or f"HTTP {status}"
        outcome.error = BatchLineError(f"line {numbers.get(key)} ({key[:12]}…): {message}", line=numbers.get(key),
                                       custom_id=key, status=status, code=error.get("code"), body=error)
        outcome.source = "failed"
