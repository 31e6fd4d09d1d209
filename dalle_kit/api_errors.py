"""Errors from the API stay the SDK's own exception types; this adds a readable note where it helps.

Notes are Python 3.11 exception notes (``add_note``): they show under the traceback in notebooks and
terminals. The key is scrubbed first from the whole exception: its message, arguments, body and notes, and
the same for every exception chained to it (``__cause__`` / ``__context__``), where an HTTP library may
have quoted the header it could not send.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import openai

__all__ = ["MIN_SCRUBBED", "annotate", "note_for", "scrub", "scrub_exception"]

_KEYLIKE = re.compile(r"sk-[A-Za-z0-9_\-*]{6,}")
#: A key shorter than this is not scrubbed by its text (it would mangle ordinary words); see ``client.clean_key``.
MIN_SCRUBBED = 8


def scrub(text: str, key: str | None = None) -> str:
    """``text`` with the key (when long enough to be one) and anything shaped like a key replaced by ``sk-…``."""
    if key and len(key) >= MIN_SCRUBBED:
        text = text.replace(key, "sk-…")
    return _KEYLIKE.sub("sk-…", text)


def _scrub_value(value: Any, key: str | None) -> Any:
    if isinstance(value, str):
        return scrub(value, key)
    if isinstance(value, bytes):
        return scrub(value.decode("latin-1"), key).encode("latin-1")
    if isinstance(value, dict):
        return {k: _scrub_value(v, key) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_scrub_value(v, key) for v in value)
    return value


def scrub_exception(exc: BaseException, key: str | None) -> None:
    """Scrub ``exc`` and every exception chained to it, in place: args, message, body and notes."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        with suppress(TypeError, AttributeError):  # an exception type with read-only args
            current.args = _scrub_value(current.args, key)
        for name in ("message", "body"):
            value = getattr(current, name, None)
            if isinstance(value, (str, dict, list)):
                with suppress(AttributeError):
                    setattr(current, name, _scrub_value(value, key))
        notes = getattr(current, "__notes__", None)
        if isinstance(notes, list):
            notes[:] = [scrub(n, key) if isinstance(n, str) else n for n in notes]
        todo += [current.__cause__, current.__context__]


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
    if code == "insufficient_quota" and "workshop_budget" in body:  # dalle-kit proxy: a participant's budget
        return ("dalle_kit: your workshop budget is spent (the proxy's message says how much); ask the teacher to "
                "raise your cap. dalle_kit does not retry this.")
    if code == "token_revoked":
        return "dalle_kit: the teacher revoked this workshop token; ask them to restore it (or for a new one)."
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
    if isinstance(exc, openai.APITimeoutError):
        return ("dalle_kit: no answer within the timeout, even after the SDK's retries. A large or high-quality "
                "image can take minutes: raise Kit(timeout=...) (seconds), or lower size or quality.")
    if isinstance(exc, openai.APIConnectionError):
        host = exc.request.url.host if getattr(exc, "request", None) is not None else "the API"
        return (f"dalle_kit: could not reach {host}, even after the SDK's retries. Check the network, a proxy, or "
                "OPENAI_BASE_URL; Kit(offline=True) works without a network.")
    if isinstance(status, int) and status >= 500:
        return (f"dalle_kit: the API had a server error ({status}) even after the SDK's retries. It is usually "
                "brief: run the cell again in a minute (status.openai.com says whether it is widespread).")
    return None


@contextmanager
def annotate(key: str | None = None) -> Iterator[None]:
    """Re-raise SDK errors unchanged in type, with the key scrubbed everywhere and a note added."""
    try:
        yield
    except openai.APIError as exc:
        scrub_exception(exc, key)
        note = note_for(exc)
        if note and note not in getattr(exc, "__notes__", ()):
            exc.add_note(note)
        raise
