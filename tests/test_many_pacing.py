"""The batch engine's pacing (dalle_kit.pacing): a fake clock, no network, no sleeping beyond a few ms."""

from __future__ import annotations

import asyncio
import email.utils
import math
import time

from hypothesis import given
from hypothesis import strategies as st

from dalle_kit.pacing import Pacer, request_tokens, retry_after

WINDOW = 60.0
SLACK = 1e-6  # the pacer's own allowance for float rounding at the window's edge


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def start(pacer: Pacer, clock: Clock, images: int = 1, tokens: int = 0) -> float:
    """Wait (on the fake clock) until the pacer lets the request start; return when it started."""
    for _ in range(10_000):
        wait = pacer.wait_for(images, tokens)
        if wait == 0:
            return clock.now
        assert wait > 0
        clock.advance(wait)
    raise AssertionError("the pacer never let the request start")


def most_in_a_window(starts: list[tuple[float, int]]) -> int:
    """The most units that started within any half-open 60 s window."""
    return max((sum(n for t, n in starts if t0 <= t < t0 + WINDOW - SLACK) for t0, _ in starts), default=0)


# -- limits given by the caller ----------------------------------------------------------------------------------

def test_images_per_minute_spreads_starts_evenly():
    clock = Clock()
    pacer = Pacer(images_per_minute=30, clock=clock)  # one image every 2 s
    starts = [start(pacer, clock) - 1000.0 for _ in range(6)]
    assert starts == [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]


def test_a_request_of_n_images_counts_n():
    clock = Clock()
    pacer = Pacer(images_per_minute=60, clock=clock)
    assert start(pacer, clock, images=4) == 1000.0
    assert start(pacer, clock, images=1) == 1004.0


def test_a_batch_far_below_no_limit_is_never_slowed():
    clock = Clock()
    pacer = Pacer(clock=clock)
    assert all(pacer.wait_for(1, 5000) == 0 for _ in range(500))


@given(limit=st.integers(1, 40),
       requests=st.lists(st.tuples(st.integers(1, 12), st.floats(0, 90, allow_nan=False)), max_size=40))
def test_no_window_ever_holds_more_images_than_the_limit(limit, requests):
    """The promise: under any sequence of requests (sizes up to the limit, any gaps), no 60 s window holds the
    starts of more images than ``images_per_minute``."""
    clock = Clock()
    pacer = Pacer(images_per_minute=limit, clock=clock)
    starts = []
    for images, gap in requests:
        images = min(images, limit)
        clock.advance(gap)
        starts.append((start(pacer, clock, images), images))
    assert most_in_a_window(starts) <= limit


@given(tpm=st.integers(1_000, 50_000),
       requests=st.lists(st.tuples(st.integers(1, 50_000), st.floats(0, 90, allow_nan=False)), max_size=30))
def test_no_window_ever_holds_more_tokens_than_the_limit(tpm, requests):
    clock = Clock()
    pacer = Pacer(tokens_per_minute=tpm, clock=clock)
    starts = []
    for tokens, gap in requests:
        clock.advance(gap)
        at = start(pacer, clock, 1, tokens)
        if tokens <= tpm:  # larger than the limit: let through for the API to refuse ("Request too large")
            starts.append((at, tokens))
    assert most_in_a_window(starts) <= tpm


def test_a_request_larger_than_the_limit_is_not_held_forever():
    clock = Clock()
    pacer = Pacer(images_per_minute=2, tokens_per_minute=100, clock=clock)
    assert pacer.wait_for(5, 10_000) == 0  # the API will answer "Request too large"; waiting would not help


# -- limits the API reports -----------------------------------------------------------------------------------

def headers(limit: int, remaining: int, family: str = "requests") -> dict[str, str]:
    return {f"x-ratelimit-limit-{family}": str(limit), f"x-ratelimit-remaining-{family}": str(remaining)}


def test_reported_limits_slow_nothing_while_the_remaining_budget_is_ample():
    clock = Clock()
    pacer = Pacer(clock=clock)
    pacer.learn(headers(250, 240))
    assert [pacer.wait_for(1, 300) for _ in range(20)] == [0.0] * 20  # 20 in flight, 240 left: no wait
    assert pacer.reported() == {"images": (250.0, 240.0)}


def test_reported_limits_wait_only_when_the_remaining_budget_is_short():
    clock = Clock()
    pacer = Pacer(clock=clock)
    pacer.learn(headers(60, 2))  # 60 a minute, 2 left: one refills every second
    assert pacer.wait_for(1, 0) == 0 and pacer.wait_for(1, 0) == 0
    wait = pacer.wait_for(1, 0)
    assert 0.9 <= wait <= 1.1  # the third waits for one image of refill
    pacer.done(1, 0, headers(60, 5))  # an answer came back: the API says 5 left, 1 is still in flight
    assert pacer.wait_for(1, 0) == 0


