"""Small builders shared by the tests: input images, API-correct masks, query plans."""

from __future__ import annotations

import io

from PIL import Image


def png_bytes(size=(64, 64), mode="RGB", color=(200, 80, 40), fmt="PNG") -> bytes:
    buffer = io.BytesIO()
    fill = color if mode != "RGBA" else (*color, 255)
    Image.new(mode, size, fill if mode not in ("L", "LA") else 128).save(buffer, format=fmt)
    return buffer.getvalue()


def mask_bytes(size=(64, 64), box=(16, 16, 48, 48)) -> bytes:
    """An API-correct mask: opaque, with a fully transparent rectangle where the edit goes."""
    img = Image.new("RGBA", size, (0, 0, 0, 255))
    img.paste((0, 0, 0, 0), box)
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    return buffer.getvalue()


def query_plans(store, call) -> list[str]:
    """SQLite's query plan of every statement ``call`` runs on ``store``'s connection of this thread."""
    from contextlib import closing

    db = store._connections.get()
    statements: list[str] = []
    db.set_trace_callback(statements.append)
    try:
        call()
    finally:
        db.set_trace_callback(None)
    plans = []
    for sql in statements:
        with closing(db.execute(f"EXPLAIN QUERY PLAN {sql}")) as cursor:
            plans.append(" / ".join(row[3] for row in cursor))
    return plans
