"""The generate panel: a prompt, a model picker and only the controls that model takes; Generate streams previews.

The controls are read from the registry and the parameter vocabulary (:mod:`dalle_kit.widgets.panel_controls`):
a model that does not take a parameter hides its control, and a control offers only the values the model
accepts. Changing the model carries each choice over to the nearest value the new model offers and says so in
one line. Every control has a Python twin (``set_prompt``, ``set_model``, ``set``, ``generate``; ``request`` and
``estimate`` read what Generate would send), so Run All, nbval and tests drive it without a browser.
"""

from __future__ import annotations

import contextlib
import html
import warnings
from collections.abc import Iterator
from typing import Any

import ipywidgets as w
import traitlets as t

from .. import costs
from ..errors import DalleKitError, InvalidRequest, ResponseError, UnknownName
from ..prompts import Prompt
from ..request import Request
from ..results import ImageResult, ImageSet
from . import panel_controls as pc
from .base import WidgetBase, display_data, error_html, reported, shown_in_widget
from .prompt import PromptWidget

__all__ = ["GeneratePanel"]

CUSTOM = "custom"
_IDLE = {"description": "Generate", "icon": "image"}
_BUSY = {"description": "Generating…", "icon": "spinner spin"}
_STYLE = {"description_width": "86px"}
_TITLES = {"size": "Size", "quality": "Quality", "n": "Images", "output_format": "Format",
           "output_compression": "Compression", "background": "Background", "moderation": "Moderation",
           "style": "Style", "partial_images": "Previews"}
_SLIDERS = ("n", "output_compression", "partial_images")


def _fit(**extra: str) -> w.Layout:
    return w.Layout(width="auto", min_width="0", **extra)


def _line(text: str, colour: str) -> str:
    return (f"<div style='color:{colour};font-size:12px;line-height:1.4;white-space:pre-wrap;overflow-wrap:anywhere'>"
            f"{html.escape(text)}</div>") if text else ""


def _stderr(caught: list[warnings.WarningMessage]) -> list[dict[str, Any]]:
    seen = dict.fromkeys(f"{m.category.__name__}: {m.message}\n" for m in caught)
    return [{"output_type": "stream", "name": "stderr", "text": text} for text in seen]


