"""``Studio``: prompt craft, the generate panel, a comparison grid and the gallery on one page.

``dalle-kit studio`` serves it with Voilà (``notebooks/studio.ipynb`` is ``Studio()`` and nothing else): the
tutorials' Flask endpoint, the notebook way. Python twin: ``compare(prompt, axis)``; the parts are attributes
(``craft``, ``panel``, ``gallery``) with twins of their own.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w

from ..client import Kit
from .gallery import Gallery
from .panel import GeneratePanel
from .prompt import PromptWidget

__all__ = ["AXES", "Studio"]

FIT = {"width": "auto", "min_width": "0"}
#: The comparisons the page offers: one prompt across one setting.
AXES: dict[str, Any] = {"quality: low · medium · high": {"quality": ["low", "medium", "high"]},
                        "style: natural · vivid": "style=natural,vivid",
                        "model: gpt-image-2 · gpt-image-2.5-flare": {"model": ["gpt-image-2", "gpt-image-2.5-flare"]}}


def _banner(kit: Kit) -> w.HTML:
    if kit.offline:
        where = ("<b>Offline</b>: no OPENAI_API_KEY is set, so the pictures come from dalle_kit's simulator: drawn on "
                 "this machine, marked SIMULATED, free. Set the key and start the studio again for the real API.")
    else:
        where = (f"<b>Live</b>: requests go to {html.escape(kit.backend)} and are billed; the line above Generate "
                 "estimates each one, the line after it says what it cost.")
    return w.HTML(f"<div class='dk-studio-banner' style='background:#f3f6fa;border-left:4px solid #5b7fa6;"
                  f"padding:6px 10px;line-height:1.4;overflow-wrap:anywhere'>{where}</div>", layout=w.Layout(**FIT))


def _section(title: str, help_text: str, *children: w.Widget) -> w.VBox:
    heading = w.HTML(f"<h3 style='margin:16px 0 2px'>{title}</h3><div style='color:#555;line-height:1.4;"
                     f"overflow-wrap:anywhere'>{help_text}</div>", layout=w.Layout(**FIT))
    return w.VBox([heading, *children], layout=w.Layout(**FIT))


class Studio(w.VBox):
    """The whole studio page for ``kit`` (default ``Kit(quiet=True)``: the API with a key, else the simulator)."""

    def __init__(self, kit: Kit | None = None) -> None:
        self.kit = kit if kit is not None else Kit(quiet=True)
        self.craft = PromptWidget(self.kit)
        self.craft.button.layout.display = self.craft.output.layout.display = "none"  # Generate is the panel's
        self.panel = GeneratePanel(self.kit, quality="low")
        self.follow = w.Checkbox(description="the panel below generates from this prompt", indent=False,
                                 layout=w.Layout(**FIT))
        self.follow.observe(lambda change: self.panel.set_prompt(self.craft if change["new"]
                                                                 else self.panel.prompt_box.value), names="value")
        self.compare_prompt = w.Text(description="Prompt", placeholder="empty: the panel's prompt",
                                     layout=w.Layout(flex="2 1 260px", **FIT))
        self.compare_axis = w.Dropdown(options=list(AXES), description="Across",
                                       layout=w.Layout(flex="1 1 240px", **FIT))
        self.compare_button = w.Button(description="Compare", icon="th", button_style="info")
        self.compare_button.on_click(lambda _: self._compare_clicked())
        self.compare_note = w.HTML(layout=w.Layout(**FIT))
        self.compare_grid = w.VBox(layout=w.Layout(**FIT))
        self.gallery = Gallery(self.kit, per_page=12)
        self.panel.observe(lambda change: None if change["new"] else self.gallery.refresh(), names="busy")
        row = w.Layout(flex_flow="row wrap", align_items="center", **FIT)
        super().__init__([
            _banner(self.kit),
            _section("Prompt craft", "Build a prompt part by part, with styles from the library; tick the box under "
                     "it and the panel generates from it.", self.craft, self.follow),
            _section("Generate", "Type a prompt (or follow the crafted one), pick the settings, press Generate: rough "
                     "previews stream in, then the image and what it cost.", self.panel),
            _section("Compare", "One prompt across one setting, a request per cell (low quality unless quality is "
                     "the axis); the store answers cells it holds. <i>open</i> shows a cell's full image.",
                     w.HBox([self.compare_prompt, self.compare_axis, self.compare_button], layout=row),
                     self.compare_note, self.compare_grid),
            _section("Gallery", "Everything in the store, newest first: search, details, recall, re-run, export. It "
                     "reads the store again after each Generate and each comparison.", self.gallery)],
            layout=w.Layout(max_width="1100px", **FIT))
        self.add_class("dk-studio")

    def compare(self, prompt: str | None = None, axis: str | None = None) -> Any:
        """Twin of the Compare button: ``prompt`` (else the box, the panel's prompt, a cat) across ``axis`` (a key
        of ``AXES``, else the dropdown's). Returns the grid; an error shows on the page and is raised."""
        axis_name = axis if axis is not None else self.compare_axis.value
        chosen = AXES[axis_name]
        text = (prompt or self.compare_prompt.value.strip() or self.panel.text.strip() or "a white siamese cat")
        fixed = {} if isinstance(chosen, dict) and "quality" in chosen else {"quality": "low"}
        self.compare_button.disabled, self.compare_note.value = True, "Comparing…"
        try:
            grid = self.kit.compare(text, x=chosen, size="1024x1024", confirm=False, progress=False, live=False,
                                    **fixed)
        except Exception as exc:
            self.compare_note.value = f"<span class='dk-error' style='color:#b00020'>{html.escape(str(exc))}</span>"
            raise
        finally:
            self.compare_button.disabled = False
        self.compare_grid.children = [grid.widget]
        self.compare_note.value = ""  # the grid's own header says what it holds
        self.gallery.refresh()
        return grid

    def _compare_clicked(self) -> None:
        try:
            self.compare()
        except Exception:  # already on the page, where the user reads it
            return
