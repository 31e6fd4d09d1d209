"""The simulator's Files and Batch APIs through the official SDK, in-process (sync and async) and served: a
100-line job with failing lines, edits by file id, a malformed input file, refusals, cancel, paging, limits; every
answer parses strictly as the SDK's own types."""

from __future__ import annotations

import asyncio
import base64
import json
import time

import httpx2
import openai
import pytest
from openai.types import Batch, FileDeleted, FileObject
from simulator_fixtures import AUTH, Served, aclient, client, decode, png, raw

from dalle_kit.simulator import Simulator

GEN = "/v1/images/generations"
EDIT = "/v1/images/edits"
SMALL = {"model": "gpt-image-2", "quality": "low", "size": "1024x640"}


def jsonl(records: list[dict]) -> bytes:
    return ("\n".join(json.dumps(r) for r in records) + "\n").encode()


def gen_lines(count: int, url: str = GEN) -> list[dict]:
    return [{"custom_id": f"img-{i:03d}", "method": "POST", "url": url,
             "body": {**SMALL, "prompt": f"a lighthouse number {i}"}} for i in range(1, count + 1)]


def strict_batch(c: openai.OpenAI, batch_id: str) -> Batch:
    """Retrieve through the raw response and parse the JSON strictly as the SDK's Batch."""
    body = json.loads(c.batches.with_raw_response.retrieve(batch_id).text)
    return Batch.model_validate(body, strict=True)


def strict_file(c: openai.OpenAI, file_id: str) -> FileObject:
    return FileObject.model_validate(json.loads(c.files.with_raw_response.retrieve(file_id).text), strict=True)


def upload(c: openai.OpenAI, data: bytes, name: str = "input.jsonl", purpose: str = "batch") -> FileObject:
    f = c.files.create(file=(name, data), purpose=purpose)  # type: ignore[arg-type]
    FileObject.model_validate(f.model_dump(), strict=True)
    return f


def lines_of(c: openai.OpenAI, file_id: str | None) -> list[dict]:
    assert file_id is not None
    return [json.loads(line) for line in c.files.content(file_id).text.splitlines()]


def check_error_body(exc: openai.APIStatusError) -> dict:
    err = exc.response.json()["error"]
    assert set(err) >= {"message", "type", "param", "code"} and err["message"]
    return err


@pytest.fixture
def manual():
    """A simulator whose batches move only when the test says so (no clock, no thread)."""
    sim = Simulator(seed=3, batch_seconds_per_line=None)
    with client(sim) as c:
        yield sim, c


def test_hundred_line_job_with_three_failing_lines():
    sim = Simulator(seed=5, batch_seconds_per_line=0.0, batch_fail_lines={"img-007", "img-050", 100})
    with client(sim) as c:
        f = upload(c, jsonl(gen_lines(100)))
        assert f.purpose == "batch" and f.bytes > 0 and strict_file(c, f.id).filename == "input.jsonl"
        batch = c.batches.create(input_file_id=f.id, endpoint=GEN, completion_window="24h",
                                 metadata={"course": "week 3"})
        assert batch.status == "validating" and batch.metadata == {"course": "week 3"}
        Batch.model_validate(batch.model_dump(), strict=True)
        seen = set()
        deadline = time.monotonic() + 30
        while batch.status not in ("completed", "failed") and time.monotonic() < deadline:
            batch = strict_batch(c, batch.id)
            seen.add(batch.status)
            assert batch.request_counts is not None
            counts = batch.request_counts
            assert counts.completed + counts.failed <= counts.total
            time.sleep(0.02)
        assert batch.status == "completed" and "in_progress" in seen
        assert batch.request_counts is not None
        assert (batch.request_counts.total, batch.request_counts.completed, batch.request_counts.failed) == \
            (100, 97, 3)
        assert batch.model == "gpt-image-2"
        assert batch.in_progress_at and batch.finalizing_at and batch.completed_at and batch.expires_at
        assert batch.usage is not None and batch.usage.total_tokens > 0 and batch.usage.output_tokens > 0
        out, errors = lines_of(c, batch.output_file_id), lines_of(c, batch.error_file_id)
        assert len(out) == 97 and len(errors) == 3
        assert {e["custom_id"] for e in errors} == {"img-007", "img-050", "img-100"}
        for e in errors:
            assert e["response"]["status_code"] == 500 and e["error"] is None
            assert e["response"]["body"]["error"]["type"] == "server_error"
        for line in out:
            assert line["id"].startswith("batch_req_") and line["error"] is None
            assert line["response"]["status_code"] == 200 and line["response"]["request_id"]
            body = openai.types.ImagesResponse.model_validate(line["response"]["body"])
            assert body.data and body.data[0].b64_json
        assert decode(out[0]["response"]["body"]["data"][0]["b64_json"]).size == (1024, 640)
        assert batch.usage.total_tokens == sum(line["response"]["body"]["usage"]["total_tokens"] for line in out)
        for file_id in (batch.output_file_id, batch.error_file_id):
            assert file_id is not None and strict_file(c, file_id).purpose == "batch_output"
        stats = sim.stats()
        assert stats["batches"]["by_status"] == {"completed": 1}
        assert stats["batches"]["lines"] == {"completed": 97, "failed": 3}
        assert stats["files"]["by_purpose"] == {"batch": 1, "batch_output": 2}
        assert stats["images"] == 97