class GeneratePanel(WidgetBase, w.VBox):
    """Generate from a prompt with only the settings the chosen model takes, watching previews stream in.

    ``kit``: the ``Kit`` Generate uses (default: ``Kit()``, the offline simulator without a key; the panel then
    closes it with itself). ``prompt``: text, a ``Prompt`` or a ``PromptWidget`` (followed live, rendered for the
    panel's model). ``model`` and ``params`` (size, quality, n ...) set the controls as ``set`` does.

    ``panel.result`` is the last Generate's image(s), ``panel.previews`` its previews; ``changes`` says what the
    last model change did; ``cost_text`` is the cost line (the estimate before, the cost after). An error shows
    in the panel and stays in ``last_error``; ``busy`` is True while Generate runs.
    """

    changes = t.List(t.Unicode(), help="what the last model change did to the controls, one clause each")
    cost_text = t.Unicode("", help="the cost line: the estimate for the controls, or the cost of the last run")

    def __init__(self, kit: Any = None, prompt: str | Prompt | PromptWidget | None = None, *,
                 model: str | None = None, **params: Any) -> None:
        if kit is None and isinstance(prompt, PromptWidget) and prompt.kit is not None:
            kit = prompt.kit
        self._own_kit = kit is None
        if kit is None:
            from ..client import Kit

            kit = Kit()
        self.kit = kit
        self.result: ImageResult | ImageSet | None = None
        self.previews: list[ImageResult] = []
        self.notes: list[str] = []  # warnings the settings raise (a model that shuts down soon ...)
        self._source: Prompt | PromptWidget | None = None
        self._quiet = 1  # no refresh until every control is built
        self._after = ""  # the cost of the last run, until a control changes
        self._estimate: costs.Estimate | None = None
        self._sendable = False
        self._closed = False
        self._specs = {s.id: s for s in pc.offered_models(other_host=bool(getattr(kit, "other_host", False)))}
        model = model or getattr(kit, "model", None) or next(iter(self._specs))
        self._check_model(model)
        self._spec = self._specs[model]

        self.prompt_box = w.Textarea(placeholder="Describe the image, e.g. a lighthouse at dusk", rows=3,
                                     layout=_fit())
        self.prompt_note = w.HTML(layout=_fit())
        self.model = w.Dropdown(options=[(pc.model_label(s), s.id) for s in self._specs.values()], value=model,
                                description="Model", style=_STYLE, layout=_fit(flex="1 1 320px", max_width="460px"))
        self.model_status = w.HTML(layout=_fit(flex="1 1 200px"))
        self.controls: dict[str, Any] = {
            name: (w.IntSlider(description=_TITLES[name], continuous_update=False, style=_STYLE,
                               layout=_fit(flex="1 1 240px", max_width="340px")) if name in _SLIDERS
                   else w.Dropdown(description=_TITLES[name], style=_STYLE,
                                   layout=_fit(flex="1 1 200px", max_width="300px")))
            for name in pc.CONTROLS}
        self.custom_size = w.Text(placeholder="WIDTHxHEIGHT", description="WxH", style={"description_width": "40px"},
                                  continuous_update=False, layout=_fit(flex="0 1 170px"))
        self.note = w.HTML(layout=_fit())
        self.cost_line = w.HTML(layout=_fit())
        self.button = w.Button(button_style="primary", **_IDLE)
        self.error_box = w.HTML(layout=_fit())
        self.output = w.Output(layout=_fit())

        self._put_model(self._spec, first=True)
        self.button.on_click(self.handler(lambda _button: self._generate()))
        self.prompt_box.observe(self._changed, names="value")
        self.model.observe(self._on_model, names="value")
        for control in [*self.controls.values(), self.custom_size]:
            control.observe(self._changed, names="value")
        self.controls["size"].observe(self._start_custom, names="value")
        row = _fit(flex_flow="row wrap", align_items="center")
        super().__init__([
            self.prompt_box, self.prompt_note,
            w.HBox([self.model, self.model_status], layout=row),
            w.HBox([self.controls["size"], self.custom_size, self.controls["quality"], self.controls["n"]], layout=row),
            w.HBox([self.controls[n] for n in pc.CONTROLS if n not in ("size", "quality", "n")], layout=row),
            self.note, self.cost_line, self.button, self.error_box, self.output])
        self.observe(lambda change: setattr(self.error_box, "value", error_html(change["new"])), names="error")
        self.observe(self._show_busy, names="busy")
        if prompt is not None:
            self.set_prompt(prompt)
        if params:
            self.set(**params)
        self._quiet = 0
        self._refresh()

    # -- reading the controls -----------------------------------------------------------------------------
    @property
    def prompt(self) -> str | Prompt:
        """What Generate sends as the prompt: the text in the box, or the given ``Prompt`` / ``PromptWidget``'s."""
        if isinstance(self._source, PromptWidget):
            return self._source.prompt
        return self._source if self._source is not None else self.prompt_box.value

    @property
    def text(self) -> str:
        """The prompt's final text for the chosen model."""
        prompt = self.prompt
        return prompt if isinstance(prompt, str) else prompt.render(self._spec.id)

    def value(self, name: str) -> Any:
        """The value a control holds (``size`` reads the WxH box when the size is custom), shown or not."""
        if name == "size" and self.controls["size"].value == CUSTOM:
            return self.custom_size.value.strip().lower()
        return self.controls[name].value

    @property
    def params(self) -> dict[str, Any]:
        """The parameters Generate sends besides prompt and model: each control in effect, and ``stream``."""
        spec = self._spec
        out = {name: self.value(name) for name in pc.CONTROLS if pc.takes(spec, name)}
        out["stream"] = pc.streams(spec, out)
        kept = {k: v for k, v in out.items() if k != "stream" and pc.blocked(k, out) is None}
        return {**kept, "stream": True} if out["stream"] else kept

    def options(self, name: str) -> tuple[Any, ...]:
        """The values the control ``name`` offers for the chosen model (sizes: the presets; see ``free_form``)."""
        if name not in self.controls:
            raise UnknownName(f"no control {name!r}; controls are {', '.join(pc.CONTROLS)}")
        return pc.options(self._spec, name)

    @property
    def free_form(self) -> bool:
        """Whether the chosen model takes any WIDTHxHEIGHT within its limits (the custom size box shows)."""
        return self._spec.sizes.free_form

    @property
    def models(self) -> tuple[str, ...]:
        """The model ids the picker offers."""
        return tuple(self._specs)

    # -- Python twins -------------------------------------------------------------------------------------
    @reported
    def set_prompt(self, prompt: str | Prompt | PromptWidget) -> GeneratePanel:
        """Type ``prompt`` into the box, or follow a ``Prompt`` / ``PromptWidget`` (the box then shows its text)."""
        if isinstance(self._source, PromptWidget):
            self._source.preview.unobserve(self._follow, names="value")
        if isinstance(prompt, str):
            self._source = None
        elif isinstance(prompt, (Prompt, PromptWidget)):
            self._source = prompt
            if isinstance(prompt, PromptWidget):
                prompt.preview.observe(self._follow, names="value")
        else:
            raise InvalidRequest(f"prompt={prompt!r} is not text, a Prompt or a PromptWidget", param="prompt",
                                 value=prompt, allowed="str, Prompt, PromptWidget")
        self.prompt_box.disabled = self._source is not None
        self.prompt_note.value = _line("" if self._source is None else
                                       f"from the {type(self._source).__name__} (rendered for the chosen model)",
                                       "#777")
        with self._hold():
            self.prompt_box.value = prompt if isinstance(prompt, str) else self.text
        return self

    @reported
    def set_model(self, model: str) -> GeneratePanel:
        """Pick ``model``; the controls follow it and ``changes`` (shown under them) says what had to change."""
        self._check_model(model)
        self.model.value = model
        return self

    @reported
    def set(self, **params: Any) -> GeneratePanel:
        """Set controls: ``set(quality="high", size="1536x864", n=2, partial_images=1)``; also ``model``,
        ``prompt``. A value the chosen model does not offer is refused with what it does offer."""
        if "model" in params:
            self.set_model(params.pop("model"))
        if "prompt" in params:
            self.set_prompt(params.pop("prompt"))
        unknown = [name for name in params if name not in self.controls]
        if unknown:
            raise UnknownName(f"no control {unknown[0]!r}; controls are {', '.join(pc.CONTROLS)}, model, prompt")
        checked = {name: pc.accept(self._spec, name, value) for name, value in params.items()}
        with self._hold():
            for name, value in checked.items():
                self._put(name, value)
        return self

    @reported
    def request(self) -> Request:
        """The validated ``Request`` Generate would send (nothing is sent); ``InvalidRequest`` says why not."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # shown in the panel's notes instead
            return self.kit.request("generate", prompt=self.prompt, model=self._spec.id, **self.params)

    def estimate(self) -> costs.Estimate:
        """The estimated cost of what Generate would send."""
        return costs.estimate(self.request())

    def generate(self, *, fresh: bool = False) -> ImageResult | ImageSet:
        """The Generate button: previews replace each other in the panel, then the image(s) show as thumbnails.

        Returns the ``ImageResult`` (an ``ImageSet`` for ``n > 1``); the same settings again are answered from the
        store (``fresh=True`` asks the API again). An error shows in the panel and is raised.
        """
        return shown_in_widget(self._generate(fresh=fresh))

    def close(self) -> None:
        """Close the widget (and the kit, if the panel made it)."""
        if self._closed:
            return
        self._closed = True
        if isinstance(self._source, PromptWidget):
            self._source.preview.unobserve(self._follow, names="value")
        super().close()
        if self._own_kit:
            self.kit.close()

    # -- generating ---------------------------------------------------------------------------------------
    def _generate(self, fresh: bool = False) -> ImageResult | ImageSet:
        with self.reporting(busy=True):
            self.result, self.previews, self.output.outputs = None, [], ()
            self._after = ""
            try:
                result = self._run(fresh)
            except BaseException:
                self.output.outputs = ()
                self._refresh()
                raise
            self.result = result
            self._after = self._cost_after(result)
            self._refresh()
        return result

    def _run(self, fresh: bool) -> ImageResult | ImageSet:
        params = self.params
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            answer = self.kit.generate(self.prompt, model=self._spec.id, fresh=fresh, **params)
            if not params.get("stream"):
                self.output.outputs = (*_stderr(caught), display_data(answer))
                return answer
            finals: list[ImageResult] = []
            for image in answer:
                if image.partial is not None:
                    self.previews.append(image)
                    shown: Any = image  # one preview at a time, in place
                else:
                    finals.append(image)
                    shown = finals[0] if len(finals) == 1 else ImageSet(finals)
                self.output.outputs = (*_stderr(caught), display_data(shown))
        if not finals:
            raise ResponseError("the stream ended without a final image; try again")
        return finals[0] if len(finals) == 1 else ImageSet(finals)

    def _cost_after(self, result: ImageResult | ImageSet) -> str:
        images = list(result) if isinstance(result, ImageSet) else [result]
        if all(image.source == "store" for image in images):
            return "From the store: nothing sent, nothing paid"
        spent = [image.cost for image in images if image.source != "store"]
        before = f" (estimated {self._estimate})" if self._estimate is not None else ""
        if any(cost is None for cost in spent):
            return f"Cost: unknown (no price or no usage for {self._spec.id}){before}"
        return f"Cost: {costs.usd(sum(c for c in spent if c is not None))}{before}"

    # -- keeping the controls in step ---------------------------------------------------------------------
    def _check_model(self, model: Any) -> None:
        if model not in self._specs:
            raise InvalidRequest(f"model={model!r} is not offered here; pick one of {', '.join(self._specs)} "
                                 "(retired models only on a host that still serves them)", param="model",
                                 value=model, allowed=tuple(self._specs))

    def _put(self, name: str, value: Any) -> None:
        control = self.controls[name]
        if name == "size" and value not in pc.options(self._spec, "size"):
            control.value, self.custom_size.value = CUSTOM, value
        else:
            control.value = value

    def _put_model(self, spec: Any, *, first: bool = False) -> None:
        """Give every control the new model's options, carrying each value over; note what had to change."""
        before = {} if first else self.params
        self._spec, changes = spec, []
        with self._hold():
            for name in pc.CONTROLS:
                was = self.value(name)
                new = pc.default(spec, name) if first else pc.carry(spec, name, was)
                if name in before and new != was:
                    changes.append(pc.explain(spec, name, was, new))
                if new is None:
                    continue  # not taken: the control hides and keeps its value for a model that takes it
                control, offered = self.controls[name], pc.options(spec, name)
                if name in _SLIDERS:
                    control.min = 0  # first, so that min never passes max
                    control.max, control.min = offered[-1], offered[0]
                else:
                    extra = [("custom WxH", CUSTOM)] if name == "size" and spec.sizes.free_form else []
                    control.options = [*((str(v), v) for v in offered), *extra]
                self._put(name, new)
            self.changes = changes

    def _on_model(self, change: dict[str, Any]) -> None:
        if self._quiet:
            return
        with self._hold():
            self._put_model(self._specs[change["new"]])
            if self._source is not None:
                self._follow()  # a Prompt renders per model (the as-is prefix, the length limit)

    def _start_custom(self, change: dict[str, Any]) -> None:
        """Choosing "custom WxH" starts the box from the size that was chosen."""
        if change["new"] == CUSTOM and not self.custom_size.value and change["old"] not in (None, "auto"):
            with self._hold():
                self.custom_size.value = change["old"]

    def _follow(self, _change: Any = None) -> None:
        """The followed ``PromptWidget`` changed: show its text."""
        with self._hold():
            self.prompt_box.value = self.text

    @contextlib.contextmanager
    def _hold(self) -> Iterator[None]:
        """Change several controls, then refresh once."""
        self._quiet += 1
        try:
            yield
        finally:
            self._quiet -= 1
        self._changed()

    def _changed(self, _change: Any = None) -> None:
        if self._quiet:
            return
        self._after = ""
        self._refresh()

    def _refresh(self) -> None:
        """Show the controls in effect, the notes and the cost line; Generate only for a sendable request."""
        spec, params = self._spec, self.params
        for name, control in self.controls.items():
            control.layout.display = "" if name in params else "none"
        self.custom_size.layout.display = "" if self.controls["size"].value == CUSTOM else "none"
        self.model_status.value = "" if spec.status() == "current" else _line(spec.status_line(), "#b26a00")
        text, problem = self.text, ""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                request = self.kit.request("generate", prompt=self.prompt if text else "a", model=spec.id, **params)
                self._estimate = costs.estimate(request)
            except DalleKitError as exc:
                problem, self._estimate = str(exc), None
        self.notes = list(dict.fromkeys(str(m.message) for m in caught))
        self.note.value = self._note_html()
        self._sendable = bool(text) and not problem
        if problem:
            self.cost_text = f"Not sendable: {problem}"
        elif self._after:
            self.cost_text = self._after
        else:
            count = int(params.get("n") or 1)
            self.cost_text = (f"Estimated cost: {self._estimate} for {count} image{'s' if count > 1 else ''}"
                              + ("" if text else " · type a prompt to generate"))
        colour = "#b00020" if problem else "#2e7d32" if self._after else "#555"
        self.cost_line.value = _line(self.cost_text, colour)
        self.button.disabled = self.busy or not self._sendable

    def _note_html(self) -> str:
        changed = _line("; ".join(self.changes), "#b26a00")
        return changed + "".join(_line(f"⚠ {note}", "#777") for note in self.notes)

    def _show_busy(self, change: dict[str, Any]) -> None:
        with self.button.hold_sync():
            for name, value in (_BUSY if change["new"] else _IDLE).items():
                setattr(self.button, name, value)
            self.button.disabled = change["new"] or not self._sendable
