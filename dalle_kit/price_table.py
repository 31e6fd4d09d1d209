"""The price table: ``prices.json`` beside this module, then the JSON file named by ``DALLE_KIT_PRICES`` (same shape),
then :func:`set_price`, later layers winning field by field. Rates are US dollars per 1M tokens; ``null`` is
unknown, never guessed; every model carries its source, date and confidence (official, relayed, user, none). A
dated snapshot id uses its own entry where there is one, else its model's (``registry.get(id).snapshot_of``).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any, TypeGuard

from . import registry
from .errors import InvalidArgument

__all__ = ["CONFIDENCE", "ENV", "FIELDS", "RATES", "Price", "batch_discount", "bundled", "number", "price",
           "reset_prices", "set_price"]

ENV = "DALLE_KIT_PRICES"
RATES = ("text_in", "text_in_cached", "image_in", "image_in_cached", "image_out", "text_out")
FIELDS = (*RATES, "per_image", "source", "as_of", "confidence")
CONFIDENCE = ("official", "relayed", "user", "none")
_TOP = ("about", "as_of", "batch_discount", "partial_image_tokens", "output_tokens", "models")


@dataclass(frozen=True)
class Price:
    """One model's prices: token rates in USD per 1M tokens (None: unknown), and ``per_image``: quality -> size
    -> USD for one output image where OpenAI publishes such a table (input extra; may be empty)."""

    model: str
    text_in: float | None
    text_in_cached: float | None
    image_in: float | None
    image_in_cached: float | None
    image_out: float | None
    per_image: Mapping[str, Mapping[str, float]]
    source: str
    as_of: dt.date
    confidence: str
    text_out: float | None = None


def number(x: object) -> TypeGuard[float]:
    """A finite real number >= 0 (not a bool)."""
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x) and x >= 0


_overrides: dict[str, dict[str, Any]] = {}
_env_cache: dict[tuple[str, int, int], dict[str, Any]] = {}


def _bad(where: str, problem: str) -> InvalidArgument:
    return InvalidArgument(f"{where}: {problem}")


def _per_image(value: object, where: str) -> Mapping[str, Mapping[str, float]]:
    if not isinstance(value, Mapping) or not all(isinstance(q, str) and isinstance(row, Mapping) and all(
            isinstance(s, str) and registry.parse_size(s) is not None and number(u) for s, u in row.items())
            for q, row in value.items()):
        raise _bad(where, "per_image must map quality -> size -> US dollars >= 0, like {'high': {'1024x1024': "
                   f"0.21}}, not {value!r}")
    return MappingProxyType({q: MappingProxyType({s.strip().lower(): float(u) for s, u in row.items()})
                             for q, row in value.items()})


def _entry(raw: object, where: str) -> dict[str, Any]:
    """The fields of one model's entry, checked (only those present)."""
    if not isinstance(raw, Mapping):
        raise _bad(where, f"expected an object of prices, not {type(raw).__name__}")
    out: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in FIELDS:
            raise _bad(where, f"unknown field {name!r}; allowed: {', '.join(FIELDS)}")
        if name in RATES and value is not None and not number(value):
            raise _bad(where, f"{name}: a price must be a number >= 0 or None, not {value!r}")
        if name == "as_of" and not isinstance(value, dt.date):
            try:
                value = dt.date.fromisoformat(str(value))
            except ValueError:
                raise _bad(where, f"as_of must be a date like '2026-11-23', not {value!r}") from None
        if (name == "confidence" and value not in CONFIDENCE) or (
                name == "source" and not (isinstance(value, str) and value.strip())):
            must = f"one of {', '.join(CONFIDENCE)}" if name == "confidence" else "a non-empty string"
            raise _bad(where, f"{name} must be {must}, not {value!r}")
        out[name] = _per_image(value, where) if name == "per_image" else value
    return out


