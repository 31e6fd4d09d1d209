"""Faults on demand (deterministic under a seed), moderation triggers, counters, and the serve command line."""

from __future__ import annotations

import asyncio
import re
import time

import openai
import pytest
from simulator_fixtures import AUTH, Served, aclient, client, raw

from dalle_kit.hosts import is_loopback as _is_loopback
from dalle_kit.simulator import Simulator, parse_fail
from dalle_kit.simulator.ratelimit import duration
from dalle_kit.simulator.server import serve_main

BODY = {"model": "gpt-image-2", "prompt": "a cat", "quality": "low"}


def statuses(sim: Simulator, count: int) -> list[tuple[int, dict]]:
    out = []
    for _ in range(count):
        r = raw(sim, "POST", "/v1/images/generations", json=BODY, headers=AUTH)
        out.append((r.status_code, dict(r.headers)))
    return out


def test_parse_fail():
    assert parse_fail("429:0.25,500:0.05,drop:0.1") == {429: 0.25, 500: 0.05, "drop": 0.1}
    assert parse_fail(" 503:1 ") == {503: 1.0}
    assert parse_fail("") == {}
    for bad in ("429", "429:x", "429:1.5", "200:0.1", "boom:0.1", "429:0.6,500:0.6"):
        with pytest.raises(ValueError):
            parse_fail(bad)


def test_injected_429_carry_retry_headers_and_are_seeded():
    first = statuses(Simulator(seed=1, fail={429: 0.5}), 20)
    codes = [s for s, _ in first]
    assert 4 <= codes.count(429) <= 16 and codes.count(200) == 20 - codes.count(429)
    for status, headers in first:
        if status == 429:
            assert int(headers["retry-after"]) >= 1
            assert 20 <= int(headers["retry-after-ms"]) <= 150
    again = statuses(Simulator(seed=1, fail={429: 0.5}), 20)
    assert [(s, h.get("retry-after-ms")) for s, h in again] == [(s, h.get("retry-after-ms")) for s, h in first]
    other = [s for s, _ in statuses(Simulator(seed=2, fail={429: 0.5}), 20)]
    assert other != codes


def test_sdk_retries_through_injected_429s():
    sim = Simulator(seed=1, fail={429: 0.5})
    c = client(sim, max_retries=8)
    start = time.monotonic()
    results = [c.images.generate(**BODY) for _ in range(10)]
    assert all(len(r.data) == 1 for r in results)
    stats = sim.stats()["by_endpoint"]["POST /v1/images/generations"]
    assert stats["200"] == 10 and stats["429"] >= 3
    assert time.monotonic() - start < 10  # retry-after-ms keeps the waits short


def test_sdk_without_retries_sees_rate_limit_error():
    c = client(Simulator(seed=1, fail={429: 1.0}), max_retries=0)
    with pytest.raises(openai.RateLimitError) as info:
        c.images.generate(**BODY)
    assert info.value.code == "rate_limit_exceeded" and info.value.response.headers["retry-after"] == "1"


def test_500_and_drop():
    c = client(Simulator(seed=3, fail={500: 1.0}), max_retries=0)
    with pytest.raises(openai.InternalServerError):
        c.images.generate(**BODY)
    sim = Simulator(seed=3, fail={"drop": 1.0})
    with pytest.raises(openai.APIConnectionError):
        client(sim, max_retries=0).images.generate(**BODY)
    assert sim.stats()["statuses"] == {"dropped": 1}
    mixed = Simulator(seed=0, fail={500: 0.4, "drop": 0.15})  # seed 0 draws: 500, ok, ok, drop, ok, drop, 500, 500, ok
    c = client(mixed, max_retries=10)
    assert all(c.images.generate(**BODY).data for _ in range(4))
    assert mixed.stats()["statuses"] == {"200": 4, "500": 3, "dropped": 2}


