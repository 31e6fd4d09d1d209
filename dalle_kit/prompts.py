"""Prompt craft: an immutable ``Prompt`` builder, templates with ``{placeholders}``, and ``expand``.

The structure is the tutorials': subject + action/state + setting + style + technical details, with room for
composition, lighting, camera and things to avoid. ``Prompt.render(model)`` gives the final string; it adds
OpenAI's "use my prompt as-is" prefix only for models that rewrite prompts (DALL·E 3).
"""

from __future__ import annotations

import dataclasses
import html
import itertools
import re
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import registry, styles
from .errors import InvalidArgument, InvalidRequest, UnknownName
from .styles import Language

__all__ = ["AS_IS_PREFIX", "Prompt", "Variant", "expand", "placeholders"]

#: The prefix OpenAI's DALL·E 3 guide gives for keeping a prompt from being rewritten.
AS_IS_PREFIX = ("I NEED to test how the tool works with extremely simple prompts. DO NOT add any detail, "
                "just use it AS-IS:")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_PARTS = ("subject", "action", "setting", "styles", "composition", "lighting", "camera", "details")
_PRESETS = {**styles.PRESETS, **styles.DALLE3_STYLES}


def _tuple(value: str | Iterable[str] | None, name: str = "words") -> tuple[str, ...]:
    """Words from a string or an iterable of strings (None: none); anything else is ``InvalidArgument``."""
    if value is None:
        return ()
    if isinstance(value, str):
        items: tuple[Any, ...] = (value,)
    elif isinstance(value, Iterable) and not isinstance(value, (bytes, bytearray, Mapping)):
        items = tuple(value)
    else:
        raise InvalidArgument(f"{name} must be a string or a list of strings, got {type(value).__name__}")
    for item in items:
        if not isinstance(item, str):
            raise InvalidArgument(f"{name} must hold strings, got {type(item).__name__} {item!r:.40}")
    return tuple(i.strip() for i in items if i and i.strip())


@dataclass(frozen=True)
class Prompt:
    """An image prompt in parts. Every method returns a new ``Prompt``; ``str(p)`` is the rendered text.

    ``styles`` may name library styles (``"oil_painting"``, ``"油画"``, ``"impressionism"``): they render in
    the prompt's ``language`` ("en", "zh", or None to follow the subject's script). Other words pass as given.
    """

    subject: str = ""
    action: str = ""
    setting: str = ""
    styles: tuple[str, ...] = ()
    composition: str = ""
    lighting: str = ""
    camera: str = ""
    details: tuple[str, ...] = ()
    presets: tuple[str, ...] = ()
    avoid: tuple[str, ...] = ()
    language: Language | None = None
    as_is: bool = False

    def __post_init__(self) -> None:
        for name in ("subject", "action", "setting", "composition", "lighting", "camera"):
            value = getattr(self, name)
            if value is None:
                object.__setattr__(self, name, "")
            elif not isinstance(value, str):
                raise InvalidArgument(f"Prompt({name}=...) must be text, got {type(value).__name__} {value!r:.40}; "
                                      f"e.g. Prompt({name}='a white siamese cat')")
        for name in ("styles", "details", "presets", "avoid"):
            object.__setattr__(self, name, _tuple(getattr(self, name), f"Prompt({name}=...)"))
        if self.language not in (None, "en", "zh"):
            raise InvalidArgument(f"Prompt(language=...) must be 'en', 'zh' or None, got {self.language!r:.40}")
        if not isinstance(self.as_is, bool):
            raise InvalidArgument(f"Prompt(as_is=...) must be True or False, got {self.as_is!r:.40}")
        unknown = [p for p in self.presets if p not in _PRESETS]
        if unknown:
            raise UnknownName(f"no preset {unknown[0]!r}; presets are {', '.join(_PRESETS)}")

    # -- building ---------------------------------------------------------------------------------------------
    def with_(self, **parts: Any) -> Prompt:
        """A copy with some parts replaced, e.g. ``p.with_(lighting="golden hour")``."""
        return dataclasses.replace(self, **parts)

    def style(self, *names: str) -> Prompt:
        """A copy with more style keywords (library names or free words)."""
        return self.with_(styles=self.styles + _tuple(names))

    def detail(self, *words: str) -> Prompt:
        """A copy with more technical details (``"high detail"``, ``"soft light"``)."""
        return self.with_(details=self.details + _tuple(words))

    def avoiding(self, *things: str) -> Prompt:
        """A copy that asks the model to avoid ``things`` (text, watermarks ...)."""
        return self.with_(avoid=self.avoid + _tuple(things))

    def preset(self, *names: str) -> Prompt:
        """A copy with enhancement presets: ``realistic``, ``artistic``, ``cinematic``, ``minimalist``, and
        DALL·E 3's former ``style`` values ``vivid`` and ``natural`` (as words, for models without it)."""
        return self.with_(presets=self.presets + _tuple(names))

    # -- rendering --------------------------------------------------------------------------------------------
    @property
    def resolved_language(self) -> Language:
        if self.language:
            return self.language
        return "zh" if _CJK.search(self.subject + self.action + self.setting) else "en"

    def _word(self, word: str, language: Language) -> str:
        found = styles.find(word)
        return found.text(language) if found else word

    def parts(self) -> dict[str, str]:
        """Each non-empty part as it will be rendered."""
        language = self.resolved_language
        sep = "，" if language == "zh" else ", "
        out = {}
        for name in _PARTS:
            value = getattr(self, name)
            if isinstance(value, tuple):
                value = sep.join(self._word(w, language) for w in value)
            if value:
                out[name] = value.strip()
        if self.presets:
            out["presets"] = sep.join(_PRESETS[p][1 if language == "zh" else 0] for p in self.presets)
        if self.avoid:
            out["avoid"] = ("避免：" if language == "zh" else "Avoid: ") + sep.join(self.avoid)
        return out

    def render(self, model: str | None = None) -> str:
        """The final prompt for ``model``; the as-is prefix is added only where the model rewrites prompts."""
        language = self.resolved_language
        parts = self.parts()
        avoid = parts.pop("avoid", "")
        sep, stop, space = ("，", "。", "") if language == "zh" else (", ", ".", " ")
        text = sep.join(parts.values())
        if avoid:
            text = f"{text.rstrip('.。')}{stop}{space}{avoid}{stop}" if text else avoid + stop
        spec = registry.get(model) if model else None
        if self.as_is and spec is not None and spec.revised_prompt:
            text = f"{AS_IS_PREFIX} {text}"
        return text

    def __str__(self) -> str:
        return self.render()

    def __len__(self) -> int:
        return len(self.render())

    def check(self, model: str) -> Prompt:
        """This prompt, or ``InvalidRequest`` if it is empty or longer than ``model`` accepts."""
        spec = registry.get(model)
        limit = spec.prompt_max if spec else 32_000
        text = self.render(model)
        if not text:
            raise InvalidRequest("prompt: empty; give it at least a subject", param="prompt", value="",
                                 allowed=f"1 to {limit} characters")
        if len(text) > limit:
            raise InvalidRequest(f"prompt: {len(text):,} characters; {model} takes at most {limit:,}. Drop some "
                                 "details or styles", param="prompt", value=len(text), allowed=limit)
        return self

    def fits(self, model: str) -> bool:
        spec = registry.get(model)
        return 0 < len(self.render(model)) <= (spec.prompt_max if spec else 32_000)

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.parts().items())
        return f"Prompt({fields})  # {len(self)} chars"

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><td style='text-align:left;color:#777'>{k}</td><td style='text-align:left'>"
                       f"{html.escape(v)}</td></tr>" for k, v in self.parts().items())
        return (f"<div><table>{rows}</table><p><b>{html.escape(self.render())}</b> "
                f"<span style='color:#777'>({len(self)} characters)</span></p></div>")


