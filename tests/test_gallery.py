"""The gallery: search over the store (index-driven on 10,000 rows), recall, re-run from the store, export, and
the Gallery widget through its Python twins."""

from __future__ import annotations

import datetime as dt
import json
import time
import zipfile
from pathlib import Path

import pytest
from helpers import mask_bytes, png_bytes, query_plans

from dalle_kit import ImageResult, InvalidArgument, Kit, Store, read_metadata, validate
from dalle_kit import gallery as g
from dalle_kit import recall as recall_module
from dalle_kit.metadata import sidecar_path
from dalle_kit.widgets.gallery import Gallery

LOW = {"size": "1024x1024", "quality": "low"}


@pytest.fixture
def kit():
    kit = Kit(offline=True, quiet=True)
    yield kit
    kit.close()


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "rows")
    yield store
    store.close()


def sent(kit) -> int:
    return kit.simulator.stats()["total"]


def fill(store: Store, count: int, *, start: float = 1_700_000_000.0, step: float = 60.0, prompt=None,
         model=None, kind=None) -> None:
    """``count`` rows in one transaction (no files: the index is what is measured), oldest first."""
    models = ("gpt-image-2", "gpt-image-2.5-flare", "gpt-image-2.6-flare")
    rows = [(start + i * step, f"{i:064x}", f"images/{i:064x}.png", "png",
             kind(i) if kind else ("partial" if i % 10 == 9 else "image"), "generate",
             model(i) if model else models[i % 3], prompt(i) if prompt else f"picture {i} of a white cat",
             f"key{i}", json.dumps({"index": 0, "request": {"endpoint": "generate", "prompt": f"picture {i}"}}))
            for i in range(count)]
    with store._transaction() as db:
        db.executemany("INSERT INTO images (created, sha256, path, format, kind, endpoint, model, prompt, "
                       "request_key, info) VALUES (?,?,?,?,?,?,?,?,?,?)", rows)


# -- search ---------------------------------------------------------------------------------------------------


def test_search_by_prompt_words_model_and_kind(kit):
    kit.generate("A Lighthouse at dusk", model="gpt-image-2", **LOW)
    kit.generate("a white cat on a lighthouse", **LOW)
    kit.generate("a red fox", stream=True, partial_images=1, **LOW)
    for _ in kit.generate("a red fox", stream=True, partial_images=1, **LOW):
        pass
    everything = g.search(kit)
    assert [r["prompt"] for r in everything] == ["a red fox", "a white cat on a lighthouse", "A Lighthouse at dusk"]
    assert [r["prompt"] for r in g.search(kit, "lighthouse")] == ["a white cat on a lighthouse",
                                                                  "A Lighthouse at dusk"]  # ASCII case folded
    assert [r["prompt"] for r in g.search(kit, "dusk  LIGHTHOUSE")] == ["A Lighthouse at dusk"]  # every word
    assert [r["prompt"] for r in g.search(kit, "lighthouse", model="gpt-image-2")] == ["A Lighthouse at dusk"]
    previews = g.search(kit.store, kind="partial")
    assert previews.total == 1 and previews[0]["kind"] == "partial"
    assert g.search(kit, kind=None).total == 4
    assert g.search(kit, "nothing like it").total == 0
    assert g.models(kit) == ["gpt-image-2", "gpt-image-2.5-flare"]


def test_like_wildcards_are_searched_literally(store):
    prompts = ["50% off poster", "50 off poster", "snake_case sign", "snakeXcase sign", r"back\slash"]
    fill(store, len(prompts), prompt=lambda i: prompts[i], kind=lambda i: "image")
    assert [r["prompt"] for r in g.search(store, "50%")] == ["50% off poster"]
    assert [r["prompt"] for r in g.search(store, "snake_case")] == ["snake_case sign"]
    assert [r["prompt"] for r in g.search(store, "k\\s")] == [r"back\slash"]


def test_search_chinese_prompt_by_substring(store):
    fill(store, 2, prompt=lambda i: ["一只白色的猫，油画", "a cat"][i], kind=lambda i: "image")
    assert [r["prompt"] for r in g.search(store, "猫")] == ["一只白色的猫，油画"]