def test_async_client_retries_too():
    sim = Simulator(seed=1, fail={429: 0.4, "drop": 0.1})

    async def go():
        c = aclient(sim, max_retries=8)
        return [await c.images.generate(**BODY) for _ in range(5)]

    assert all(r.data for r in asyncio.run(go()))


def test_served_fail_429_with_retries(tmp_path):
    server = Served(tmp_path, "--fail", "429:0.5", "--seed", "1")
    try:
        answers = []
        with openai.OpenAI(api_key="k", base_url=server.url, max_retries=0) as bare:
            for _ in range(6):
                try:
                    bare.images.generate(**BODY)
                    answers.append(200)
                except openai.RateLimitError as exc:
                    assert int(exc.response.headers["Retry-After"]) >= 1 and exc.response.headers["retry-after-ms"]
                    answers.append(429)
        assert 429 in answers
        with openai.OpenAI(api_key="k", base_url=server.url, max_retries=8) as c:
            assert all(c.images.generate(**BODY).data for _ in range(10))
        stats = server.stats()["by_endpoint"]["POST /v1/images/generations"]
        assert stats["200"] == 10 + answers.count(200) and stats["429"] >= answers.count(429)
    finally:
        server.stop()


def test_served_drop_is_a_connection_error(tmp_path):
    server = Served(tmp_path, "--fail", "drop:1", "--seed", "1")
    try:
        with openai.OpenAI(api_key="k", base_url=server.url, max_retries=0) as c, \
                pytest.raises(openai.APIConnectionError):
            c.images.generate(**BODY)
        assert server.stats()["statuses"]["dropped"] == 1
    finally:
        server.stop()


def test_rate_limit_images_per_minute():
    sim = Simulator(rate_limit=3)
    now = [1000.0]
    sim.faults.clock = lambda: now[0]
    c = client(sim, max_retries=0)
    c.images.generate(**BODY, n=2)
    now[0] += 10
    c.images.generate(**BODY)
    with pytest.raises(openai.RateLimitError) as info:
        c.images.generate(**BODY)
    assert info.value.code == "rate_limit_exceeded"
    assert info.value.response.headers["retry-after"] == "50"  # the first two images leave the window at t+60
    assert info.value.response.headers["retry-after-ms"] == "50000"
    now[0] += 50
    assert c.images.generate(**BODY).data
    with pytest.raises(openai.RateLimitError):
        c.images.generate(**BODY, n=4)  # more than the limit can ever admit at once
    assert sim.stats()["faults"]["rate_limited"] == 2


def test_latency_fixed_and_seeded_range():
    sim = Simulator(latency=0.2)
    start = time.monotonic()
    client(sim).images.generate(**BODY)
    assert time.monotonic() - start >= 0.2
    a, b = Simulator(seed=9, latency=(0.1, 2.0)), Simulator(seed=9, latency=(0.1, 2.0))
    draws = [a.faults.delay() for _ in range(5)]
    assert draws == [b.faults.delay() for _ in range(5)] and all(0.1 <= d <= 2.0 for d in draws)
    assert len(set(draws)) == 5


def test_latency_includes_drawing(monkeypatch):
    """The latency is the least an image answer takes, drawing included: a slow draw is not waited for twice."""
    from dalle_kit.simulator import output

    real = output.encoded

    def slow(*args, **kwargs):
        time.sleep(0.6)
        return real(*args, **kwargs)

    monkeypatch.setattr(output, "encoded", slow)
    c = client(Simulator(latency=0.6))
    start = time.monotonic()
    assert c.images.generate(**BODY).data
    took = time.monotonic() - start
    assert 0.6 <= took < 1.05  # drawing then the whole latency would be >= 1.2 s
    monkeypatch.setattr(output, "encoded", real)  # a fast draw still waits for the rest of the latency
    start = time.monotonic()
    assert c.images.generate(**BODY).data
    assert time.monotonic() - start >= 0.6


