"""dalle_kit.widgets.base: errors kept and shown inside a widget, the busy state, quiet return values."""

from __future__ import annotations

import sys
import types

import openai
import pytest
import traitlets as t

from dalle_kit import InvalidRequest, Kit
from dalle_kit.widgets.base import WidgetBase, describe, display_data, error_html, reported, shown_in_widget


class Thing(WidgetBase):
    """The smallest widget: one twin, one browser callback."""

    calls = 0

    @reported
    def twin(self, fail: BaseException | None = None) -> str:
        self.calls += 1
        if fail is not None:
            raise fail
        return "done"


def sdk_error() -> openai.APIError:
    """A real SDK error with dalle_kit's note, from the simulator's moderation."""
    with pytest.raises(openai.APIError) as caught:
        Kit(offline=True, quiet=True).generate("a moderation-test kite", size="1024x1024", quality="low")
    return caught.value


def raised(exc: BaseException) -> BaseException:
    """``exc`` with a traceback, as a widget meets it."""
    try:
        raise exc
    except BaseException as e:
        return e


def test_expected_errors_show_their_message_and_notes_without_a_traceback():
    invalid = raised(InvalidRequest("quality='ultra' is not accepted; use low or high", param="quality"))
    assert describe(invalid) == "InvalidRequest: quality='ultra' is not accepted; use low or high"
    exc = sdk_error()
    text = describe(exc)
    assert text.startswith("BadRequestError: Error code: 400") and "Traceback" not in text
    assert text.endswith("This is never retried: rephrase the prompt.")  # the note dalle_kit added


def test_unexpected_errors_show_a_short_traceback():
    def deep(n: int) -> None:
        if n == 0:
            raise ZeroDivisionError("division by zero")
        deep(n - 1)

    with pytest.raises(ZeroDivisionError) as caught:
        deep(10)
    text = describe(caught.value, frames=3)
    assert text.startswith("Traceback") and text.endswith("ZeroDivisionError: division by zero")
    assert text.count('File "') == 3


def test_reporting_shows_raises_and_clears_on_the_next_success():
    thing = Thing()
    bad = InvalidRequest("size='7x7' is not accepted; use 1024x1024", param="size")
    with pytest.raises(InvalidRequest):
        thing.twin(bad)
    assert thing.last_error is bad and thing.error == "InvalidRequest: size='7x7' is not accepted; use 1024x1024"
    assert thing.twin() == "done"
    assert thing.last_error is None and thing.error == ""


def test_unexpected_error_in_a_twin_is_shown_with_a_traceback_and_raised():
    thing = Thing()
    with pytest.raises(KeyError):
        thing.twin(KeyError("x"))
    assert thing.error.startswith("Traceback") and "KeyError: 'x'" in thing.error


def test_busy_is_set_meanwhile_and_reset_after_an_error():
    thing = Thing()
    seen = []
    with pytest.raises(ValueError), thing.reporting(busy=True):
        seen.append(thing.busy)
        raise ValueError("nope")
    assert seen == [True] and not thing.busy and isinstance(thing.last_error, ValueError)


def test_a_browser_handler_never_raises():
    thing = Thing()
    handler = thing.handler(thing.twin)
    assert handler(ValueError("bad value")) is None
    assert thing.error == describe(thing.last_error, frames=3) and "ValueError: bad value" in thing.error
    handler()
    assert thing.error == "" and thing.calls == 2


def test_error_html_escapes_and_is_empty_without_an_error():
    assert error_html("") == ""
    box = error_html("prompt='<b>' is too long\nshorten it")
    assert "&lt;b&gt;" in box and "role='alert'" in box and "pre-wrap" in box and "overflow-wrap:anywhere" in box


def test_traits_of_the_mixin_are_per_instance():
    a, b = Thing(), Thing()
    with pytest.raises(ValueError):
        a.twin(ValueError("only a"))
    assert b.error == "" and b.last_error is None
    assert isinstance(Thing.class_traits()["busy"], t.Bool)


# -- shown_in_widget: the cell's Out[] does not repeat what the widget shows ------------------------------------


@pytest.fixture
def shell(tmp_path, monkeypatch):
    """A real IPython shell (history in memory, private IPYTHONDIR) that records Out[] and display()."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell.instance(config=config, user_module=types.ModuleType("dk_cells"))
    shell.results, shell.displayed = [], []
    shell.displayhook.write_format_data = lambda data, md=None: shell.results.append(data)
    shell.display_pub.publish = lambda data, metadata=None, **kw: shell.displayed.append(data)
    yield shell
    InteractiveShell.clear_instance()
    sys.modules.pop("dk_cells", None)


class Picture:
    def _repr_html_(self) -> str:
        return "<img src='x'>"

    def __repr__(self) -> str:
        return "Picture()"


def test_out_shows_only_the_repr_of_what_the_widget_shows(shell):
    shell.user_ns.update(shown_in_widget=shown_in_widget, Picture=Picture)
    shell.run_cell("p = shown_in_widget(Picture())\np")
    assert shell.results == [{"text/plain": "Picture()"}]
    shell.run_cell("p")  # a later cell shows it in full again
    assert shell.results[-1] == {"text/plain": "Picture()", "text/html": "<img src='x'>"}
    shell.run_cell("from IPython.display import display\ndisplay(shown_in_widget(p))")
    assert shell.displayed == [{"text/plain": "Picture()", "text/html": "<img src='x'>"}]  # display() unaffected
    shell.run_cell("Picture()")  # other objects are never affected
    assert shell.results[-1]["text/html"] == "<img src='x'>"


def test_outside_ipython_it_just_returns_the_object_and_formats_outputs():
    obj = Picture()
    assert shown_in_widget(obj) is obj
    assert display_data(obj) == {"output_type": "display_data", "metadata": {},
                                 "data": {"text/plain": "Picture()", "text/html": "<img src='x'>"}}
