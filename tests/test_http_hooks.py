"""What dalle_kit says and decides between the SDK's retries (response hooks under the SDK)."""

from __future__ import annotations

import asyncio

import httpx2

from dalle_kit.http_hooks import hooks


def _answer(status: int, headers: dict[str, str], retry_count: int = 0, code: str = "rate_limit_exceeded"):
    request = httpx2.Request("POST", "https://api.openai.com/v1/images/generations",
                             headers={"x-stainless-retry-count": str(retry_count)})
    return httpx2.Response(status, headers=headers, request=request,
                           json={"error": {"message": "m", "type": "requests", "param": None, "code": code}})


def test_a_long_wait_is_announced_with_its_reason_and_attempt(capsys):
    sync_hook, _ = hooks(max_retries=2, quiet=False)
    sync_hook(_answer(429, {"retry-after": "37"}))
    assert "rate limited; waiting 37 s as the API asks, then retry 1 of 2" in capsys.readouterr().err
    sync_hook(_answer(503, {"retry-after-ms": "4500"}, retry_count=1))
    assert "server error 503; waiting 4 s as the API asks, then retry 2 of 2" in capsys.readouterr().err


def test_short_waits_the_last_attempt_and_quiet_kits_say_nothing(capsys):
    sync_hook, _ = hooks(max_retries=2, quiet=False)
    sync_hook(_answer(429, {"retry-after-ms": "150"}))
    sync_hook(_answer(429, {"retry-after": "30"}, retry_count=2))  # the SDK gives up: the error's note speaks
    quiet_hook, _ = hooks(max_retries=2, quiet=True)
    quiet_hook(_answer(429, {"retry-after": "30"}))
    assert capsys.readouterr().err == ""


def test_a_wait_longer_than_the_sdk_allows_says_it_gives_up(capsys):
    sync_hook, _ = hooks(max_retries=2, quiet=False)
    sync_hook(_answer(429, {"retry-after": "600"}))
    assert "longer than the SDK waits" in capsys.readouterr().err


def test_insufficient_quota_is_marked_not_retryable_sync_and_async():
    sync_hook, async_hook = hooks(max_retries=2, quiet=False)
    answer = _answer(429, {"retry-after": "20"}, code="insufficient_quota")
    sync_hook(answer)
    assert answer.headers["x-should-retry"] == "false"
    again = _answer(429, {}, code="insufficient_quota")
    asyncio.run(async_hook(again))
    assert again.headers["x-should-retry"] == "false"
    plain = _answer(429, {"retry-after-ms": "10"})
    sync_hook(plain)
    assert "x-should-retry" not in plain.headers