def test_search_by_date_range(store):
    day = dt.datetime(2026, 3, 10, 12, 0)
    fill(store, 5, start=(day - dt.timedelta(days=2)).timestamp(), step=86_400, kind=lambda i: "image")
    # rows on 8, 9, 10, 11, 12 March at noon
    assert g.search(store, since=dt.date(2026, 3, 10)).total == 3
    assert g.search(store, until="2026-03-09").total == 2  # a date counts whole
    assert g.search(store, since="2026-03-09", until="2026-03-11").total == 3
    assert g.search(store, until=day).total == 3  # a moment: up to and including it
    assert g.search(store, since=day.timestamp() + 1).total == 2
    with pytest.raises(InvalidArgument, match="is not a date"):
        g.search(store, since="last tuesday")
    with pytest.raises(InvalidArgument, match="kind='photo'"):
        g.search(store, kind="photo")
    with pytest.raises(InvalidArgument, match="per_page"):
        g.search(store, per_page=0)


def test_paging_10000_rows_newest_first_through_the_indexes(store):
    fill(store, 10_000)
    first = g.search(store)
    assert first.total == 9_000 and len(first) == 24 and first.pages == 375 and first.has_next
    assert not first.has_previous and repr(first) == "Page(1 of 375: 24 of 9,000 images)"
    ids = [r["id"] for r in first]
    assert ids == sorted(ids, reverse=True) and ids[0] == 9_999 and first[0]["path"].startswith(str(store.home))
    last = g.search(store, page=374)
    assert len(last) == 24 and not last.has_next and last[-1]["id"] == 1
    assert len(g.search(store, page=375)) == 0  # past the end: empty, with the total
    of_model = [i + 1 for i in reversed(range(10_000)) if i % 3 == 0 and i % 10 != 9]  # ids start at 1
    assert [r["id"] for r in g.search(store, model="gpt-image-2", page=1, per_page=50)] == of_model[50:100]
    for kwargs, index in [({}, "images_kind_id (kind=?)"), ({"text": "white cat"}, "images_kind_id (kind=?)"),
                          ({"since": "2023-11-17", "page": 20}, "images_kind_id (kind=?)"),
                          ({"model": "gpt-image-2"}, "images_kind_model_id (kind=? AND model=?)"),
                          ({"model": "gpt-image-2", "text": "cat"}, "images_kind_model_id (kind=? AND model=?)")]:
        count, page = query_plans(store, lambda kwargs=kwargs: g.search(store, **kwargs))
        assert page == f"SEARCH images USING INDEX {index}", kwargs  # walks the index in id order: no sort
        assert count == f"SEARCH images USING INDEX {index}", kwargs
        started = time.perf_counter()
        g.search(store, **kwargs)
        assert time.perf_counter() - started < 0.5, kwargs  # milliseconds in fact; generous for a busy machine
    assert query_plans(store, lambda: g.search(store, kind=None)) == ["SCAN images"] * 2  # rowid order, no sort
    assert "COVERING INDEX images_kind_model_id" in query_plans(store, lambda: g.models(store))[0]
    assert "images_sha256" in " ".join(query_plans(store, lambda: recall_module._by_digest(store, "00" * 32)))


def test_store_query_reads_only(store):
    with pytest.raises(ValueError, match="reads only"):
        store.query("DELETE FROM images")


# -- recall ---------------------------------------------------------------------------------------------------


def test_recall_from_a_record_a_result_a_saved_png_and_a_sidecar(kit, tmp_path):
    png = kit.generate("a white siamese cat", **LOW)
    webp = kit.generate("a lighthouse at dusk", output_format="webp", output_compression=60, **LOW)
    saved_png, saved_webp = png.save(tmp_path / "cat.png"), webp.save(tmp_path / "lighthouse.webp")
    assert sidecar_path(saved_webp).exists() and read_metadata(saved_png)["request_key"] == png.request.key
    record = g.search(kit, "siamese")[0]
    assert g.recall(kit, record).key == png.request.key
    assert g.recall(kit, record["id"]).key == png.request.key
    assert g.recall(kit, png) is png.request
    assert g.recall(kit, saved_png).key == png.request.key
    assert g.recall(kit, saved_png.read_bytes()).key == png.request.key
    assert g.recall(kit, read_metadata(saved_png)).key == png.request.key
    again = g.recall(kit, saved_webp)
    assert again.key == webp.request.key and again.params["output_compression"] == 60
    assert g.recall(kit, record["path"]).key == png.request.key  # the store's own file: found by its digest
    assert g.recall(None, saved_png).key == png.request.key  # no kit: validated as given, the default store


