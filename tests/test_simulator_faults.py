"""Faults on demand (deterministic under a seed), moderation triggers, counters, and the serve command line."""

from __future__ import annotations

import asyncio
import time

import openai
import pytest
from simulator_fixtures import AUTH, Served, aclient, client, raw

from dalle_kit.simulator import Simulator, parse_fail
from dalle_kit.simulator.server import _is_loopback, serve_main

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
        bare = openai.OpenAI(api_key="k", base_url=server.url, max_retries=0)
        answers = []
        for _ in range(6):
            try:
                bare.images.generate(**BODY)
                answers.append(200)
            except openai.RateLimitError as exc:
                assert int(exc.response.headers["Retry-After"]) >= 1 and exc.response.headers["retry-after-ms"]
                answers.append(429)
        assert 429 in answers
        c = openai.OpenAI(api_key="k", base_url=server.url, max_retries=8)
        assert all(c.images.generate(**BODY).data for _ in range(10))
        stats = server.stats()["by_endpoint"]["POST /v1/images/generations"]
        assert stats["200"] == 10 + answers.count(200) and stats["429"] >= answers.count(429)
    finally:
        server.stop()


def test_served_drop_is_a_connection_error(tmp_path):
    server = Served(tmp_path, "--fail", "drop:1", "--seed", "1")
    try:
        with pytest.raises(openai.APIConnectionError):
            openai.OpenAI(api_key="k", base_url=server.url, max_retries=0).images.generate(**BODY)
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
    assert raw(sim, "POST", "/_simulator/reset").json() == {"reset": True} and sim.stats()["total"] == 0


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