def test_moderation_trigger_words():
    c = client(Simulator(), max_retries=3)
    with pytest.raises(openai.BadRequestError) as info:
        c.images.generate(**{**BODY, "prompt": "a poster saying MODERATION-TEST"})
    err = info.value
    assert (err.code, err.type, err.param) == ("moderation_blocked", "image_generation_user_error", None)
    assert err.body["moderation_details"] == {"moderation_stage": "input", "categories": ["violence"]}
    assert "safety_violations=[violence]" in err.body["message"]
    with pytest.raises(openai.BadRequestError) as info:
        c.images.generate(**{**BODY, "prompt": "moderation-output-test"})
    assert info.value.body["moderation_details"]["moderation_stage"] == "output"
    stream = c.images.generate(**{**BODY, "prompt": "moderation-output-test"}, stream=True, partial_images=2)
    seen = []
    with pytest.raises(openai.APIError) as info:
        for event in stream:
            seen.append(event.type)
    assert seen == ["image_generation.partial_image"] * 2 and info.value.code == "moderation_blocked"
    custom = client(Simulator(moderation_words={"dragon": ("input", ["self-harm"])}), max_retries=0)
    with pytest.raises(openai.BadRequestError) as info:
        custom.images.generate(**{**BODY, "prompt": "a dragon"})
    assert info.value.body["moderation_details"]["categories"] == ["self-harm"]
    assert custom.images.generate(**{**BODY, "prompt": "moderation-test"}).data  # defaults replaced
    assert client(Simulator(moderation_words={})).images.generate(**{**BODY, "prompt": "moderation-test"}).data


def test_stats_endpoint_and_reset():
    sim = Simulator()
    c = client(sim, max_retries=0)
    c.images.generate(**BODY, n=2)
    with pytest.raises(openai.BadRequestError):
        c.images.generate(**{**BODY, "n": 20})
    c.models.list()
    raw(sim, "GET", "/v1/models")  # 401
    over_http = raw(sim, "GET", "/_simulator/stats").json()
    assert over_http == sim.stats()
    assert over_http["requests"] == {"POST /v1/images/generations": 2, "GET /v1/models": 2}
    assert over_http["statuses"] == {"200": 2, "400": 1, "401": 1}
    assert over_http["by_endpoint"]["POST /v1/images/generations"] == {"200": 1, "400": 1}
    assert over_http["images"] == 2
    sim.reset_stats()
    assert sim.stats()["total"] == 0
    c.images.generate(**BODY)
    assert raw(sim, "POST", "/_simulator/reset", headers=AUTH).json() == {"reset": True} and sim.stats()["total"] == 0


def test_loopback_detection_and_warning(capsys):
    assert _is_loopback("127.0.0.1") and _is_loopback("localhost") and _is_loopback("::1")
    assert not _is_loopback("0.0.0.0") and not _is_loopback("192.168.1.5")
    assert serve_main(["--host", "192.0.2.1", "--port", "0"]) == 1  # TEST-NET: warns, then cannot bind
    err = capsys.readouterr().err
    assert "WARNING" in err and "192.0.2.1" in err and "ANY API key" in err


def test_serve_rejects_bad_options(capsys):
    with pytest.raises(SystemExit) as info:
        serve_main(["--fail", "429:2"])
    assert info.value.code == 2 and "between 0 and 1" in capsys.readouterr().err


# -- rate-limit headers and the tokens-per-minute limit ------------------------------------------------------------
RATE_HEADERS = tuple(f"x-ratelimit-{what}-{family}" for family in ("requests", "images", "tokens")
                     for what in ("limit", "remaining", "reset"))
DURATION = re.compile(r"^(\d+h)?(\d+m)?(\d+(\.\d+)?s|\d+ms)$")


def rate_headers(headers) -> dict[str, str]:
    """The nine x-ratelimit headers, checked for presence and form."""
    out = {name: headers[name] for name in RATE_HEADERS}  # KeyError names the missing one
    for family in ("requests", "images", "tokens"):
        assert int(out[f"x-ratelimit-limit-{family}"]) >= int(out[f"x-ratelimit-remaining-{family}"]) >= 0
        assert DURATION.match(out[f"x-ratelimit-reset-{family}"]), out
    assert [out[f"x-ratelimit-{w}-requests"] for w in ("limit", "remaining", "reset")] == \
        [out[f"x-ratelimit-{w}-images"] for w in ("limit", "remaining", "reset")]
    return out