def test_steps_without_a_clock(manual):
    sim, c = manual
    f = upload(c, jsonl(gen_lines(3)))
    batch = c.batches.create(input_file_id=f.id, endpoint=GEN, completion_window="24h")
    assert strict_batch(c, batch.id).status == "validating"
    assert sim.run_batches(1) == 1
    b = strict_batch(c, batch.id)
    assert b.status == "in_progress" and b.request_counts is not None
    assert (b.request_counts.total, b.request_counts.completed) == (3, 0)
    sim.run_batches(2)
    b = strict_batch(c, batch.id)
    assert b.status == "in_progress" and b.request_counts is not None and b.request_counts.completed == 2
    assert sim.run_batches() == 2  # the last line, then finalizing
    b = strict_batch(c, batch.id)
    assert b.status == "completed" and b.error_file_id is None and len(lines_of(c, b.output_file_id)) == 3
    assert sim.run_batches() == 0


def test_edits_by_file_id_data_url_and_refused_lines(manual):
    sim, c = manual
    picture = upload(c, png((1024, 1024)), "photo.png", "vision")
    assert picture.purpose == "vision"
    data_url = "data:image/png;base64," + base64.b64encode(png((1024, 1024), (10, 200, 10, 255))).decode()
    edit = {"model": "gpt-image-2", "prompt": "add a hat", "size": "1024x1024", "quality": "low"}
    records = [{"custom_id": "by-id", "method": "POST", "url": EDIT, "body": {**edit, "images": [{"file_id": picture.id}]}},
               {"custom_id": "by-url", "method": "POST", "url": EDIT, "body": {**edit, "images": [{"image_url": data_url}]}},
               {"custom_id": "missing", "method": "POST", "url": EDIT, "body": {**edit, "images": [{"file_id": "file-nope"}]}},
               {"custom_id": "moderated", "method": "POST", "url": EDIT,
                "body": {**edit, "prompt": "moderation-test", "images": [{"file_id": picture.id}]}},
               {"custom_id": "bad-size", "method": "POST", "url": EDIT,
                "body": {**edit, "size": "13x13", "images": [{"file_id": picture.id}]}}]
    batch = c.batches.create(input_file_id=upload(c, jsonl(records)).id, endpoint=EDIT, completion_window="24h")
    sim.run_batches()
    b = strict_batch(c, batch.id)
    assert b.status == "completed" and b.request_counts is not None
    assert (b.request_counts.completed, b.request_counts.failed) == (2, 3)
    out = {line["custom_id"]: line for line in lines_of(c, b.output_file_id)}
    assert set(out) == {"by-id", "by-url"}
    assert decode(out["by-id"]["response"]["body"]["data"][0]["b64_json"]).size == (1024, 1024)
    errors = {line["custom_id"]: line["response"] for line in lines_of(c, b.error_file_id)}
    assert {k: v["status_code"] for k, v in errors.items()} == {"missing": 400, "moderated": 400, "bad-size": 400}
    assert errors["missing"]["body"]["error"]["param"] == "images[0]"
    assert errors["moderated"]["body"]["error"]["code"] == "moderation_blocked"
    assert errors["bad-size"]["body"]["error"]["param"] == "size"
    # a live JSON edit may name the uploaded file too
    r = raw(sim, "POST", "/v1/images/edits", headers=AUTH, json={**edit, "images": [{"file_id": picture.id}]})
    assert r.status_code == 200 and r.json()["data"][0]["b64_json"]


