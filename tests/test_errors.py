"""One exception root: everything dalle_kit raises on its own account is a DalleKitError; the public API is
exactly ``__all__``."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import types
from pathlib import Path

import pytest

import dalle_kit
from dalle_kit import errors

PACKAGE = Path(dalle_kit.__file__).parent
# Raised on purpose and not ours to wrap: the module protocol, and the simulator's wire errors (ApiError is
# turned into an HTTP answer, never raised to a user).
# QueueFull: the workshop proxy's internal signal (a participant's queue is full), answered as a 429 in the app
ALLOWED = {"AttributeError", "ApiError", "NotImplementedError", "StopIteration", "StopAsyncIteration", "SystemExit",
           "QueueFull"}


def _raised_names() -> list[tuple[str, int, str]]:
    """(file, line, exception class name) of every ``raise Name(...)`` / ``raise Name`` in the package."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Raise) and node.exc is not None:
                target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                if isinstance(target, ast.Name) and target.id[:1].isupper():
                    found.append((str(path.relative_to(PACKAGE)), node.lineno, target.id))
    return found


def test_every_exception_dalle_kit_raises_is_a_dalle_kit_error():
    roots = {name for name in errors.__all__ if isinstance(getattr(errors, name), type)
             and issubclass(getattr(errors, name), errors.DalleKitError)}
    raised = _raised_names()
    assert len(raised) > 30  # the scan sees the package
    strays = [(f, line, name) for f, line, name in raised if name not in roots | ALLOWED]
    assert strays == []


def test_the_tree_in_the_docstring_names_every_error():
    for name in errors.__all__:
        value = getattr(errors, name)
        if isinstance(value, type) and issubclass(value, errors.DalleKitError):
            assert name in errors.__doc__, name


@pytest.mark.parametrize("call", [
    lambda: dalle_kit.styles.group("nope"),
    lambda: dalle_kit.Prompt("a cat").preset("nope"),
    lambda: dalle_kit.expand("a {animal}", colour="red"),
    lambda: dalle_kit.masks.blank((0, 10)),
    lambda: dalle_kit.ImageSet([], labels=["x"]),
])
def test_bad_arguments_raise_dalle_kit_errors_that_read_well(call):
    with pytest.raises(dalle_kit.DalleKitError) as info:
        call()
    assert str(info.value) and not str(info.value).startswith("'")  # not a quoted KeyError message


def test_every_name_in_all_resolves_to_what_its_module_defines():
    assert dalle_kit.__all__ == sorted(set(dalle_kit.__all__))
    for name in dalle_kit.__all__:
        value = getattr(dalle_kit, name)
        if isinstance(value, types.ModuleType):
            assert value.__name__ == f"dalle_kit.{name}"
        else:
            module = importlib.import_module(f"dalle_kit.{dalle_kit._EXPORTS[name]}")
            assert name in module.__all__ and getattr(module, name) is value


def test_every_public_name_is_in_all():
    for info in pkgutil.iter_modules(dalle_kit.__path__):
        if info.name != "__main__":
            importlib.import_module(f"dalle_kit.{info.name}")
    public = {name for name in dir(dalle_kit) if not name.startswith("_")}
    modules = {name for name in public if isinstance(getattr(dalle_kit, name), types.ModuleType)}
    assert public - modules - set(dalle_kit.__all__) == set()
    for name in errors.__all__:  # every error and warning users may catch is reachable from the top
        if isinstance(getattr(errors, name), type):
            assert name in dalle_kit.__all__, name
