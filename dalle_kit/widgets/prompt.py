"""The prompt widget: fields for each part, style pickers from the library, a live preview, a Generate button.

Every control has a Python twin (``set``, ``pick_styles``, ``pick_presets``, ``choose_model``, ``generate``), so
Run All, nbval and tests drive it without a browser; the twins set the same traits the controls show.

Labels: the controls are labelled in English, like every message the widget shows (preview, notes, errors).
What comes from the bilingual style library shows both names, "oil painting · 油画": those are prompt words, and
a Chinese prompt uses the Chinese one (``pick_styles`` accepts either). The language picker names Chinese the
same way, "Chinese · 中文".
"""

from __future__ import annotations

import html
import warnings
from typing import Any

import ipywidgets as w

from .. import registry, styles
from ..errors import UnknownName
from ..prompts import Prompt
from ..registry import DEFAULT_MODEL
from .base import WidgetBase, display_data, error_html, shown_in_widget

__all__ = ["PromptWidget"]

_TEXT_PARTS = ("subject", "action", "setting", "composition", "lighting", "camera")
_LIST_PARTS = ("details", "avoid")
_LABELS = {"subject": "Subject", "action": "Action", "setting": "Setting", "composition": "Composition",
           "lighting": "Lighting", "camera": "Camera", "details": "Details", "avoid": "Avoid"}
_LANGUAGES = [("follow the subject", None), ("English", "en"), ("Chinese · 中文", "zh")]
_IDLE = {"description": "Generate", "icon": "image"}
_BUSY = {"description": "Generating…", "icon": "spinner spin"}


def _split(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.replace("，", ",").split(",") if p.strip())


def _fit(**extra: str) -> w.Layout:
    """Fill the row and no more: "auto" stretches within the box, while "100%" adds the widget margins."""
    return w.Layout(width="auto", min_width="0", **extra)