def test_recall_of_a_file_without_provenance_says_so(kit, tmp_path):
    stranger = tmp_path / "stranger.png"
    stranger.write_bytes(png_bytes((32, 32)))
    with pytest.raises(InvalidArgument, match="carries no dalle_kit provenance"):
        g.recall(kit, stranger)
    with pytest.raises(InvalidArgument, match="has no dalle_kit request"):
        g.recall(kit, {"software": "someone else"})


def test_rerun_of_a_recalled_image_sends_nothing(kit, tmp_path):
    shared = kit.generate("a red kite over the sea", **LOW).save(tmp_path / "shared.png")
    before = sent(kit)
    again = kit.run(g.recall(kit, read_metadata(shared)))
    assert sent(kit) == before  # 0 requests: the store answered
    assert isinstance(again, ImageResult) and again.source == "store"
    fresh = kit.run(g.recall(kit, shared), fresh=True)
    assert sent(kit) == before + 1 and fresh.source == "api"


def test_recall_of_an_edit_finds_its_input_in_the_store(kit, tmp_path):
    base = kit.generate("an empty beach", **LOW)
    edited = kit.edit(base, "add a sandcastle", quality="low")
    recalled = g.recall(kit, edited.save(tmp_path / "edit.png"))
    assert recalled.key == edited.request.key  # the input found in the store by its SHA-256
    assert recalled.images[0].data == base.data and recalled.images[0].name == edited.request.images[0].name


def test_recall_of_an_edit_without_its_input_names_it_and_takes_it(kit, tmp_path):
    photo = tmp_path / "photo.png"
    photo.write_bytes(png_bytes((512, 512), color=(10, 200, 30)))
    edited = kit.edit(photo, "a frog on a leaf", quality="low")
    shared = edited.save(tmp_path / "frog.png")
    with pytest.raises(InvalidArgument) as caught:
        g.recall(kit, shared)
    message = str(caught.value)
    assert "image (photo.png, 512x512 image/png, sha256 " in message and "image=..." in message
    assert "kit.recall(source, image=...)" in message
    assert g.recall(kit, shared, image=photo).key == edited.request.key
    assert g.recall(kit, shared, image=photo.read_bytes()).key == edited.request.key
    other = png_bytes((512, 512), color=(1, 2, 3))
    with pytest.raises(InvalidArgument, match="is not the one the call sent"):
        g.recall(kit, shared, image=other)
    with pytest.raises(InvalidArgument, match="sent no mask"):
        g.recall(kit, shared, image=photo, mask=mask_bytes((512, 512)))
    before = sent(kit)
    kit.run(g.recall(kit, shared, image=photo))
    assert sent(kit) == before


def test_recall_of_a_masked_edit_needs_the_mask_too(kit, tmp_path):
    photo = png_bytes((1024, 1024), color=(20, 120, 200))
    mask = mask_bytes((1024, 1024), (100, 100, 400, 400))
    edited = kit.edit(photo, "put a sun in the sky", mask=mask, quality="low")
    with pytest.raises(InvalidArgument, match=r"image \(.*mask \(.*Pass it: .*image=\.\.\., mask=\.\.\."):
        g.recall(kit, edited.info())
    assert g.recall(kit, edited.info(), image=photo, mask=mask).key == edited.request.key


def test_recall_of_an_edit_with_two_images_takes_a_list(kit):
    first = kit.generate("a teapot", **LOW)
    other = png_bytes((512, 512), color=(250, 200, 0))
    edited = kit.edit([first, other], "the teapot in the second picture's colour", quality="low")
    with pytest.raises(InvalidArgument, match=r"image\[1\] .*image=\[\.\.\.\]"):
        g.recall(kit, edited.info())
    assert g.recall(kit, edited.info(), image=[None, other]).key == edited.request.key  # None: from the store
    with pytest.raises(InvalidArgument, match="has 1 images; the call sent 2"):
        g.recall(kit, edited.info(), image=other)


