"""Errors from the API stay the SDK's own exception types; this adds a readable note where it helps.

Notes are Python 3.11 exception notes (``add_note``): they show under the traceback in notebooks and
terminals. Anything that looks like an API key is scrubbed from the message first.

``mark_not_retryable`` is an HTTP response hook: a 429 whose body says ``insufficient_quota`` gets the
``x-should-retry: false`` header the SDK obeys, so the SDK does not retry what waiting cannot fix.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager

import httpx2
import openai

__all__ = ["amark_not_retryable", "annotate", "mark_not_retryable", "note_for", "scrub"]

#: Error codes that arrive as 429 but that no retry can fix.
NOT_RETRYABLE_CODES = ("insufficient_quota",)

_KEYLIKE = re.compile(r"sk-[A-Za-z0-9_\-*]{6,}")


def scrub(text: str, key: str | None = None) -> str:
    """``text`` with the key (and anything shaped like one) replaced by ``sk-…``."""
    if key:
        text = text.replace(key, "sk-…")
    return _KEYLIKE.sub("sk-…", text)


def note_for(exc: openai.APIError) -> str | None:
    """What to do about ``exc``, in one or two sentences, or None when the SDK's message says enough."""
    body = exc.body if isinstance(exc.body, dict) else {}
    code = exc.code or body.get("code")
    status = getattr(exc, "status_code", None)
    message = (exc.message or "").lower()
    if code == "moderation_blocked":
        details = body.get("moderation_details") or {}
        stage = details.get("moderation_stage") or details.get("stage") or "unknown"
        categories = ", ".join(details.get("categories") or []) or "unspecified"
        return (f"dalle_kit: blocked by moderation at the {stage} stage (categories: {categories}). "
                "This is never retried: rephrase the prompt.")
    if code == "insufficient_quota":
        return ("dalle_kit: the account has no credit left (insufficient_quota). Add credit or raise the "
                "budget in the OpenAI billing settings (platform.openai.com/settings/organization/billing); "
                "dalle_kit does not retry this, since waiting does not help. Without a key, Kit() runs offline.")
    if code == "billing_hard_limit_reached":
        return ("dalle_kit: the account's billing hard limit is reached. Raise it in the OpenAI billing "
                "settings (platform.openai.com/settings/organization/limits); dalle_kit does not retry this.")
    if status == 403 and "verif" in message:
        return ("dalle_kit: this model needs a verified organization. Verify it in the OpenAI organization "
                "settings (General → Verify Organization); access can take 15 minutes to arrive.")
    if status == 401:
        return ("dalle_kit: the API refused the key. Check OPENAI_API_KEY (dalle_kit never prints it), "
                "or run without a key to use the offline simulator.")
    if status == 429:
        return ("dalle_kit: rate limited even after the SDK's retries. Wait a minute, lower n, or raise "
                "Kit(max_retries=...).")
    if code == "model_not_found":
        return "dalle_kit: this model is not served here; dalle_kit.models() lists current models."
    return None


@contextmanager
def annotate(key: str | None = None) -> Iterator[None]:
    """Re-raise SDK errors unchanged in type, with the key scrubbed and a note added."""
    try:
        yield
    except openai.APIError as exc:
        clean = scrub(str(exc.message), key)
        if clean != exc.message:
            exc.message = clean
            exc.args = tuple(scrub(str(a), key) if isinstance(a, str) else a for a in exc.args)
        if isinstance(exc.body, dict) and isinstance(exc.body.get("message"), str):
            exc.body["message"] = scrub(exc.body["message"], key)
        note = note_for(exc)
        if note and note not in getattr(exc, "__notes__", ()):
            exc.add_note(note)
        raise


def _quota_code(response: httpx2.Response) -> str | None:
    if response.status_code != 429:
        return None
    try:
        error = json.loads(response.content).get("error") or {}
    except (ValueError, AttributeError):
        return None
    code = error.get("code") or error.get("type") if isinstance(error, dict) else None
    return code if code in NOT_RETRYABLE_CODES else None


def mark_not_retryable(response: httpx2.Response) -> None:
    """Response hook: an ``insufficient_quota`` 429 is marked ``x-should-retry: false`` (the SDK obeys it)."""
    if response.status_code == 429:
        response.read()
        if _quota_code(response):
            response.headers["x-should-retry"] = "false"


async def amark_not_retryable(response: httpx2.Response) -> None:
    """Async twin of :func:`mark_not_retryable`."""
    if response.status_code == 429:
        await response.aread()
        if _quota_code(response):
            response.headers["x-should-retry"] = "false"
