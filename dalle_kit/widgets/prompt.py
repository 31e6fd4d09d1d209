"""The prompt widget: fields for each part, style pickers from the library, a live preview, a Generate button.

Every control has a Python twin (``set``, ``pick_styles``, ``pick_presets``, ``choose_model``, ``generate``), so
Run All, nbval and tests drive it without a browser; the twins set the same traits the controls show.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w
from IPython.display import display

from .. import registry, styles
from ..client import DEFAULT_MODEL
from ..prompts import Prompt

__all__ = ["PromptWidget"]

_TEXT_PARTS = ("subject", "action", "setting", "composition", "lighting", "camera")
_LIST_PARTS = ("details", "avoid")
_LABELS = {"subject": "Subject 主体", "action": "Action 动作", "setting": "Setting 环境", "composition": "Composition",
           "lighting": "Lighting 光线", "camera": "Camera", "details": "Details 技术", "avoid": "Avoid 避免"}


def _split(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.replace("，", ",").split(",") if p.strip())


class PromptWidget(w.VBox):
    """Build a prompt part by part, watch the final text and its length, and generate from it.

    ``kit`` is used by Generate (a ``Kit()`` is made on first use if none is given); ``params`` are passed to
    ``kit.generate`` (size, quality ...). ``widget.prompt`` is the ``Prompt``; ``widget.text`` its final text.
    """

    def __init__(self, kit: Any = None, *, model: str = DEFAULT_MODEL, prompt: Prompt | None = None,
                 **params: Any) -> None:
        self.kit = kit
        self.params = params
        self.result: Any = None
        self._free_styles: tuple[str, ...] = ()  # styles of a loaded Prompt that the library does not have
        layout = w.Layout(width="100%")
        style = {"description_width": "110px"}
        self.fields = {name: w.Text(description=_LABELS[name], layout=layout, style=style,
                                    placeholder="comma-separated" if name in _LIST_PARTS else "")
                       for name in _TEXT_PARTS + _LIST_PARTS}
        self.style_pickers = {
            group: w.SelectMultiple(options=[(f"{s.en} · {s.zh}", s.key) for s in styles.group(group)],
                                    description=f"{group} {label}", rows=7, style=style)
            for group, label in styles.GROUPS.items()}
        self.presets = w.SelectMultiple(options=list(styles.PRESETS) + list(styles.DALLE3_STYLES),
                                        description="Presets 预设", rows=6, style=style)
        current = [s.id for s in registry.all_specs() if s.status() != "retired"]
        self.model = w.Dropdown(options=current if model in current else [*current, model], value=model,
                                description="Model", style=style)
        self.language = w.Dropdown(options=[("follow the subject", None), ("English", "en"), ("中文", "zh")],
                                   description="Language", style=style)
        self.as_is = w.Checkbox(description="use my prompt as-is (models that rewrite)", indent=False)
        self.preview = w.HTML()
        self.button = w.Button(description="Generate", button_style="primary", icon="image")
        self.output = w.Output()
        self.button.on_click(lambda _: self.generate())
        pickers = w.Tab(children=[*self.style_pickers.values(), self.presets])
        for i, title in enumerate([*styles.GROUPS.values(), "预设 presets"]):
            pickers.set_title(i, title)
        for control in [*self.fields.values(), *self.style_pickers.values(), self.presets, self.model,
                        self.language, self.as_is]:
            control.observe(self._refresh, names="value")
        super().__init__([*self.fields.values(), pickers, w.HBox([self.model, self.language, self.as_is]),
                          self.preview, self.button, self.output])
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
        limit = registry.get(model).prompt_max if registry.get(model) else 32_000
        colour = "#b00020" if len(text) > limit or not text else "#2e7d32"
        notes = []
        if prompt.as_is and text.startswith("I NEED"):
            notes.append("as-is prefix added: this model rewrites prompts")
        elif prompt.as_is:
            notes.append(f"{model} does not rewrite prompts, so no prefix is needed")
        warnings = [s.note for key in prompt.styles if (s := styles.find(key)) and s.note]
        notes += [f"⚠ {note}" for note in dict.fromkeys(warnings)]
        self.preview.value = (
            f"<div style='border-left:4px solid {colour};padding:4px 8px'>"
            f"<div>{html.escape(text) or '<i>empty: type a subject</i>'}</div>"
            f"<div style='color:{colour};font-size:12px'>{len(text):,} / {limit:,} characters for "
            f"{html.escape(model)}</div>"
            + "".join(f"<div style='color:#777;font-size:12px'>{html.escape(n)}</div>" for n in notes) + "</div>")
        self.button.disabled = not text or len(text) > limit

    # -- Python twins -----------------------------------------------------------------------------------------
    def set(self, **parts: str | tuple[str, ...] | list[str]) -> PromptWidget:
        """Type into the fields: ``set(subject="a cat", details=["high detail"])``."""
        for name, value in parts.items():
            if name not in self.fields:
                raise KeyError(f"no field {name!r}; fields are {', '.join(self.fields)}")
            self.fields[name].value = value if isinstance(value, str) else ", ".join(value)
        return self

    def pick_styles(self, *names: str) -> PromptWidget:
        """Tick library styles by key, English or Chinese name (``pick_styles("油画", "pixel_art")``)."""
        for name in names:
            found = styles.find(name)
            if found is None:
                raise KeyError(f"{name!r} is not in the style library; see dalle_kit.styles.STYLES")
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
        """The Generate button: ``kit.generate(prompt, model=..., **params)``; the result shows below."""
        if self.kit is None:
            from ..client import Kit

            self.kit = Kit()
        self.result = self.kit.generate(self.prompt, model=self.model.value, **{**self.params, **params})
        with self.output:
            self.output.clear_output(wait=True)
            display(self.result)
        return self.result
