"""Account states that refuse image requests, so each of the real API's account errors can be shown offline.

Modes (``Simulator(account=...)``, ``dalle-kit serve --account ...``):

- ``ok`` (or None): no refusal.
- ``insufficient_quota``: 429, ``type``/``code`` ``insufficient_quota`` (no retry headers, as the real API).
- ``billing_hard_limit_reached``: 400, ``invalid_request_error`` / ``billing_hard_limit_reached``.
- ``unverified``: 403, ``invalid_request_error`` with ``code: null``, for GPT image models the simulator serves
  (DALL·E never needed a verified organization; an unknown or retired model falls through to the usual 400/404).

They apply to image requests (generations, edits, variations) only, after the key check and after the body has
been read, before any parameter rule: a malformed body is still a 400, a missing key still a 401, but an
account with no quota gets ``insufficient_quota`` even for a request with a bad ``size``. ``/v1/models`` keeps
working, as it does for such accounts on the real API.
"""

from __future__ import annotations

import datetime as dt

from ..errors import InvalidArgument
from ..registry import builtin
from .forms import ApiError, Form
from .rules import served

__all__ = ["ACCOUNTS", "account_error", "account_mode"]

ACCOUNTS = ("ok", "insufficient_quota", "billing_hard_limit_reached", "unverified")


def account_mode(value: str | None) -> str:
    """Normalise an ``account`` option (None means ``ok``); ValueError for anything else."""
    mode = "ok" if value is None else str(value).strip().lower()
    if mode not in ACCOUNTS:
        raise InvalidArgument(f"account must be one of {', '.join(ACCOUNTS)} (or None), got {value!r}")
    return mode


def account_error(mode: str, form: Form, endpoint: str, *, legacy: bool, today: dt.date | None) -> ApiError | None:
    """The refusal ``mode`` gives this image request, or None."""
    if mode == "insufficient_quota":
        return ApiError(429, "You exceeded your current quota, please check your plan and billing details. For more "
                        "information on this error, read the docs: "
                        "https://platform.openai.com/docs/guides/error-codes/api-errors.",
                        type="insufficient_quota", code="insufficient_quota")
    if mode == "billing_hard_limit_reached":
        return ApiError(400, "Billing hard limit has been reached", code="billing_hard_limit_reached")
    if mode == "unverified":
        model = form.values.get("model")
        spec = builtin(model) if isinstance(model, str) else None
        if (spec is not None and spec.family != "dall-e" and endpoint in spec.endpoints
                and served(spec, legacy=legacy, today=today)):
            return ApiError(403, f"Your organization must be verified to use the model `{model}`. Please go to: "
                            "https://platform.openai.com/settings/organization/general and click on Verify "
                            "Organization. If you just verified, it can take up to 15 minutes for access to "
                            "propagate.")
    return None