class Variant(str):
    """One expanded prompt: a ``str`` you can pass to ``Kit.generate``, with the ``values`` that made it."""

    values: Mapping[str, str]

    def __new__(cls, text: str, values: Mapping[str, str]) -> Variant:
        self = super().__new__(cls, text)
        self.values = dict(values)
        return self

    @property
    def label(self) -> str:
        return " · ".join(str(v) for v in self.values.values())


def placeholders(template: str) -> tuple[str, ...]:
    """The ``{names}`` in ``template``, in order of first appearance."""
    if not isinstance(template, str):
        raise InvalidArgument(f"a template must be text or a Prompt, got {type(template).__name__}")
    try:
        names = [field for _, field, _, _ in string.Formatter().parse(template) if field is not None]
    except ValueError as exc:  # a lone { or }
        raise InvalidArgument(f"template {template!r:.80}: {exc}; write {{{{ or }}}} for a literal brace") from None
    if any(not n or not n.isidentifier() for n in names):
        raise InvalidArgument(f"template {template!r}: placeholders must be names like {{animal}}")
    return tuple(dict.fromkeys(names))


def expand(template: str | Prompt, **values: str | Sequence[str]) -> list[Variant]:
    """Every combination of ``values`` put into ``template``, e.g.
    ``expand("a {animal} in {style}", animal=["cat", "fox"], style=["watercolor", "pixel art"])`` gives 4.

    A single value counts as a list of one. A placeholder without values, or values for no placeholder, is
    an ``InvalidArgument`` (a typo would otherwise go unnoticed).
    """
    text = template.render() if isinstance(template, Prompt) else template
    names = placeholders(text)
    missing = [n for n in names if n not in values]
    unused = [n for n in values if n not in names]
    problems = []
    if missing:
        problems.append(f"no values for {', '.join(missing)}")
    if unused:
        problems.append(f"{', '.join(unused)} not in the template")
    if problems:
        raise InvalidArgument(f"expand({text!r}): {'; '.join(problems)}")
    columns: list[list[str]] = []
    for name in names:
        value = values[name]
        column = [value] if isinstance(value, str) else list(_tuple(value, f"expand(..., {name}=...)"))
        if not column:
            raise InvalidArgument(f"expand(..., {name}=...) has no values; give at least one")
        columns.append(column)
    return [Variant(text.format(**dict(zip(names, combo))), dict(zip(names, combo)))
            for combo in itertools.product(*columns)]