def test_recall_accepts_the_saved_copy_of_an_input(kit, tmp_path):
    """A copy saved with result.save() carries a provenance chunk: its bytes differ, the original inside not."""
    base = kit.generate("a plain wall", **LOW)
    edited = kit.edit(base, "graffiti on the wall", quality="low")  # sends the bytes as received
    copy = base.save(tmp_path / "wall.png")
    assert copy.read_bytes() != base.data
    elsewhere = Kit(offline=True, quiet=True, home=tmp_path / "elsewhere")  # a store without the wall
    try:
        with pytest.raises(InvalidArgument, match="does not hold the input"):
            g.recall(elsewhere, edited.info())
        recalled = g.recall(elsewhere, edited.info(), image=copy)
    finally:
        elsewhere.close()
    assert recalled.key == edited.request.key and recalled.images[0].data == base.data


def test_recall_keeps_the_take(kit):
    request = validate("generate", model="gpt-image-2", prompt="a cat", quality="low")
    info = {"request": {**request.describe(), "take": 2}, "backend": "simulator"}
    recalled = g.recall(kit, info)
    assert recalled.take == 2 and recalled.params == request.params


# -- export ---------------------------------------------------------------------------------------------------


def test_export_to_a_folder_with_metadata(kit, tmp_path):
    kit.generate("a white siamese cat", **LOW)
    kit.generate("a lighthouse at dusk", output_format="webp", **LOW)
    page = g.search(kit)
    out = tmp_path / "picked"
    assert g.export(page, out) == out
    names = sorted(p.name for p in out.iterdir())
    assert len(names) == 3 and sum(n.endswith(".webp.json") for n in names) == 1
    png = next(out.glob("*.png"))
    assert read_metadata(png)["request_key"] == page[1]["info"]["request_key"]
    webp = next(out.glob("*.webp"))
    assert webp.read_bytes() == Path(page[0]["path"]).read_bytes()  # the bytes as received
    assert g.recall(kit, webp).key == page[0]["request_key"]
    g.export(page[1:], out)  # the same image again: a new name, nothing overwritten
    assert len(list(out.glob("*.png"))) == 2
    with pytest.raises(InvalidArgument, match="nothing to export"):
        g.export([], out)


def test_export_to_a_zip(kit, tmp_path):
    cat = kit.generate("a white siamese cat", **LOW)
    kit.generate("a lighthouse at dusk", output_format="jpeg", **LOW)
    target = g.export([*g.search(kit), cat], tmp_path / "sub" / "pick.zip")
    with zipfile.ZipFile(target) as archive:
        names = archive.namelist()
        assert len(names) == 4 and sum(n.endswith(".png") for n in names) == 2  # the cat twice, named apart
        assert any(n.endswith(".jpg.json") for n in names)
        png = archive.read(next(n for n in names if n.endswith(".png")))
    assert read_metadata(png)["request_key"] == cat.request.key
    assert [p.name for p in target.parent.iterdir()] == ["pick.zip"]  # no temp file left


def test_export_of_a_record_whose_file_is_gone(kit, tmp_path):
    kit.generate("a vanishing act", **LOW)
    record = g.search(kit)[0]
    import os

    os.unlink(record["path"])
    with pytest.raises(InvalidArgument, match="cannot be read"):
        g.export([record], tmp_path / "out")
    assert g.thumbnail(record)[1] == "jpeg"  # a placeholder, not an error


def test_thumbnails_are_small(kit):
    kit.generate("a noisy photo of a market", size="1536x1024", quality="low")
    kit.generate("a sticker", background="transparent", **LOW)
    sticker, market = g.search(kit)
    data, fmt = g.thumbnail(market)
    assert fmt == "jpeg" and len(data) < 10_000
    data, fmt = g.thumbnail(sticker)
    assert fmt == "webp" and len(data) < 10_000


# -- the widget -----------------------------------------------------------------------------------------------


@pytest.fixture
def gallery(kit):
    for prompt in ("a lighthouse at dusk", "a white cat", "a red fox"):
        kit.generate(prompt, **LOW)
    widget = Gallery(kit, per_page=2)
    yield widget
    widget.close()


def tile_names(widget: Gallery) -> list[str]:
    return [tile.children[1].description for tile in widget.tiles.children]


