"""How the mask functions scale from a 1024x1024 picture to a 3840x2160 one (7.9x the pixels).

A ratio near 7.9 means the cost grows with the pixel count; much more would mean something worse than linear.
Prints seconds (median of 5) and ratios; these machines are noisy, so read the ratios.
Run: .venv/bin/python benchmarks/mask_ops.py
"""

from __future__ import annotations

import statistics
import time

from dalle_kit import masks

SMALL, LARGE = (1024, 1024), (3840, 2160)


def timed(fn, rounds: int = 5) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def cases(size):
    w, h = size
    box = (w // 4, h // 4, w * 3 // 4, h * 3 // 4)
    stroke = [(w * i / 300, h / 2 + (h / 4) * ((i % 20) / 20 - 0.5)) for i in range(300)]
    base = masks.ellipse(size, box)
    return {
        "ellipse": lambda: masks.ellipse(size, box),
        "brush (300 points)": lambda: masks.brush(size, stroke, w / 40),
        "grow 24 px": lambda: masks.grow(base, 24),
        "feather 10 px": lambda: masks.feather(base, 10),
        "overlay": lambda: masks.overlay(masks.blank(size).convert("RGB"), base),
    }


def main() -> None:
    pixels = (LARGE[0] * LARGE[1]) / (SMALL[0] * SMALL[1])
    small, large = cases(SMALL), cases(LARGE)
    print(f"{'operation':<20} {'1024x1024':>10} {'3840x2160':>10}  ratio (pixels: {pixels:.1f}x)")
    for name in small:
        a, b = timed(small[name]), timed(large[name])
        print(f"{name:<20} {a:>9.3f}s {b:>9.3f}s  {b / a:.1f}x")


if __name__ == "__main__":
    main()
