"""Rewrite the golden reference PNGs from ``cases.py`` (all, or the names given). Look at them before committing."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from cases import CASES, reference, render


def main(names: list[str]) -> None:
    for name in names or sorted(CASES):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # dall-e-2 is retired: the legacy case warns
            render(name).save(reference(name), format="PNG", optimize=True)
        print("wrote", reference(name))


if __name__ == "__main__":
    main(sys.argv[1:])
