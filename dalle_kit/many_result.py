"""What ``Kit.generate_many`` / ``edit_many`` hand back: per request its images or its error, in input order."""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

import openai

from .errors import DalleKitError, InvalidRequest
from .request import Request
from .results import THUMBNAIL_PX, ImageResult, ImageSet, usd

__all__ = ["ManyResult", "Outcome"]

#: How an outcome came to be: made by the API now, answered from the store, refused before sending (invalid),
#: failed at the API (after any retries), or never sent (the batch stopped: no credit, bad key, deadline).
SOURCES = ("api", "store", "invalid", "failed", "not sent")
#: Thumbnails a batch shows in a notebook (each ~10 kB); the rest are listed as a count.
HTML_THUMBNAILS = 24
ONE_ROW = 8  # up to this many thumbnails show in one row


@dataclass
class Outcome:
    """One request of a batch: its images (``result``) or its ``error``.

    ``given`` is what the caller passed (a prompt, a dict, a ``Request``); ``request`` the validated request
    (None when validation refused it); ``attempts`` how many times it was sent; ``cost`` what its answer cost.
    """

    index: int
    given: Any = field(repr=False)
    request: Request | None = field(default=None, repr=False)
    result: ImageResult | ImageSet | None = field(default=None, repr=False)
    error: BaseException | None = None
    source: str = "not sent"
    attempts: int = 0
    seconds: float = 0.0
    cost: float | None = None

    @property
    def ok(self) -> bool:
        return self.result is not None

    @property
    def images(self) -> list[ImageResult]:
        if self.result is None:
            return []
        return [self.result] if isinstance(self.result, ImageResult) else list(self.result)

    @property
    def prompt(self) -> str | None:
        if self.request is not None:
            return self.request.prompt
        return self.given if isinstance(self.given, str) else (self.given or {}).get("prompt") \
            if isinstance(self.given, dict) else None

    @property
    def moderation(self) -> dict[str, Any] | None:
        """``{"stage": "input" | "output", "categories": [...]}`` when the API's moderation refused it."""
        if not isinstance(self.error, (openai.APIStatusError, DalleKitError)):  # an SDK error, or a Batch line's
            return None
        body = getattr(self.error, "body", None)
        body = body if isinstance(body, dict) else {}
        if (getattr(self.error, "code", None) or body.get("code")) not in ("moderation_blocked",
                                                                            "content_policy_violation"):
            return None
        details = body.get("moderation_details") or {}
        return {"stage": details.get("moderation_stage") or details.get("stage") or "unknown",
                "categories": list(details.get("categories") or [])}

    def reason(self) -> str:
        """One line: why this request has no images (empty when it has)."""
        if self.error is None:
            return ""
        if (mod := self.moderation) is not None:
            categories = ", ".join(mod["categories"]) or "unspecified"
            return f"blocked by moderation at the {mod['stage']} stage ({categories})"
        if self.source == "invalid" or isinstance(self.error, InvalidRequest):
            return f"invalid, not sent: {self.error}"
        text = str(self.error).splitlines()[0] if str(self.error) else type(self.error).__name__
        why = f"{type(self.error).__name__}: {text}"
        return f"not sent ({why})" if self.source == "not sent" else why


