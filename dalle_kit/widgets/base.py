"""What every dalle_kit widget shares: errors shown inside the widget, a busy state, and quiet return values.

``WidgetBase`` is a traitlets mixin, listed before the ipywidgets or anywidget class::

    class PromptWidget(WidgetBase, ipywidgets.VBox): ...

- ``with self.reporting(busy=True): ...`` runs one action of the widget. An error it raises is kept in
  ``last_error`` and shown as ``error``, then raised again: a Python twin raises like any call.
- ``@reported`` puts a Python twin (a method) in ``self.reporting()``.
- ``self.handler(fn)`` wraps a callback from the browser (a click, a message): the error stays in the widget and
  never escapes into the browser's log, where nobody reads it.
- ``error`` is what the widget shows: for expected errors (``EXPECTED_ERRORS``) the message and the exception's
  notes, which say what is wrong and how to fix it; for anything else a short traceback as well.
- ``busy`` is True while a request runs; widgets disable their buttons and say so.
- ``display_data(obj)`` is ``obj`` as an Output widget output: set ``output.outputs`` with it, which works
  from a click handler and without a frontend (``with output: display(obj)`` needs the frontend to route it).
- ``shown_in_widget(obj)`` returns ``obj`` from a twin that already shows it in the widget, without the cell's
  ``Out[]`` showing it a second time.
"""

from __future__ import annotations

import contextlib
import functools
import html
import traceback
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, TypeVar, cast

import openai
import traitlets as t

from ..errors import DalleKitError

__all__ = ["EXPECTED_ERRORS", "WidgetBase", "describe", "display_data", "error_html", "reported", "shown_in_widget"]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

EXPECTED_ERRORS: tuple[type[BaseException], ...] = (DalleKitError, openai.APIError)
"""Errors whose message (and notes) is the whole story: they show without a traceback."""

TRACEBACK_FRAMES = 3


def describe(exc: BaseException, *, frames: int = 0) -> str:
    """``Type: message`` and the exception's notes, one per line; ``frames > 0`` puts the last frames above."""
    if frames:
        return "".join(traceback.format_exception(exc, limit=-frames, chain=False)).rstrip()
    message = str(exc)
    lines = [f"{type(exc).__name__}: {message}" if message else type(exc).__name__]
    lines += [str(note) for note in getattr(exc, "__notes__", ())]
    return "\n".join(lines)


def error_html(text: str) -> str:
    """``text`` (an ``error`` value) as an alert box for an ``ipywidgets.HTML``; empty text gives ''."""
    if not text:
        return ""
    return ("<div class='dk-error' role='alert' style='border-left:4px solid #b00020;padding:4px 8px;"
            "color:#b00020;white-space:pre-wrap;overflow-wrap:anywhere;line-height:1.4'>"
            f"{html.escape(text)}</div>")


class WidgetBase(t.HasTraits):
    """Errors shown inside the widget and a busy state; see the module docstring."""

    expected_errors: ClassVar[tuple[type[BaseException], ...]] = EXPECTED_ERRORS

    busy = t.Bool(False, help="True while a request runs")
    error = t.Unicode("", help="the last error as the widget shows it ('' when the last action worked)")
    last_error = t.Instance(BaseException, allow_none=True, help="the last error itself (None after a success)")

    def show_error(self, exc: BaseException) -> None:
        """Keep ``exc`` in ``last_error`` and show it: message and notes, plus a traceback if unexpected."""
        self.last_error = exc
        self.error = describe(exc, frames=0 if isinstance(exc, self.expected_errors) else TRACEBACK_FRAMES)

    def clear_error(self) -> None:
        self.last_error = None
        self.error = ""

    @contextlib.contextmanager
    def reporting(self, *, busy: bool = False) -> Iterator[None]:
        """Run one action: the previous error goes, a new one is shown and raised again; ``busy`` meanwhile."""
        self.clear_error()
        if busy:
            self.busy = True
        try:
            yield
        except Exception as exc:
            self.show_error(exc)
            raise
        finally:
            if busy:
                self.busy = False

    def handler(self, action: Callable[..., Any]) -> Callable[..., None]:
        """``action`` as a browser callback: errors are shown in the widget (and ``last_error``), not raised."""

        @functools.wraps(action)
        def run(*args: Any, **kwargs: Any) -> None:
            with contextlib.suppress(Exception), self.reporting():
                action(*args, **kwargs)

        return run


def reported(method: F) -> F:
    """Decorate a widget's Python twin: its errors show in the widget (and ``last_error``), then propagate."""

    @functools.wraps(method)
    def run(self: WidgetBase, *args: Any, **kwargs: Any) -> Any:
        with self.reporting():
            return method(self, *args, **kwargs)

    return cast(F, run)


def display_data(obj: Any) -> dict[str, Any]:
    """``obj`` as an Output widget output, formatted the way ``display(obj)`` would format it."""
    from IPython import get_ipython
    from IPython.core.formatters import DisplayFormatter

    shell = get_ipython()
    data, metadata = (shell.display_formatter if shell else DisplayFormatter()).format(obj)
    return {"output_type": "display_data", "data": data, "metadata": metadata}


def shown_in_widget(obj: T) -> T:
    """``obj``, already shown in a widget: the running cell's ``Out[]`` shows its one-line repr, not ``obj`` again.

    Only the cell's own result is affected, and only until the cell ends; ``display(obj)`` works as usual.
    Outside IPython this just returns ``obj``.
    """
    from IPython import get_ipython

    shell = get_ipython()
    hook = getattr(shell, "displayhook", None)
    if hook is None or not hasattr(hook, "compute_format_data"):
        return obj
    quiet: list[Any] | None = hook.__dict__.get("_dalle_kit_quiet")
    if quiet is None:
        quiet = []
        compute = hook.compute_format_data

        def compute_format_data(result: Any) -> tuple[dict[str, Any], dict[str, Any]]:
            if any(result is shown for shown in quiet):
                return {"text/plain": repr(result)}, {}
            return compute(result)

        def forget(*_: Any) -> None:
            quiet.clear()

        hook.compute_format_data = compute_format_data
        hook._dalle_kit_quiet = quiet
        shell.events.register("post_run_cell", forget)
    quiet.append(obj)
    return obj
