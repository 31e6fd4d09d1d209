"""``GET /v1/models`` and ``GET /v1/models/{id}``: the shipped registry's image models, with two per-simulator
overrides for testing clients that read the list (``models(refresh=True)``):

- ``shutdown_dates``: ``{model id: date}`` replaces the ``shutdown_date`` reported (an ISO string or
  ``datetime.date``; None reports ``null``, "not announced"). Reported only: which models are served, and which
  are refused as retired, still follows the registry and ``today``.
- ``unlisted``: ids left out of the list and answered 404 on ``/v1/models/{id}``, while image requests for them
  are still served (a model the API serves but does not list).

The simulator reads the shipped specs (``registry.builtin``), never a listing a client read from an API.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import InvalidArgument
from ..registry import ModelSpec, builtin, builtin_specs
from .forms import ApiError
from .rules import served

__all__ = ["ShutdownDate", "known_ids", "model_list", "model_object", "shutdown_date", "shutdown_overrides"]

ShutdownDate = str | dt.date | None


def shutdown_date(value: ShutdownDate) -> dt.date | None:
    """An override value as a date: ISO text, a date (a datetime counts by its date) or None."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "null")):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        return dt.date.fromisoformat(value.strip())
    raise InvalidArgument(f"a shutdown date must be an ISO date string, a datetime.date or None, got {value!r}")


def known_ids(ids: Iterable[str], option: str) -> list[str]:
    """``ids`` as a list, or ValueError naming the option when one is not a model the registry knows."""
    out = list(ids)
    unknown = [i for i in out if builtin(i) is None]
    if unknown:
        raise InvalidArgument(f"{option}: unknown model id(s) {', '.join(map(repr, unknown))}")
    return out


def shutdown_overrides(dates: Mapping[str, ShutdownDate] | None) -> dict[str, dt.date | None]:
    """Checked and normalised ``shutdown_dates``."""
    dates = dict(dates or {})
    known_ids(dates, "shutdown_dates")
    return {model: shutdown_date(value) for model, value in dates.items()}


def _listed(spec: ModelSpec | None, *, legacy: bool, today: dt.date | None, unlisted: Iterable[str]) -> bool:
    return spec is not None and served(spec, legacy=legacy, today=today) and spec.id not in unlisted


def model_object(model_id: str, *, legacy: bool, today: dt.date | None,
                 shutdown_dates: Mapping[str, ShutdownDate], unlisted: Iterable[str]) -> dict[str, Any]:
    """The ``Model`` object for one id, or the API's 404 ``model_not_found``."""
    spec = builtin(model_id)
    if spec is None or not _listed(spec, legacy=legacy, today=today, unlisted=unlisted):
        raise ApiError(404, f"The model `{model_id}` does not exist or you do not have access to it.",
                       code="model_not_found")
    released = dt.date.fromisoformat(spec.released) if spec.released else dt.date(2025, 1, 1)
    created = int(dt.datetime.combine(released, dt.time(), dt.UTC).timestamp())
    shutdown = shutdown_date(shutdown_dates[spec.id]) if spec.id in shutdown_dates else spec.shutdown_on
    return {"id": spec.id, "object": "model", "created": created, "owned_by": "system",
            "shutdown_date": shutdown.isoformat() if shutdown else None}


def model_list(*, legacy: bool, today: dt.date | None, shutdown_dates: Mapping[str, ShutdownDate],
               unlisted: Iterable[str]) -> dict[str, Any]:
    """The ``/v1/models`` list object."""
    unlisted = set(unlisted)
    data = [model_object(spec.id, legacy=legacy, today=today, shutdown_dates=shutdown_dates, unlisted=unlisted)
            for spec in builtin_specs() if _listed(spec, legacy=legacy, today=today, unlisted=unlisted)]
    return {"object": "list", "data": data}