class ManyResult(Sequence[Outcome]):
    """The outcomes of a batch, in the order the requests were given.

    ``images`` are all images (in order), ``errors`` the outcomes without images, ``sent`` how many HTTP
    requests went out (retries included; answers from the store send none), ``wall`` the seconds it took.
    ``retry_failed()`` sends again what failed at the API or was never sent.
    """

    def __init__(self, outcomes: Sequence[Outcome], *, sent: int = 0, wall: float = 0.0,
                 rerun: Callable[[list[Outcome]], ManyResult] | None = None) -> None:
        self._outcomes = list(outcomes)
        self.sent = sent
        self.wall = wall
        self._rerun = rerun

    @overload
    def __getitem__(self, index: int) -> Outcome: ...
    @overload
    def __getitem__(self, index: slice) -> list[Outcome]: ...
    def __getitem__(self, index: int | slice) -> Outcome | list[Outcome]:
        return self._outcomes[index]

    def __len__(self) -> int:
        return len(self._outcomes)

    def __iter__(self) -> Iterator[Outcome]:
        return iter(self._outcomes)

    @property
    def images(self) -> ImageSet:
        return ImageSet([image for outcome in self._outcomes for image in outcome.images])

    @property
    def errors(self) -> list[Outcome]:
        return [o for o in self._outcomes if o.error is not None]

    @property
    def cost(self) -> float | None:
        """US dollars the answers received now cost (None when a price is unknown); the store's answers: 0."""
        made = [o for o in self._outcomes if o.source == "api" and o.ok]
        if any(o.cost is None for o in made):
            return None
        return sum(o.cost or 0.0 for o in made)

    def counts(self) -> dict[str, int]:
        out = {source: 0 for source in SOURCES}
        for outcome in self._outcomes:
            out[outcome.source] += 1
        out["moderation"] = sum(1 for o in self._outcomes if o.moderation is not None)
        return out

    def summary(self) -> str:
        """One line: what was made, answered from the store, refused, failed; calls sent, cost, time."""
        c = self.counts()
        images = sum(len(o.images) for o in self._outcomes)
        parts = [f"{len(self)} request{'s' if len(self) != 1 else ''} → {images} image{'s' if images != 1 else ''}"]
        if c["api"]:
            parts.append(f"{c['api']} made")
        if c["store"]:
            parts.append(f"{c['store']} from the store")
        for source, label in (("invalid", "invalid"), ("failed", "failed"), ("not sent", "not sent")):
            if c[source]:
                extra = f" ({c['moderation']} by moderation)" if source == "failed" and c["moderation"] else ""
                parts.append(f"{c[source]} {label}{extra}")
        cost = self.cost
        tail = [f"{self.sent} sent", "cost unknown" if cost is None else usd(cost), f"{self.wall:.1f} s"]
        return ", ".join(parts) + " · " + " · ".join(tail)

    def retry_failed(self) -> ManyResult:
        """Send again the requests that failed at the API (moderation refusals aside: the same prompt would be
        refused again) or were never sent; returns the whole batch with their new outcomes in place."""
        todo = [o for o in self._outcomes if o.source in ("failed", "not sent") and o.moderation is None]
        if not todo or self._rerun is None:
            return self
        again = {o.index: o for o in self._rerun(todo)}
        merged = [again.get(o.index, o) for o in self._outcomes]
        return ManyResult(merged, sent=self.sent + sum(o.attempts for o in again.values()),
                          wall=self.wall, rerun=self._rerun)

    def __repr__(self) -> str:
        return f"ManyResult({self.summary()})"

    def _repr_html_(self) -> str:
        images = [image for outcome in self._outcomes for image in outcome.images]
        cells = [f"<div style='flex:0 1 {THUMBNAIL_PX}px;min-width:0'>{image._repr_html_()}</div>"
                 for image in images[:HTML_THUMBNAILS]]
        if len(images) > HTML_THUMBNAILS:  # a notebook stays light: the rest are on disk and in .images
            cells.append(f"<div style='font:12px sans-serif;align-self:center'>… and {len(images) - HTML_THUMBNAILS}"
                         " more (result.images)</div>")
        wrap = "nowrap" if len(cells) <= ONE_ROW else "wrap"  # a few images: one row (they shrink), never 2 + 2
        lines = [f"<div style='font:12px sans-serif;color:#a00'>#{o.index}: {html.escape(o.reason())}"
                 f"{' — ' + html.escape((o.prompt or '')[:60]) if o.prompt else ''}</div>" for o in self.errors]
        return (f"<div style='font:bold 12px sans-serif;margin:2px 0'>{html.escape(self.summary())}</div>"
                f'<div style="display:flex;flex-wrap:{wrap};gap:6px;align-items:flex-start">{"".join(cells)}</div>'
                f'{"".join(lines)}')
