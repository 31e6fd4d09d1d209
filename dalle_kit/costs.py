"""Prices, estimates and budgets for the Images API, in US dollars. The price table itself (``prices.json``, the
``DALLE_KIT_PRICES`` file, :func:`set_price`) is read by :mod:`dalle_kit.price_table`; its names are here too.

Estimates are ranges: output tokens from gpt-image-1's relayed table (scaled by pixels) and the per-image figures
where published, covering both where they disagree; ``size="auto"`` spans the sizes the model can pick and
``quality="auto"`` low..high; prompt tokens from a sixth of the characters to one per UTF-8 byte; input images by
the vision tile rule (85 + 170 per 512-pixel tile) up to twice that, ``input_fidelity="high"`` adding up to a
high-quality 1024x1024 image's count per input (no rule is published for either); no cached input.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from . import registry
from .errors import BudgetExceeded, InvalidArgument
from .price_table import ENV, Price, batch_discount, bundled, number, price, reset_prices, set_price
from .request import Request

__all__ = ["ENV", "Estimate", "Price", "batch_discount", "check_budget", "cost", "estimate", "estimate_many", "price",
           "reset_prices", "set_price", "usd"]

AUTO_QUALITIES = ("low", "medium", "high")
_PER_M = 1_000_000
_PX_1024 = 1024 * 1024


@dataclass(frozen=True)
class Estimate:
    """The estimated cost of some requests: ``low``..``high`` in USD over the ones with a price (None when none
    has), ``unknown`` of the ``requests`` without one, for ``reasons`` (``unknown_models`` names their models)."""

    low: float | None = 0.0
    high: float | None = 0.0
    requests: int = 0
    unknown_models: tuple[str, ...] = ()
    unknown: int = 0
    reasons: tuple[str, ...] = ()
    batch: bool = False

    @property
    def known(self) -> bool:
        return self.unknown == 0

    def __add__(self, other: object) -> Estimate:
        if not isinstance(other, Estimate):
            return NotImplemented
        if not (self.requests and other.requests):  # an empty estimate adds nothing (and no 0.0 to an unknown)
            return dataclasses.replace(other if self.requests == 0 else self, batch=self.batch and other.batch)
        return Estimate(_plus(self.low, other.low), _plus(self.high, other.high), self.requests + other.requests,
                        _union(self.unknown_models, other.unknown_models), self.unknown + other.unknown,
                        _union(self.reasons, other.reasons), self.batch and other.batch)

    def __radd__(self, other: object) -> Estimate:  # sum(estimates) starts from 0
        return self if other == 0 else self.__add__(other)

    def discounted(self, fraction: float) -> Estimate:
        """This estimate with ``fraction`` off (``0.5``: the Batch API's 50%)."""
        if not number(fraction) or fraction > 1:
            raise InvalidArgument(f"discounted(fraction={fraction!r}): expected a number from 0 to 1")
        keep = 1 - fraction
        return dataclasses.replace(self, low=None if self.low is None else self.low * keep,
                                   high=None if self.high is None else self.high * keep, batch=True)

    def __str__(self) -> str:
        if self.low is None or self.high is None:
            return f"unknown ({'; '.join(self.reasons) or 'no price'})"
        lo, hi = usd(self.low), usd(self.high)
        text = lo if lo == hi else f"{lo}–{hi}"
        return f"{text} + {self.unknown} unknown" if self.unknown else text


def _plus(a: float | None, b: float | None) -> float | None:
    return a if b is None else b if a is None else a + b


def _union(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    return a + tuple(x for x in b if x not in a)


def _unknown(model: str, reasons: Iterable[str]) -> Estimate:
    return Estimate(None, None, 1, (model,), 1, tuple(dict.fromkeys(reasons)))


def _tiles(width: int, height: int) -> int:
    """Input tokens for one image by the vision tile rule: fit 2048, shortest side 768, 85 + 170 per 512 tile."""
    scale = min(1.0, 2048 / max(width, height))
    w, h = width * scale, height * scale
    scale = min(1.0, 768 / min(w, h))
    return 85 + 170 * math.ceil(w * scale / 512) * math.ceil(h * scale / 512)


def _output_usd(p: Price, quality: str, w: int, h: int) -> list[float]:
    """Candidate USD for one output image: from token counts (the table's own size, and 1024x1024 scaled by pixels)
    and from per-image figures (the nearest size, scaled by pixels)."""
    counts = bundled()["output_tokens"]["value"]
    base, exact = counts["1024x1024"].get(quality), counts.get(f"{w}x{h}", {}).get(quality)
    rate, tokens = p.image_out, [round(base * w * h / _PX_1024), exact] if base is not None else []
    out = [t * rate / _PER_M for t in tokens if t is not None and rate is not None]
    table = p.per_image.get(quality) or {}
    if table:
        size = f"{w}x{h}" if f"{w}x{h}" in table else min(table, key=lambda s: abs(_area(s) - w * h))
        out.append(table[size] * w * h / _area(size))
    return out


def _area(size: str) -> int:
    w, h = registry.parse_size(size) or (1024, 1024)
    return w * h


def _sizes(request: Request, spec: registry.ModelSpec | None) -> list[tuple[int, int]]:
    raw = request.params.get("size")
    if raw is not None and str(raw).strip().lower() != "auto":
        wh = registry.parse_size(str(raw))
        return [wh] if wh else []
    out = [registry.parse_size(s) or (1024, 1024) for s in (spec.sizes.fixed if spec else registry.FIXED_GPT_SIZES)]
    first = request.images[0].size if request.images else None  # auto follows it where the model allows its size
    if first and (spec is None or spec.sizes.problem(f"{first[0]}x{first[1]}") is None):
        out.append(first)
    return out


def estimate(request: Request, *, batch: bool = False) -> Estimate:
    """The cost of ``request`` as a range (see the module doc for the assumptions); ``batch``: the Batch API's."""
    est = _estimate(request)
    return est.discounted(batch_discount()) if batch else est


def _estimate(request: Request) -> Estimate:
    model, params = request.model, request.params
    p = price(model)
    if p is None:
        return _unknown(model, [f"no published price for {model}"])
    spec = registry.get(model)
    q = params.get("quality")
    qualities = [q] if q not in (None, "auto") else [x for x in AUTO_QUALITIES if not spec or x in spec.qualities]
    sizes = _sizes(request, spec)
    reasons = [] if sizes else [f"size {params.get('size')!r} is not WIDTHxHEIGHT"]
    per_image: list[float] = []
    for quality in qualities or AUTO_QUALITIES:
        for w, h in sizes:
            found = _output_usd(p, str(quality), w, h)
            if not found:
                reasons.append(f"no published output price for {model} at quality {quality!r}")
            per_image += found
    needs = {"text_in": True, "image_in": bool(request.images or request.mask or request.markup),
             "image_out": bool(params.get("partial_images"))}
    reasons += [f"no {name} price for {model}" for name, needed in needs.items() if needed and getattr(p, name) is None]
    if reasons:
        return _unknown(model, reasons)
    n, partials = int(params.get("n") or 1), int(params.get("partial_images") or 0)
    prompt = request.prompt or ""
    text = (math.ceil(len(prompt) / 6), max(1, len(prompt.encode())))
    tiles = sum(_tiles(*u.size) for u in request.images)
    extra = sum(_tiles(*u.size) for u in (request.mask, request.markup) if u is not None)
    fidelity = len(request.images) * bundled()["output_tokens"]["value"]["1024x1024"]["high"]
    images_in = (tiles, 2 * tiles + extra + (fidelity if params.get("input_fidelity") == "high" else 0))
    partial = n * partials * bundled()["partial_image_tokens"]["value"] * (p.image_out or 0.0) / _PER_M
    bounds = [t * (p.text_in or 0.0) / _PER_M + i * (p.image_in or 0.0) / _PER_M + n * o + partial
              for t, i, o in zip(text, images_in, (min(per_image), max(per_image)))]
    return Estimate(bounds[0], bounds[1], 1)


def estimate_many(requests: Iterable[Request], *, batch: bool = False) -> Estimate:
    """The summed estimate of ``requests``; unknown ones stay counted in ``unknown``."""
    return sum((estimate(r, batch=batch) for r in requests), Estimate(batch=batch))


def _n(m: Mapping[str, Any], key: str) -> int:
    return int(m.get(key) or 0)


def cost(model: str, usage: Mapping[str, Any] | None, *, batch: bool = False) -> float | None:
    """The cost in USD of a response's ``usage`` (``ImagesResponse.usage`` or a completed stream event's), or None
    when the price or the usage is unknown. Cached input tokens without a text/image split count as text first."""
    dump = getattr(usage, "model_dump", None)
    data = dump() if callable(dump) else usage
    p = price(model)
    if p is None or not isinstance(data, Mapping):
        return None
    try:
        details, out = data.get("input_tokens_details") or {}, data.get("output_tokens_details") or {}
        if int(data["input_tokens"]) and not details:
            return None
        text, image = _n(details, "text_tokens"), _n(details, "image_tokens")
        split = details.get("cached_tokens_details")
        c_text = _n(split, "text_tokens") if split else min(_n(details, "cached_tokens"), text)
        c_image = _n(split, "image_tokens") if split else min(_n(details, "cached_tokens") - c_text, image)
        out_image, out_text = _n(out or data, "image_tokens" if out else "output_tokens"), _n(out, "text_tokens")
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    total = 0.0
    for tokens, rate in ((text - c_text, p.text_in), (c_text, p.text_in_cached), (image - c_image, p.image_in),
                         (c_image, p.image_in_cached), (out_image, p.image_out), (out_text, p.text_out)):
        if tokens:
            if rate is None:
                return None
            total += tokens * rate / _PER_M
    return total * (1 - batch_discount()) if batch else total


def check_budget(*, cap: float, spent: float, estimate: Estimate, what: str, where: str) -> None:
    """Raise :class:`BudgetExceeded` when ``spent`` plus the estimate's high end would pass ``cap``, or when the
    estimate is (partly) unknown; ``what`` names the work ("this batch of 16 requests"), ``where`` the spend
    ("today on openai")."""
    for name, value in (("cap", cap), ("spent", spent)):
        if not number(value):
            raise InvalidArgument(f"check_budget({name}={value!r}): expected a number of US dollars >= 0")
    had = f"{usd(spent)} already spent {where}".strip()
    if not estimate.known:
        first = estimate.unknown_models[0] if estimate.unknown_models else "MODEL"
        raise BudgetExceeded(
            f"The cost of {what} is unknown ({'; '.join(estimate.reasons)}) and a budget of {usd(cap)} is set "
            f"({had}), so nothing was sent. Set the missing price with dalle_kit.costs.set_price({first!r}, "
            "image_out=..., text_in=..., image_in=...) (USD per 1M tokens; or per_image={quality: {size: USD}}) or "
            f"in a JSON file named by {ENV}, or change the budget with Kit(budget=...).",
            spent=spent, estimate=estimate.high, cap=cap)
    if estimate.high is not None and spent + estimate.high > cap:
        raise BudgetExceeded(
            f"{what[:1].upper()}{what[1:]} would cost {estimate}; with {had} that could reach "
            f"{usd(spent + estimate.high)}, over the budget of {usd(cap)}, so nothing was sent. Raise the budget "
            "with Kit(budget=...) or lower the cost: fewer "
            "images (n), a lower quality or a smaller size.", spent=spent, estimate=estimate.high, cap=cap)


def usd(x: float | None) -> str:
    """``0.053`` -> ``"$0.053"``, ``1.2`` -> ``"$1.20"``, None -> ``"unknown"`` (two significant figures below $1)."""
    if x is None:
        return "unknown"
    sign, x = ("-" if x < 0 else ""), abs(x)
    if x == 0 or x >= 1 or not math.isfinite(x):
        return f"{sign}${x:,.2f}"
    text = f"{x:.{max(2, 1 - math.floor(math.log10(x)))}f}"
    whole, frac = text.split(".")
    return f"{sign}${whole}.{frac[:2]}{frac[2:].rstrip('0')}"
