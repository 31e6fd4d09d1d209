"""Checked by mypy in the README's test command (not run by pytest): what a type checker knows of Kit's calls."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import assert_type

from dalle_kit import ImageResult, ImageSet, Kit, Prompt


def calls(kit: Kit, n: int) -> None:
    assert_type(kit.generate("a cat"), ImageResult)
    assert_type(kit.generate("a cat", n=1, quality="low"), ImageResult)
    assert_type(kit.generate("a cat", n=4, size="1536x864"), ImageSet)
    assert_type(kit.generate("a cat", stream=True, partial_images=2), Iterator[ImageResult])
    assert_type(kit.generate(Prompt("a cat"), n=n), ImageResult | ImageSet | Iterator[ImageResult])
    assert_type(kit.edit("in.png", "a hat", mask=b"...", n=2), ImageSet)
    assert_type(kit.edit(["a.png", "b.png"], "together", input_fidelity="high"), ImageResult)
    assert_type(kit.vary("in.png"), ImageResult)
    assert_type(kit.vary("in.png", 3), ImageSet)
    kit.generate("a cat", qualty="low")  # type: ignore[call-overload]
    kit.generate("a cat", quality="ultra")  # type: ignore[call-overload]
    kit.generate("a cat", moderation="low", output_format="webp", output_compression=80)


async def async_calls(kit: Kit) -> None:
    assert_type(await kit.agenerate("a cat"), ImageResult)
    assert_type(await kit.agenerate("a cat", n=2), ImageSet)
    assert_type(await kit.agenerate("a cat", stream=True), AsyncIterator[ImageResult])
    assert_type(await kit.aedit("in.png", "a hat", n=3), ImageSet)
    assert_type(await kit.avary("in.png", 2), ImageSet)
