"""dalle_kit: generate and edit images with the OpenAI Images API from Jupyter, online or offline.

Names are imported lazily so that ``import dalle_kit`` (and ``dalle-kit --help``) stays fast.
"""

import importlib as _importlib
import typing as _typing

__version__ = "0.1.0"

_EXPORTS = {
    "BatchJob": "batch",
    "BatchNotDone": "errors",
    "BudgetExceeded": "errors",
    "CompareGrid": "compare_grid",
    "DalleKitError": "errors",
    "DalleKitWarning": "errors",
    "ImageResult": "results",
    "ImageSet": "results",
    "InvalidArgument": "errors",
    "InvalidRequest": "errors",
    "Kit": "client",
    "ManyResult": "many_result",
    "ModelSpec": "registry",
    "Outcome": "many_result",
    "Pack": "replay",
    "PackError": "errors",
    "Prompt": "prompts",
    "ReplayMiss": "errors",
    "Request": "request",
    "ResponseError": "errors",
    "Simulator": "simulator",
    "Store": "store",
    "TokenRevoked": "errors",
    "UnknownName": "errors",
    "expand": "prompts",
    "models": "catalog",
    "read_metadata": "metadata",
    "show": "display",
    "show_stream": "display",
    "validate": "validation",
}

_SUBMODULES = ("costs", "masks", "registry", "styles", "vocabulary")

__all__ = sorted([*_EXPORTS, *_SUBMODULES])

if _typing.TYPE_CHECKING:
    from . import costs, masks, registry, styles, vocabulary
    from .batch import BatchJob
    from .catalog import models
    from .client import Kit
    from .compare_grid import CompareGrid
    from .display import show, show_stream
    from .errors import (
        BatchNotDone,
        BudgetExceeded,
        DalleKitError,
        DalleKitWarning,
        InvalidArgument,
        InvalidRequest,
        PackError,
        ReplayMiss,
        ResponseError,
        TokenRevoked,
        UnknownName,
    )
    from .many_result import ManyResult, Outcome
    from .metadata import read_metadata
    from .prompts import Prompt, expand
    from .registry import ModelSpec
    from .replay import Pack
    from .request import Request
    from .results import ImageResult, ImageSet
    from .simulator import Simulator
    from .store import Store
    from .validation import validate


def __getattr__(name: str) -> _typing.Any:
    if name in _SUBMODULES:
        module = _importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    if name in _EXPORTS:
        value = getattr(_importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'dalle_kit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