def fake_clock(sim: Simulator, start: float = 1000.0) -> list[float]:
    now = [start]
    sim.faults.clock = lambda: now[0]
    return now


def test_duration_format():
    cases = {0: "0s", -1: "0s", 0.0004: "1ms", 0.02: "20ms", 0.999: "999ms", 1: "1s", 1.2: "1.2s", 59.963: "59.963s",
             60: "1m0s", 90.5: "1m30.5s", 360: "6m0s", 3600: "1h0m0s", 3725.25: "1h2m5.25s"}
    assert {s: duration(s) for s in cases} == cases


def test_rate_limit_headers_on_every_response_kind():
    sim = Simulator(rate_limit=2)
    fake_clock(sim)
    c = client(sim, max_retries=0)
    ok = c.images.with_raw_response.generate(**BODY)
    assert ok.status_code == 200 and ok.parse().data
    seen = {"200 json": rate_headers(ok.headers)}
    streamed = c.images.with_raw_response.generate(**BODY, stream=True, partial_images=1)
    assert streamed.headers["content-type"] == "text/event-stream"
    seen["200 sse"] = rate_headers(streamed.headers)
    assert [e.type for e in streamed.parse()][-1] == "image_generation.completed"
    with pytest.raises(openai.BadRequestError) as bad:
        c.images.generate(**{**BODY, "size": "13x13"})
    seen["400"] = rate_headers(bad.value.response.headers)
    seen["401"] = rate_headers(raw(sim, "POST", "/v1/images/generations", json=BODY).headers)
    with pytest.raises(openai.NotFoundError) as missing:
        c.models.retrieve("no-such-model")
    seen["404"] = rate_headers(missing.value.response.headers)
    with pytest.raises(openai.RateLimitError) as limited:
        c.images.generate(**BODY)
    seen["429"] = rate_headers(limited.value.response.headers)
    listed = c.models.with_raw_response.list()
    seen["models"] = rate_headers(listed.headers)
    assert listed.parse().data
    assert {k: v["x-ratelimit-limit-requests"] for k, v in seen.items()} == dict.fromkeys(seen, "2")
    assert seen["200 json"]["x-ratelimit-remaining-requests"] == "1"
    assert seen["429"]["x-ratelimit-remaining-images"] == "0"
    assert seen["200 json"]["x-ratelimit-limit-tokens"] == "8000000"  # no tpm set: the reported default
    assert seen["200 json"]["x-ratelimit-reset-images"] == "1m0s"  # the clock stands still: 60 s to an empty window
    assert raw(sim, "GET", "/_simulator/stats").headers.get("x-ratelimit-limit-requests") is None


def test_remaining_counts_decrease_and_defaults_never_refuse():
    sim = Simulator()
    now = fake_clock(sim)
    c = client(sim, max_retries=0)
    first = rate_headers(c.models.with_raw_response.list().headers)
    assert (first["x-ratelimit-limit-requests"], first["x-ratelimit-remaining-requests"]) == ("250", "250")
    assert (first["x-ratelimit-limit-tokens"], first["x-ratelimit-remaining-tokens"]) == ("8000000", "8000000")
    assert first["x-ratelimit-reset-requests"] == first["x-ratelimit-reset-tokens"] == "0s"
    remaining = [(250, 8_000_000)]
    for n in (1, 2, 3):
        now[0] += 1.5
        r = c.images.with_raw_response.generate(**BODY, n=n)
        h = rate_headers(r.headers)
        tokens = r.parse().usage.total_tokens
        remaining.append((int(h["x-ratelimit-remaining-requests"]), int(h["x-ratelimit-remaining-tokens"])))
        assert remaining[-1] == (remaining[-2][0] - n, remaining[-2][1] - tokens)
    assert h["x-ratelimit-reset-requests"] == h["x-ratelimit-reset-tokens"] == "1m0s"  # until the newest leaves
    now[0] += 10.5
    later = rate_headers(c.models.with_raw_response.list().headers)
    assert (later["x-ratelimit-remaining-requests"], later["x-ratelimit-reset-requests"]) == ("244", "49.5s")
    now[0] += 49.5
    assert rate_headers(c.models.with_raw_response.list().headers)["x-ratelimit-remaining-requests"] == "250"
    assert sim.faults.admit(10_000, 10**9) is None  # no limit configured: reported, never enforced
    assert rate_headers(c.models.with_raw_response.list().headers)["x-ratelimit-remaining-tokens"] == "0"