def test_widget_pages_newest_first(gallery):
    assert tile_names(gallery) == ["a red fox", "a white cat"]
    assert "1–2 of 3 · page 1 of 2" in gallery.status.value and gallery.previous_button.disabled
    gallery.next_page()
    assert tile_names(gallery) == ["a lighthouse at dusk"] and gallery.next_button.disabled
    gallery.previous_page()
    assert tile_names(gallery) == ["a red fox", "a white cat"]
    image = gallery.tiles.children[0].children[0]
    assert image.format == "jpeg" and len(image.value) < 10_000  # only thumbnails go to the page


def test_widget_search_twin_sets_the_controls(gallery, kit):
    page = gallery.search("lighthouse")
    assert gallery.text.value == "lighthouse" and tile_names(gallery) == ["a lighthouse at dusk"]
    assert page.total == 1 and "1–1 of 1" in gallery.status.value
    gallery.search(None, model="gpt-image-2")
    assert gallery.text.value == "" and gallery.model.value == "gpt-image-2" and tile_names(gallery) == []
    assert "no image matches" in gallery.status.value
    gallery.search(model=None, since=dt.date.today(), until=dt.date.today().isoformat())
    assert gallery.page.total == 3 and gallery.since.value == dt.date.today()
    gallery.search(kind="partial")
    assert gallery.kind.value == "partial" and gallery.page.total == 0
    gallery.search(kind=None)
    assert gallery.kind.value == "" and gallery.page.total == 3
    gallery.text.value = "fox"  # what typing in the box does
    assert tile_names(gallery) == ["a red fox"]


def test_widget_select_details_recall_rerun_export(gallery, kit, tmp_path):
    record = gallery.select(1)
    assert record["prompt"] == "a white cat" and gallery.selection == [record]
    details = gallery.details.value
    for shown in ("a white cat", record["path"], record["request_id"], "gpt-image-2.5-flare", "&quot;quality&quot;",
                  "total_tokens", "$"):
        assert shown in details, shown
    assert gallery.tiles.children[1].children[1].value  # the tile shows it is selected
    request = gallery.recall()
    assert request.key == record["request_key"] and "Request" in gallery.output.outputs[0]["data"]["text/html"]
    before = sent(kit)
    again = gallery.rerun()
    assert sent(kit) == before and again.source == "store"  # 0 requests
    assert gallery.page.total == 3
    fresh = gallery.rerun(fresh=True)
    assert sent(kit) == before + 1 and fresh.source == "api" and gallery.page.total == 4
    gallery.select(0)
    gallery.select(1, add=True)
    assert len(gallery.selection) == 2
    target = gallery.export(tmp_path / "two.zip")
    with zipfile.ZipFile(target) as archive:
        assert len(archive.namelist()) == 2
    assert "exported 2 images" in gallery.output.outputs[0]["text"]
    gallery.unselect(0)
    assert [r["id"] for r in gallery.selection] == [gallery.page[1]["id"]]
    gallery.unselect()
    assert gallery.selection == [] and gallery.recall_button.disabled and gallery.details.value == ""


def test_widget_tile_toggle_selects_like_its_twin(gallery):
    gallery.tiles.children[0].children[1].value = True  # a click on the tile
    gallery.tiles.children[1].children[1].value = True
    assert [r["prompt"] for r in gallery.selection] == ["a red fox", "a white cat"]
    assert "a white cat" in gallery.details.value
    gallery.tiles.children[1].children[1].value = False
    assert [r["prompt"] for r in gallery.selection] == ["a red fox"] and "a red fox" in gallery.details.value
    gallery.next_page()  # the selection stays across pages
    assert len(gallery.selection) == 1


def test_widget_errors_show_inside(gallery):
    with pytest.raises(InvalidArgument, match="select an image first"):
        gallery.recall()
    assert "select an image first" in gallery.error and gallery.last_error is not None
    with pytest.raises(InvalidArgument, match=r"select\(5\): this page shows 2 images"):
        gallery.select(5)
    gallery.since.value = None  # a control change that works clears the error
    gallery.search("cat")
    assert gallery.error == ""


def test_widget_without_a_kit_uses_the_default_store(kit):
    kit.generate("a lonely moon", **LOW)
    widget = Gallery()
    try:
        assert tile_names(widget) == ["a lonely moon"]
        widget.select(0)
        assert widget.recall().key == widget.current["request_key"]
    finally:
        widget.close()
