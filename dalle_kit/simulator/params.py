"""Typed access to request values and the error objects the rules raise (shared wording lives here)."""

from __future__ import annotations

import builtins
from typing import Any

from ..registry import ModelSpec
from .forms import ApiError, Form

__all__ = ["Reader", "combo", "enum_error", "oxford", "unknown", "unsupported"]


def oxford(values: tuple[str, ...] | list[str]) -> str:
    quoted = [f"'{v}'" for v in values]
    if len(quoted) <= 2:
        return " and ".join(quoted)
    return ", ".join(quoted[:-1]) + ", and " + quoted[-1]


def enum_error(param: str, value: Any, allowed: tuple[str, ...]) -> ApiError:
    tail = f"Value must be {oxford(allowed)}." if len(allowed) == 1 else f"Supported values are: {oxford(allowed)}."
    return ApiError(400, f"Invalid value: '{value}'. {tail}", param=param, code="invalid_value")


def unsupported(param: str, spec: ModelSpec) -> ApiError:
    return ApiError(400, f"The model '{spec.id}' does not support the '{param}' parameter.", param=param,
                    code="unsupported_parameter")


def unknown(param: str) -> ApiError:
    return ApiError(400, f"Unknown parameter: '{param}'.", param=param, code="unknown_parameter")


def combo(param: str, message: str) -> ApiError:
    return ApiError(400, message, type="image_generation_user_error", param=param, code="invalid_value")


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "null"


class Reader:
    """Typed access to request values; multipart values arrive as strings and are coerced."""

    def __init__(self, form: Form) -> None:
        self.values = form.values
        self.multipart = form.multipart

    def given(self, name: str) -> bool:
        return self.values.get(name) is not None

    def _type_error(self, name: str, kind: str, value: Any) -> ApiError:
        return ApiError(400, f"Invalid type for '{name}': expected {kind}, but got {_type_name(value)} instead.",
                        param=name, code="invalid_type")

    def str(self, name: builtins.str) -> builtins.str | None:
        value = self.values.get(name)
        if value is None or isinstance(value, str):
            return value
        raise self._type_error(name, "a string", value)

    def int(self, name: builtins.str, lo: builtins.int | None = None,
            hi: builtins.int | None = None) -> builtins.int | None:
        value = self.values.get(name)
        if value is None:
            return None
        if self.multipart and isinstance(value, str):
            try:
                value = int(value.strip())
            except ValueError:
                raise self._type_error(name, "an integer", value) from None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._type_error(name, "an integer", value)
        if lo is not None and value < lo:
            raise ApiError(400, f"Invalid '{name}': integer below minimum value. Expected a value >= {lo}, but got "
                           f"{value} instead.", param=name, code="integer_below_min_value")
        if hi is not None and value > hi:
            raise ApiError(400, f"Invalid '{name}': integer above maximum value. Expected a value <= {hi}, but got "
                           f"{value} instead.", param=name, code="integer_above_max_value")
        return value

    def bool(self, name: builtins.str) -> builtins.bool | None:
        value = self.values.get(name)
        if value is None:
            return None
        if self.multipart and isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
            return value.strip().lower() in ("true", "1")
        if not isinstance(value, bool):
            raise self._type_error(name, "a boolean", value)
        return value

    def enum(self, name: builtins.str, allowed: tuple[builtins.str, ...]) -> builtins.str | None:
        value = self.str(name)
        if value is not None and value not in allowed:
            raise enum_error(name, value, allowed)
        return value