def test_tokens_per_minute_limit():
    sim = Simulator(tpm=1000)
    now = fake_clock(sim)
    c = client(sim, max_retries=0)
    costs = []
    for _ in range(3):
        costs.append(c.images.generate(**BODY).usage.total_tokens)
        now[0] += 2
    assert sum(costs) <= 1000 < sum(costs) + costs[0]
    with pytest.raises(openai.RateLimitError) as info:
        c.images.generate(**BODY)
    err = info.value
    assert (err.code, err.type) == ("rate_limit_exceeded", "tokens")
    assert err.message.startswith(
        f"Error code: 429 - Rate limit reached for gpt-image-2 in organization org-simulated on tokens per min (TPM): "
        f"Limit 1000, Used {sum(costs)}, Requested {costs[0]}. Please try again in 54s.")
    assert (err.response.headers["retry-after"], err.response.headers["retry-after-ms"]) == ("54", "54000")
    h = rate_headers(err.response.headers)
    assert (h["x-ratelimit-limit-tokens"], h["x-ratelimit-remaining-tokens"]) == ("1000", str(1000 - sum(costs)))
    assert h["x-ratelimit-limit-requests"] == "250"  # images not limited here
    assert sim.stats()["faults"] == {"rate_limited_tokens": 1}
    assert sim.stats()["rate_limit"] == {"images_per_minute": None, "used": 3, "tokens_per_minute": 1000,
                                         "tokens_used": sum(costs)}
    now[0] += 54  # the first request leaves the window
    assert c.images.generate(**BODY).data
    with pytest.raises(openai.RateLimitError) as info:
        c.images.generate(**{**BODY, "quality": "high", "size": "1536x1024"})  # larger than the limit itself
    assert info.value.message.startswith("Error code: 429 - Request too large for gpt-image-2")
    assert "retry-after" not in info.value.response.headers and "retry-after-ms" not in info.value.response.headers


def test_tokens_limit_counts_streams_and_sdk_waits_for_it():
    sim = Simulator(tpm=800)
    c = client(sim, max_retries=0)
    events = list(c.images.generate(**BODY, stream=True, partial_images=2))
    assert events[-1].usage.total_tokens == sim.stats()["rate_limit"]["tokens_used"] == 274 + 200
    with pytest.raises(openai.RateLimitError):
        c.images.generate(**BODY, n=2)  # 474 + 2*272 + 2 > 800
    assert c.images.generate(**BODY).data  # 474 + 274 fits


def test_serve_rejects_bad_limits_and_accounts(capsys):
    assert serve_main(["--tpm", "0"]) == 2 and "--tpm must be at least 1" in capsys.readouterr().err
    assert serve_main(["--unlisted", "no-such-model"]) == 2 and "no-such-model" in capsys.readouterr().err
    for bad in (["--account", "broke"], ["--shutdown-date", "gpt-image-2"], ["--shutdown-date", "gpt-image-2=soon"]):
        with pytest.raises(SystemExit) as info:
            serve_main(bad)
        assert info.value.code == 2
    with pytest.raises(ValueError):
        Simulator(tpm=0)
    with pytest.raises(ValueError):
        Simulator(rate_limit=-1)