def _table(data: object, where: str) -> dict[str, Any]:
    """A parsed prices file (bundled or ``DALLE_KIT_PRICES``), checked; models' entries as dicts of fields."""
    if not isinstance(data, Mapping):
        raise _bad(where, "expected a JSON object with a 'models' object")
    unknown = [k for k in data if k not in _TOP]
    if unknown:
        raise _bad(where, f"unknown key {unknown[0]!r}; allowed: {', '.join(_TOP)}")
    models = data.get("models", {})
    if not isinstance(models, Mapping):
        raise _bad(where, "'models' must map model ids to prices")
    out: dict[str, Any] = {"models": {str(m): _entry(e, f"{where}: models[{m!r}]") for m, e in models.items()}}
    if "batch_discount" in data:
        fact = data["batch_discount"]
        value = fact.get("value") if isinstance(fact, Mapping) else fact
        if not number(value) or value > 1:
            raise _bad(where, f"batch_discount must be a fraction from 0 to 1, not {value!r}")
        out["batch_discount"] = float(value)
    return out


@cache
def bundled() -> dict[str, Any]:
    raw = json.loads(resources.files("dalle_kit").joinpath("prices.json").read_text(encoding="utf-8"))
    return {**raw, **_table(raw, "the bundled prices.json")}


def _env() -> dict[str, Any]:
    """The ``DALLE_KIT_PRICES`` layer, read again when the file changes; {} when the variable is unset."""
    path = os.environ.get(ENV, "").strip()
    if not path:
        return {}
    where = f"{ENV} file {path}"
    try:
        stat = os.stat(path)
        key = (path, stat.st_mtime_ns, stat.st_size)
        if key not in _env_cache:
            with open(path, encoding="utf-8") as f:
                table = _table(json.load(f), where)
            defaults = {"source": where, "as_of": dt.date.fromtimestamp(stat.st_mtime), "confidence": "user"}
            table["models"] = {m: {**defaults, **e} for m, e in table["models"].items()}
            _env_cache.clear()
            _env_cache[key] = table
        return _env_cache[key]
    except OSError as e:
        raise _bad(where, f"cannot read it ({e.strerror or e})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise _bad(where, f"not valid JSON ({e})") from None


def set_price(model: str, **rates: Any) -> Price | None:
    """Set prices for ``model`` in this process, over the bundled table and ``DALLE_KIT_PRICES``; returns the result.

    Names: text_in, text_in_cached, image_in, image_in_cached, image_out, text_out (USD per 1M tokens or None),
    per_image ({quality: {size: USD}}), and optionally source, as_of, confidence.
    """
    if not isinstance(model, str) or not model.strip():
        raise InvalidArgument(f"set_price(model={model!r}): expected a model id such as 'gpt-image-2'")
    if not rates:
        raise InvalidArgument(f"set_price({model!r}): name at least one price; allowed: {', '.join(FIELDS)}")
    entry = _entry(rates, f"set_price({model!r})")
    entry = {"source": "set_price() in this process", "as_of": dt.date.today(), "confidence": "user", **entry}
    _overrides.setdefault(model, {}).update(entry)
    return price(model)


def reset_prices() -> None:
    """Forget every :func:`set_price` (the ``DALLE_KIT_PRICES`` file, if set, still applies)."""
    _overrides.clear()


def _layers(model: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for layer in (bundled()["models"], _env().get("models", {}), _overrides):
        entry = layer.get(model, {})
        if entry and "source" in entry and out.get("source") and out.get("confidence") != "none":
            entry = {**entry, "source": f"{entry['source']} (over: {out['source']})"}
        out.update(entry)
    return out


def price(model: str) -> Price | None:
    """The prices for ``model`` (a snapshot id falls back to its model's), or None when none is known."""
    if not isinstance(model, str):
        return None
    spec = registry.get(model)
    base = spec.snapshot_of if spec and spec.snapshot_of else None
    own = _layers(model)
    entry = {**(_layers(base) if base else {}), **own}
    if not any(entry.get(r) is not None for r in RATES) and not entry.get("per_image"):
        return None
    return Price(model=model if own or not base else base, **{r: entry.get(r) for r in RATES},
                 per_image=entry.get("per_image", MappingProxyType({})), source=entry.get("source", ""),
                 as_of=entry.get("as_of", dt.date.today()), confidence=entry.get("confidence", "user"))


def batch_discount() -> float:
    """The Batch API's discount as a fraction (0.5: relayed, see ``prices.json``)."""
    return float(_env().get("batch_discount", bundled()["batch_discount"]))