class PromptWidget(WidgetBase, w.VBox):
    """Build a prompt part by part, watch the final text and its length, and generate from it.

    ``kit`` is used by Generate (a ``Kit()`` is made on first use if none is given); ``params`` are passed to
    ``kit.generate`` (size, quality ...). ``widget.prompt`` is the ``Prompt``; ``widget.text`` its final text.
    An error shows in the widget and stays in ``widget.last_error``; ``busy`` is True while Generate runs.
    """

    def __init__(self, kit: Any = None, *, model: str = DEFAULT_MODEL, prompt: Prompt | None = None,
                 **params: Any) -> None:
        self.kit = kit
        self.params = params
        self.result: Any = None
        self._free_styles: tuple[str, ...] = ()  # styles of a loaded Prompt that the library does not have
        self._sendable = False
        style = {"description_width": "96px"}
        self.fields = {name: w.Text(description=_LABELS[name], layout=_fit(), style=style,
                                    placeholder="comma-separated" if name in _LIST_PARTS else "")
                       for name in _TEXT_PARTS + _LIST_PARTS}
        self.style_pickers = {
            group: w.SelectMultiple(options=[(f"{s.en} · {s.zh}", s.key) for s in styles.group(group)], rows=7,
                                    layout=_fit())
            for group in styles.GROUPS}
        self.presets = w.SelectMultiple(options=list(styles.PRESETS) + list(styles.DALLE3_STYLES), rows=6,
                                        layout=_fit())
        current = [s.id for s in registry.all_specs() if s.status() != "retired"]
        self.model = w.Dropdown(options=current if model in current else [*current, model], value=model,
                                description="Model", style=style, layout=_fit(flex="1 1 320px", max_width="420px"))
        self.language = w.Dropdown(options=_LANGUAGES, description="Language", style=style,
                                   layout=_fit(flex="1 1 280px", max_width="380px"))
        self.as_is = w.Checkbox(description="use my prompt as-is (models that rewrite)", indent=False,
                                layout=_fit())
        self.preview = w.HTML(layout=_fit())
        self.button = w.Button(button_style="primary", **_IDLE)
        self.error_box = w.HTML(layout=_fit())
        self.output = w.Output(layout=_fit())
        self.button.on_click(self.handler(lambda _button: self._generate()))
        self.pickers = w.Tab(children=[*self.style_pickers.values(), self.presets], layout=_fit(),
                             titles=[*styles.GROUPS, "presets"])
        for control in [*self.fields.values(), *self.style_pickers.values(), self.presets, self.model,
                        self.language, self.as_is]:
            control.observe(self._refresh, names="value")
        options = w.HBox([self.model, self.language, self.as_is], layout=_fit(flex_flow="row wrap"))
        super().__init__([*self.fields.values(), self.pickers, options, self.preview, self.button, self.error_box,
                          self.output])
        self.observe(lambda change: setattr(self.error_box, "value", error_html(change["new"])), names="error")
        self.observe(self._show_busy, names="busy")
        if prompt is not None:
            self.load(prompt)
        self._refresh()

    # -- state ------------------------------------------------------------------------------------------------
    @property
    def prompt(self) -> Prompt:
        """The prompt the controls describe."""
        picked = [key for picker in self.style_pickers.values() for key in picker.value]
        parts = {name: self.fields[name].value.strip() for name in _TEXT_PARTS}
        return Prompt(**parts, details=_split(self.fields["details"].value), avoid=_split(self.fields["avoid"].value),
                      styles=tuple(picked) + self._free_styles, presets=tuple(self.presets.value),
                      language=self.language.value, as_is=self.as_is.value)

    @property
    def text(self) -> str:
        """The final prompt text for the chosen model."""
        return self.prompt.render(self.model.value)

    def _refresh(self, _change: Any = None) -> None:
        prompt, model = self.prompt, self.model.value
        text = prompt.render(model)
        spec = registry.get(model)
        limit = spec.prompt_max if spec else 32_000
        colour = "#b00020" if len(text) > limit else "#2e7d32" if text else "#999"  # empty is a start, not an error
        notes = []
        if prompt.as_is and text.startswith("I NEED"):
            notes.append("as-is prefix added: this model rewrites prompts")
        elif prompt.as_is:
            notes.append(f"{model} does not rewrite prompts, so no prefix is needed")
        cautions = [s.note for key in prompt.styles if (s := styles.find(key)) and s.note]
        notes += [f"⚠ {note}" for note in dict.fromkeys(cautions)]
        self.preview.value = (
            f"<div style='border-left:4px solid {colour};padding:4px 8px;overflow-wrap:anywhere'>"
            f"<div>{html.escape(text) or '<i>empty: type a subject</i>'}</div>"
            f"<div style='color:{colour};font-size:12px'>{len(text):,} / {limit:,} characters for "
            f"{html.escape(model)}</div>"
            + "".join(f"<div style='color:#777;font-size:12px'>{html.escape(n)}</div>" for n in notes) + "</div>")
        self._sendable = bool(text) and len(text) <= limit
        self.button.disabled = self.busy or not self._sendable

    def _show_busy(self, change: dict[str, Any]) -> None:
        """Generate is disabled and says "Generating…" while a request runs."""
        with self.button.hold_sync():
            for name, value in (_BUSY if change["new"] else _IDLE).items():
                setattr(self.button, name, value)
            self.button.disabled = change["new"] or not self._sendable

    # -- Python twins -----------------------------------------------------------------------------------------
    def set(self, **parts: str | tuple[str, ...] | list[str]) -> PromptWidget:
        """Type into the fields: ``set(subject="a cat", details=["high detail"])``."""
        for name, value in parts.items():
            if name not in self.fields:
                raise UnknownName(f"no field {name!r}; fields are {', '.join(self.fields)}")
            self.fields[name].value = value if isinstance(value, str) else ", ".join(value)
        return self

    def pick_styles(self, *names: str) -> PromptWidget:
        """Tick library styles by key, English or Chinese name (``pick_styles("油画", "pixel_art")``)."""
        for name in names:
            found = styles.find(name)
            if found is None:
                raise UnknownName(f"{name!r} is not in the style library; see dalle_kit.styles.STYLES")
            picker = self.style_pickers[found.group]
            if found.key not in picker.value:
                picker.value = (*picker.value, found.key)
        return self

    def pick_presets(self, *names: str) -> PromptWidget:
        """Tick presets (``realistic``, ``artistic``, ``cinematic``, ``minimalist``, ``vivid``, ``natural``)."""
        self.presets.value = tuple(names)
        return self

    def choose_model(self, model: str) -> PromptWidget:
        self.model.value = model
        return self

    def load(self, prompt: Prompt) -> PromptWidget:
        """Show an existing ``Prompt`` in the controls (styles not in the library are kept as given)."""
        self.set(**{n: getattr(prompt, n) for n in _TEXT_PARTS + _LIST_PARTS})
        for picker in self.style_pickers.values():
            picker.value = ()
        library = [s for s in prompt.styles if styles.find(s)]
        self._free_styles = tuple(s for s in prompt.styles if not styles.find(s))
        self.pick_styles(*library)
        self.presets.value = prompt.presets
        self.language.value = prompt.language
        self.as_is.value = prompt.as_is
        self._refresh()
        return self

    def generate(self, **params: Any) -> Any:
        """The Generate button: ``kit.generate(prompt, model=..., **params)``; the image shows in the widget.

        Returns the result (the cell's ``Out[]`` shows its one-line repr, not the image again). An error shows in
        the widget and in ``last_error``, and is raised; the button itself raises nothing.
        """
        return shown_in_widget(self._generate(**params))

    def _generate(self, **params: Any) -> Any:
        with self.reporting(busy=True):
            self.result = None
            self.output.outputs = ()
            if self.kit is None:
                from ..client import Kit

                self.kit = Kit()
            with warnings.catch_warnings(record=True) as caught:  # e.g. a model that shuts down soon
                self.result = self.kit.generate(self.prompt, model=self.model.value, **{**self.params, **params})
            self.output.outputs = (
                *({"output_type": "stream", "name": "stderr", "text": f"{m.category.__name__}: {m.message}\n"}
                  for m in caught),
                display_data(self.result))
        return self.result