def test_malformed_input_fails_with_line_errors(manual):
    sim, c = manual
    good = gen_lines(1)[0]
    text = "\n".join([json.dumps(good), "{not json", json.dumps({"method": "POST", "url": GEN, "body": {}}),
                      json.dumps(good), json.dumps({**good, "custom_id": "x", "url": EDIT}),
                      json.dumps({**good, "custom_id": "y", "body": "text"})]).encode()
    batch = c.batches.create(input_file_id=upload(c, text).id, endpoint=GEN, completion_window="24h")
    sim.run_batches()
    b = strict_batch(c, batch.id)
    assert b.status == "failed" and b.failed_at and b.output_file_id is None and b.errors and b.errors.data
    assert [(e.line, e.code) for e in b.errors.data] == [(2, "invalid_json_line"), (3, "missing_required_parameter"),
                                                         (4, "duplicate_custom_id"), (5, "mismatched_url"),
                                                         (6, "missing_required_parameter")]
    assert all(e.message for e in b.errors.data)
    empty = c.batches.create(input_file_id=upload(c, b"\n\n").id, endpoint=GEN, completion_window="24h")
    sim.run_batches()
    e = strict_batch(c, empty.id)
    assert e.status == "failed" and e.errors and e.errors.data and e.errors.data[0].code == "empty_file"
    assert sim.stats()["batches"]["by_status"] == {"failed": 2}


def test_refused_creates(manual):
    _, c = manual
    f = upload(c, jsonl(gen_lines(1)))
    with pytest.raises(openai.BadRequestError) as exc:
        c.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h")
    err = check_error_body(exc.value)
    assert (err["param"], err["code"]) == ("endpoint", "invalid_value")
    with pytest.raises(openai.BadRequestError) as exc:
        c.batches.create(input_file_id=f.id, endpoint=GEN, completion_window="48h")  # type: ignore[arg-type]
    assert check_error_body(exc.value)["param"] == "completion_window"
    with pytest.raises(openai.BadRequestError) as exc:
        c.batches.create(input_file_id=f.id, endpoint=GEN, completion_window="24h",
                         metadata={f"k{i}": "v" for i in range(17)})
    assert check_error_body(exc.value)["code"] == "object_above_max_properties"
    picture = upload(c, png(), "a.png", "vision")
    with pytest.raises(openai.BadRequestError) as exc:
        c.batches.create(input_file_id=picture.id, endpoint=GEN, completion_window="24h")
    assert check_error_body(exc.value)["param"] == "input_file_id"
    with pytest.raises(openai.BadRequestError) as exc:
        upload(c, jsonl(gen_lines(1)), "prompts.txt")
    assert check_error_body(exc.value)["code"] == "invalid_file_format"
    with pytest.raises(openai.BadRequestError) as exc:
        upload(c, b"{}", "x.jsonl", "fine-tune")
    assert check_error_body(exc.value)["param"] == "purpose"


def test_cancel_keeps_what_was_done(manual):
    sim, c = manual
    batch = c.batches.create(input_file_id=upload(c, jsonl(gen_lines(5))).id, endpoint=GEN, completion_window="24h")
    sim.run_batches(3)  # validating, then two lines
    cancelled = c.batches.cancel(batch.id)
    Batch.model_validate(cancelled.model_dump(), strict=True)
    assert cancelled.status == "cancelling" and cancelled.cancelling_at
    sim.run_batches()
    b = strict_batch(c, batch.id)
    assert b.status == "cancelled" and b.cancelled_at and b.request_counts is not None
    assert (b.request_counts.total, b.request_counts.completed) == (5, 2)
    assert len(lines_of(c, b.output_file_id)) == 2
    with pytest.raises(openai.BadRequestError) as exc:
        c.batches.cancel(batch.id)
    check_error_body(exc.value)
    waiting = c.batches.create(input_file_id=upload(c, jsonl(gen_lines(2))).id, endpoint=GEN,
                               completion_window="24h")
    c.batches.cancel(waiting.id)  # before validation
    sim.run_batches()
    w = strict_batch(c, waiting.id)
    assert w.status == "cancelled" and w.output_file_id is None and w.error_file_id is None


def test_unknown_ids_are_404_with_the_api_error_body(manual):
    _, c = manual
    calls = [lambda: c.files.retrieve("file-missing"), lambda: c.files.content("file-missing"),
             lambda: c.files.delete("file-missing"), lambda: c.batches.retrieve("batch_missing"),
             lambda: c.batches.cancel("batch_missing"),
             lambda: c.batches.create(input_file_id="file-missing", endpoint=GEN, completion_window="24h")]
    for call in calls:
        with pytest.raises(openai.NotFoundError) as exc:
            call()
        assert check_error_body(exc.value)["type"] == "invalid_request_error"


