"""Static types of the public calls: the keyword parameters of ``Kit.generate / edit / vary`` as TypedDicts.

The ``Literal`` aliases spell out the values of the parameter vocabulary (``dalle_kit.vocabulary``) and the
model ids of the registry; a test keeps them equal, so a type checker and the validator agree on the names.
A type checker cannot know which model takes which value: that stays the validator's job at run time.
"""

from __future__ import annotations

import os
from typing import IO, Any, Literal, Protocol, TypedDict

from PIL import Image

from .results import ImageResult

__all__ = ["Background", "Complexity", "EditOptions", "GenerateOptions", "ImageInput", "InputFidelity", "ManyImages",
           "ModelName", "Moderation", "OutputFormat", "PromptLike", "Quality", "ResponseFormat", "Style",
           "SvgSettings", "VaryOptions"]

ModelName = Literal[
    "gpt-image-2.6-sunburst", "gpt-image-2.6-flare", "gpt-image-2.5-sunburst", "gpt-image-2.5-sunburst-2026-09-08",
    "gpt-image-2.5-flare", "gpt-image-2.5-flare-2026-09-08", "gpt-image-2", "gpt-image-2-2026-04-21",
    "gpt-image-1.5", "gpt-image-1.5-2025-12-16", "gpt-image-1-mini", "chatgpt-image-latest", "gpt-image-1",
    "dall-e-3", "dall-e-2",
]
Quality = Literal["low", "medium", "high", "xhigh", "max", "auto", "standard", "hd"]
OutputFormat = Literal["png", "webp", "jpeg", "gif", "svg"]
Background = Literal["transparent", "opaque", "auto"]
Moderation = Literal["low", "auto"]
Complexity = Literal["low", "medium", "high"]
InputFidelity = Literal["high", "low"]
Style = Literal["vivid", "natural"]
ResponseFormat = Literal["url", "b64_json"]
#: ``n`` values that give an ``ImageSet`` (several images).
ManyImages = Literal[2, 3, 4, 5, 6, 7, 8, 9, 10]


class _Renders(Protocol):
    def render(self, model: str | None = ...) -> str: ...


#: A prompt: a string, or a ``dalle_kit.Prompt`` (anything with ``render(model)``).
PromptLike = str | _Renders
#: An input image: a path, PIL image, bytes, a binary file object, a ``(filename, bytes)`` pair or an earlier result.
ImageInput = (str | os.PathLike[str] | Image.Image | bytes | bytearray | memoryview | IO[bytes] | tuple[str, bytes]
              | ImageResult)


class SvgSettings(TypedDict, total=False):
    """``svg``: the SVG author model and its reasoning effort (``output_format="svg"``)."""

    model: str
    reasoning: dict[str, Any]


class _Common(TypedDict, total=False):
    model: ModelName | str
    size: str
    lenient: bool
    fresh: bool  # send even when the store holds the answer (the cache is skipped for this call)
    user: str
    response_format: ResponseFormat


class _Output(_Common, total=False):
    quality: Quality
    output_format: OutputFormat
    output_compression: int
    background: Background
    partial_images: int
    complexity: Complexity
    frame_count: int
    frame_duration_ms: int
    svg: SvgSettings
    safety_identifier: str


class GenerateOptions(_Output, total=False):
    """Keyword parameters of ``Kit.generate`` besides ``n`` and ``stream``."""

    moderation: Moderation
    style: Style


class EditOptions(_Output, total=False):
    """Keyword parameters of ``Kit.edit`` besides ``mask``, ``n`` and ``stream``."""

    markup: ImageInput
    input_fidelity: InputFidelity


class VaryOptions(_Output, total=False):
    """Keyword parameters of ``Kit.vary`` besides ``n`` and ``prompt`` (an edit on current models)."""

    input_fidelity: InputFidelity