def test_reported_tokens_limit_the_tokens():
    clock = Clock()
    pacer = Pacer(clock=clock)
    pacer.learn(headers(60_000, 1_000, "tokens"))  # 1,000 tokens a second refill, 1,000 left
    assert pacer.wait_for(1, 800) == 0
    assert 1.5 <= pacer.wait_for(1, 2_000) <= 2.0  # 200 left: 1,800 short, at 1,000 a second


def test_images_headers_win_over_requests_headers():
    pacer = Pacer(clock=Clock())
    pacer.learn({**headers(10, 10, "requests"), **headers(250, 3, "images")})
    assert pacer.reported()["images"] == (250.0, 3.0)


def test_unreadable_headers_are_ignored():
    pacer = Pacer(clock=Clock())
    pacer.learn({"x-ratelimit-limit-requests": "lots", "x-ratelimit-remaining-requests": "",
                 "x-ratelimit-limit-tokens": "0", "x-ratelimit-remaining-tokens": "0"})
    assert pacer.reported() == {} and pacer.wait_for(1, 1) == 0


# -- hold after a 429 ----------------------------------------------------------------------------------------------

def test_hold_keeps_every_start_back_until_the_time_asked():
    clock = Clock()
    pacer = Pacer(clock=clock)
    pacer.hold(5.0)
    assert pacer.wait_for(1, 0) == 5.0
    clock.advance(3.0)
    pacer.hold(1.0)  # a shorter hold never shortens the longer one
    assert pacer.wait_for(1, 0) == 2.0
    clock.advance(2.0)
    assert pacer.wait_for(1, 0) == 0


def test_acquire_gives_up_when_the_time_left_is_shorter_than_the_wait():
    clock = Clock()
    pacer = Pacer(clock=clock)
    pacer.hold(3600.0)
    began = time.monotonic()
    assert asyncio.run(pacer.acquire(1, 0, remaining=0.01)) is False
    assert time.monotonic() - began < 5  # it did not wait the hour
    clock.advance(3600.0)
    assert asyncio.run(pacer.acquire(1, 0, remaining=0.01)) is True


# -- Retry-After -----------------------------------------------------------------------------------------------

def test_retry_after_ms_wins_over_retry_after():
    assert retry_after({"retry-after-ms": "150", "retry-after": "1"}) == 0.15


def test_retry_after_in_seconds():
    assert retry_after({"retry-after": "2"}) == 2.0
    assert retry_after({"retry-after": "0.5"}) == 0.5
    assert retry_after({"retry-after": "-3"}) == 0.0


def test_retry_after_as_an_http_date():
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= (retry_after({"retry-after": when}) or 0) <= 31
    assert retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # in the past: now


def test_retry_after_without_a_usable_value_is_none():
    for given_headers in (None, {}, {"retry-after": ""}, {"retry-after": "soon"}, {"retry-after": "  "},
                          {"retry-after": "inf"}, {"retry-after": "nan"}, {"retry-after-ms": "x"},
                          {"retry-after-ms": "inf"}, {"retry-after": "Mon, 99 Foo 2025 99:99:99 GMT"}):
        assert retry_after(given_headers) is None, given_headers
    assert retry_after({"retry-after-ms": "garbage", "retry-after": "4"}) == 4.0  # falls back to the next


@given(st.dictionaries(st.sampled_from(["retry-after", "retry-after-ms", "x-other"]), st.text(max_size=40)))
def test_retry_after_never_raises_on_any_header_text(given_headers):
    seconds = retry_after(given_headers)
    assert seconds is None or (math.isfinite(seconds) and seconds >= 0)


@given(st.datetimes(timezones=st.just(__import__("datetime").UTC)))
def test_retry_after_reads_any_http_date(moment):
    seconds = retry_after({"retry-after": email.utils.format_datetime(moment, usegmt=True)})
    assert seconds is not None and math.isfinite(seconds) and seconds >= 0


def test_request_tokens_grow_with_quality_size_and_n():
    from dalle_kit import Kit

    with Kit(offline=True, quiet=True) as kit:
        low = request_tokens(kit.request("generate", prompt="a cat", quality="low", size="1024x1024"))
        high = request_tokens(kit.request("generate", prompt="a cat", quality="high", size="1024x1024"))
        big = request_tokens(kit.request("generate", prompt="a cat", quality="high", size="1536x1024"))
        four = request_tokens(kit.request("generate", prompt="a cat", quality="high", size="1024x1024", n=4))
    assert low < high < big and four > 3 * high