def test_large_uploads_refused_and_store_bounded():
    sim = Simulator(seed=1, batch_seconds_per_line=None, file_max_bytes=10_000, files_max_count=3)
    with client(sim) as c:
        with pytest.raises(openai.APIStatusError) as exc:
            upload(c, b"x" * 20_000)
        assert exc.value.status_code == 413 and check_error_body(exc.value)["code"] == "file_too_large"
        with pytest.raises(openai.APIStatusError) as exc:
            upload(c, b"x" * 200_000)  # refused before the body is parsed
        assert exc.value.status_code == 413
        ids = [upload(c, jsonl(gen_lines(1)), f"f{i}.jsonl").id for i in range(4)]
        with pytest.raises(openai.NotFoundError):
            c.files.retrieve(ids[0])  # the oldest was evicted
        assert sim.stats()["files"] == {"count": 3, "bytes": 3 * len(jsonl(gen_lines(1))),
                                        "by_purpose": {"batch": 3}, "evicted": 1}
        deleted = c.files.delete(ids[1])
        FileDeleted.model_validate(deleted.model_dump(), strict=True)
        assert deleted.deleted and sim.stats()["files"]["count"] == 2


def test_listing_pages(manual):
    sim, c = manual
    f = upload(c, jsonl(gen_lines(1)))
    made = [c.batches.create(input_file_id=f.id, endpoint=GEN, completion_window="24h").id for _ in range(3)]
    page = c.batches.list(limit=2)
    assert [b.id for b in page.data] == made[::-1][:2] and page.has_more
    for b in page.data:
        Batch.model_validate(b.model_dump(), strict=True)
    assert [b.id for b in c.batches.list(limit=2)] == made[::-1]  # the SDK follows `after`
    assert [b.id for b in c.batches.list(after=made[1]).data] == [made[0]]
    picture = upload(c, png(), "p.png", "vision")
    assert [x.purpose for x in c.files.list(purpose="vision")] == ["vision"]
    assert [x.id for x in c.files.list(order="asc")] == [f.id, picture.id]
    with pytest.raises(openai.BadRequestError):
        c.batches.list(limit=101)
    sim.run_batches()
    assert sim.stats()["batches"]["by_status"] == {"completed": 3}


def test_async_client():
    async def run() -> None:
        sim = Simulator(seed=2, batch_seconds_per_line=0.0)
        async with aclient(sim) as c:
            f = await c.files.create(file=("in.jsonl", jsonl(gen_lines(2))), purpose="batch")
            batch = await c.batches.create(input_file_id=f.id, endpoint=GEN, completion_window="24h")
            assert await asyncio.to_thread(sim.wait_batches, 20)
            b = await c.batches.retrieve(batch.id)
            assert b.status == "completed" and b.output_file_id
            content = await c.files.content(b.output_file_id)
            assert len(content.text.splitlines()) == 2
    asyncio.run(run())


def test_served(tmp_path):
    server = Served(tmp_path, "--quiet", "--batch-seconds-per-line", "0", "--batch-fail-line", "img-002",
                    "--batch-fail-line", "4", "--file-max-bytes", "100000")
    try:
        with openai.OpenAI(api_key="sk-test", base_url=server.url, http_client=httpx2.Client()) as c:
            f = upload(c, jsonl(gen_lines(6)))
            batch = c.batches.create(input_file_id=f.id, endpoint=GEN, completion_window="24h")
            deadline = time.monotonic() + 20
            while batch.status != "completed" and time.monotonic() < deadline:
                time.sleep(0.05)
                batch = strict_batch(c, batch.id)
            assert batch.status == "completed" and batch.request_counts is not None
            assert (batch.request_counts.completed, batch.request_counts.failed) == (4, 2)
            assert {e["custom_id"] for e in lines_of(c, batch.error_file_id)} == {"img-002", "img-004"}
            assert len(lines_of(c, batch.output_file_id)) == 4
            with pytest.raises(openai.APIStatusError) as exc:
                upload(c, b"x" * 150_000)
            assert exc.value.status_code == 413 and check_error_body(exc.value)["code"] == "file_too_large"
            with pytest.raises(openai.NotFoundError):
                c.batches.retrieve("batch_missing")
            assert c.files.delete(f.id).deleted
        stats = server.stats()
        assert stats["batches"]["lines"] == {"completed": 4, "failed": 2}
        assert stats["requests"]["POST /v1/batches"] == 1
    finally:
        server.stop()
