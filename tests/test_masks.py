"""dalle_kit.masks: golden images for every function, geometry, check/prepare, and masked edits on the simulator.

Golden references live in tests/golden/ (regenerate with ``.venv/bin/python tests/golden/regen.py``).
"""

from __future__ import annotations

import datetime as dt
import io
import math
import warnings
from unittest import mock

import numpy as np
import pytest
from golden.cases import CASES, SIZE, picture, reference, render
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image
from scipy import ndimage

from dalle_kit import ImageResult, InvalidArgument, InvalidRequest, Kit, Request, mask_geometry, masks, validate

MODEL = "gpt-image-2.5-flare"


def png(img: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format=fmt)
    return buffer.getvalue()


def edited(mask: Image.Image) -> np.ndarray:
    """Boolean array: where the API edits (alpha exactly 0)."""
    return np.asarray(mask.getchannel("A")) == 0


# -- golden images -------------------------------------------------------------------------------------------


def test_every_public_mask_function_has_a_golden_case():
    covered = {"blank", "rectangle", "ellipse", "polygon", "brush", "boxes", "from_bw", "invert", "grow",
               "shrink", "feather", "overlay", "composite", "prepare"}
    names = " ".join(CASES)
    assert all(name in names for name in covered)
    untested = set(masks.__all__) - covered - {"from_area", "edit_area", "coverage", "check", "changed_outside"}
    assert not untested, f"golden case missing for {untested}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name):
    got = render(name)
    want = Image.open(reference(name))
    assert (got.mode, got.size) == (want.mode, want.size)
    diff = np.abs(np.asarray(got, dtype=np.int16) - np.asarray(want, dtype=np.int16))
    # Tolerance for resampling and blur differences between library versions, not for a changed shape.
    assert diff.mean() <= 0.5, f"{name}: mean difference {diff.mean():.2f}"
    assert (diff > 16).mean() <= 0.002, f"{name}: {(diff > 16).sum()} values differ by more than 16"


# -- what every mask is --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [n for n in CASES if n not in ("overlay", "composite", "prepare_legacy_image")])
def test_masks_are_black_rgba_of_the_exact_size(name):
    mask = CASES[name]()
    assert mask.mode == "RGBA"
    assert mask.size == ((80, 80) if "legacy" in name else (192, 128) if name == "prepare_bw_mask" else SIZE)
    assert mask.convert("RGB").getextrema() == ((0, 0), (0, 0), (0, 0))


def test_shapes_follow_canvas_geometry():
    # A dot of diameter d covers the pixels whose centre is within d/2 of the point (as a browser canvas does).
    dot = edited(masks.brush(SIZE, [(40.3, 30.7)], 15))
    ys, xs = np.mgrid[0:SIZE[1], 0:SIZE[0]] + 0.5
    assert (dot == ((xs - 40.3) ** 2 + (ys - 30.7) ** 2 <= 7.5 ** 2)).all()
    # Box edges round to pixel boundaries; right and bottom are excluded, as in Image.crop.
    box = edited(masks.rectangle(SIZE, (10.4, 8, 50, 40.6)))
    assert box.sum() == 40 * 33 and box[8, 10] and not box[7, 10] and box[40, 49] and not box[41, 49]
    assert masks.coverage(masks.ellipse(SIZE, (0, 0) + SIZE)) == pytest.approx(math.pi / 4, abs=0.01)


def test_shapes_add_to_a_base_and_the_eraser_removes():
    base = masks.rectangle(SIZE, (0, 0, 48, 64))
    both = masks.rectangle(SIZE, (40, 0, 96, 32), base=base)
    assert edited(both).sum() == 48 * 64 + 48 * 32
    cut = masks.rectangle(SIZE, (0, 0, 24, 64), base=base, erase=True)
    assert edited(cut).sum() == 24 * 64 and not edited(cut)[:, :24].any()
    with pytest.raises(InvalidArgument, match="base mask is"):
        masks.rectangle((10, 10), (0, 0, 5, 5), base=base)


def test_from_bw_needs_the_convention_spelled_out():
    with pytest.raises(TypeError):
        masks.from_bw(Image.new("L", SIZE))  # no default: "white = edit" is a choice, not the API's rule
    white = masks.from_bw(Image.new("L", SIZE, 255), edit="white")
    assert masks.coverage(white) == 1 and masks.coverage(masks.from_bw(Image.new("L", SIZE, 255), edit="black")) == 0


def test_grow_and_shrink_are_euclidean_distances():
    point = masks.rectangle((101, 101), (50, 50, 51, 51))  # one pixel
    grown = edited(masks.grow(point, 20))
    ys, xs = np.mgrid[0:101, 0:101]
    assert (grown == ((xs - 50) ** 2 + (ys - 50) ** 2 <= 400)).all()
    ell = CASES["ellipse"]()
    assert (edited(masks.shrink(ell, 4)) <= edited(ell)).all() and (edited(ell) <= edited(masks.grow(ell, 4))).all()
    assert (edited(masks.shrink(masks.grow(ell, 3), 3)) >= edited(ell)).all()  # a closing never loses pixels
    whole = masks.rectangle(SIZE, (0, 0) + SIZE)
    assert masks.coverage(masks.shrink(whole, 5)) == 1  # the picture's border is not "kept"
    assert masks.coverage(masks.grow(masks.blank(SIZE), 5)) == 0


def test_feather_softens_outside_and_keeps_the_edit_area():
    ell = CASES["ellipse"]()
    soft = masks.feather(ell, 4)
    assert (edited(soft) == edited(ell)).all()  # what the API edits does not change
    alpha = np.asarray(soft.getchannel("A"))
    ring = (alpha > 0) & (alpha < 255)
    assert ring.sum() > 100 and not (ring & edited(ell)).any()


def test_overlay_tints_only_the_edit_area():
    img, mask = picture(), CASES["rectangle"]()
    out = np.asarray(masks.overlay(img, mask, outline=False), dtype=int)
    changed = (out != np.asarray(img, dtype=int)).any(-1)
    assert (changed == edited(mask)).all()


def test_composite_keeps_the_original_outside_the_mask():
    original, changed = picture(), picture(tint=60)
    mask = CASES["ellipse"]()
    out = np.asarray(masks.composite(original, changed, mask))
    keep = ~edited(mask)
    assert (out[keep] == np.asarray(original)[keep]).all() and (out[~keep] == np.asarray(changed)[~keep]).all()


# -- check and prepare ---------------------------------------------------------------------------------------

IMAGE = Image.new("RGB", (1024, 1024), (40, 110, 190))
GOOD = masks.ellipse(IMAGE, (300, 300, 700, 650))


def noisy_mask(size: tuple[int, int]) -> Image.Image:
    """A valid mask whose colour channels are noise: a PNG over 4 MB."""
    rgb = np.random.default_rng(5).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    mask = Image.fromarray(rgb).convert("RGBA")
    mask.putalpha(masks.ellipse(size, (100, 100, 500, 400)).getchannel("A"))
    return mask


BAD_MASKS = {  # name -> (mask, words the message must contain: what is wrong and how to fix it)
    "opaque": (masks.blank(IMAGE), ("fully transparent", "dalle_kit.masks")),
    "no alpha": (masks.edit_area(GOOD), ("no alpha channel", "from_bw")),
    "wrong size": (GOOD.resize((512, 512)), ("does not match", "masks.prepare")),
    "not png": (png(GOOD.convert("RGB"), "JPEG"), ("must be a PNG", "dalle_kit.masks")),
}


@pytest.mark.parametrize("name", sorted(BAD_MASKS))
def test_check_refuses_bad_masks_with_a_fix(name):
    mask, words = BAD_MASKS[name]
    with pytest.raises(InvalidRequest) as info:
        masks.check(IMAGE, mask, MODEL)
    assert info.value.param == "mask" and all(w in str(info.value) for w in words)


def test_check_accepts_paths_bytes_and_images(tmp_path):
    (tmp_path / "m.png").write_bytes(png(GOOD))
    masks.check(IMAGE, tmp_path / "m.png", MODEL)
    masks.check(png(IMAGE), png(GOOD), "gpt-image-2")


def test_check_refuses_models_without_masks():
    with pytest.raises(InvalidRequest, match="takes no mask"):
        masks.check(IMAGE, GOOD, "dall-e-3")
    with pytest.raises(InvalidRequest, match="not a known image model"):
        masks.check(IMAGE, GOOD, "gpt-image-9")


def test_prepare_scales_a_mask_painted_on_a_smaller_copy():
    _image, mask = masks.prepare(IMAGE, GOOD.resize((256, 256), Image.Resampling.NEAREST), MODEL)
    assert mask.size == IMAGE.size and abs(masks.coverage(mask) - masks.coverage(GOOD)) < 0.01


def test_prepare_reads_black_and_white_only_with_a_convention():
    bw = masks.edit_area(GOOD)  # "L", white = edit
    with pytest.raises(InvalidRequest, match="edit='white'"):
        masks.prepare(IMAGE, bw, MODEL)
    _, mask = masks.prepare(IMAGE, bw, MODEL, edit="white")
    assert (edited(mask) == edited(GOOD)).all()
    _, opaque_rgba = masks.prepare(IMAGE, bw.convert("RGBA"), MODEL, edit="black")  # saved with alpha, opaque
    assert (edited(opaque_rgba) == ~edited(GOOD)).all()
    with pytest.raises(InvalidRequest, match="edit='white'"):
        masks.prepare(IMAGE, bw.convert("RGBA"), MODEL)


def test_prepare_drops_colour_so_the_mask_fits_under_4_mb():
    mask = noisy_mask((1536, 1024))
    assert len(png(mask)) > 4 * 1024 * 1024
    with pytest.raises(InvalidRequest, match="under 4 MB"):
        masks.check(Image.new("RGB", mask.size), mask, MODEL)
    _, fixed = masks.prepare(Image.new("RGB", mask.size), mask, MODEL)
    assert len(png(fixed)) < 100_000 and (edited(fixed) == edited(mask)).all()


def test_prepare_applies_exif_orientation_and_converts_modes():
    photo = Image.new("RGB", (200, 100), (10, 20, 30))
    exif = Image.Exif()
    exif[0x0112] = 6  # shown rotated 90°: 100x200
    raw = io.BytesIO()
    photo.save(raw, format="JPEG", exif=exif)
    img, mask = masks.prepare(raw.getvalue(), masks.rectangle((100, 200), (0, 0, 50, 50)), MODEL)
    assert img.size == mask.size == (100, 200)
    cmyk, _ = masks.prepare(Image.new("CMYK", (64, 64)), masks.rectangle((64, 64), (0, 0, 8, 8)), MODEL)
    assert cmyk.mode == "RGB"


def test_prepare_crops_square_and_shrinks_for_legacy_models():
    wide = Image.new("RGB", (2400, 1600), (1, 2, 3))
    img, mask = masks.prepare(wide, masks.rectangle(wide, (1100, 700, 1300, 900)), "dall-e-2")
    assert img.size == mask.size == (1024, 1024)
    assert masks.coverage(mask) == pytest.approx((200 * 1024 / 1600) ** 2 / 1024**2, rel=0.05)
    with pytest.raises(InvalidRequest, match="fully transparent"):  # the painted area was cropped away
        masks.prepare(wide, masks.rectangle(wide, (0, 0, 300, 300)), "dall-e-2")


def test_prepare_refuses_a_mask_of_another_shape():
    with pytest.raises(InvalidRequest, match="not the shape of the image"):
        masks.prepare(IMAGE, masks.rectangle((1536, 1024), (0, 0, 99, 99)), MODEL)


# -- edits on the simulator ---------------------------------------------------------------------------------


@pytest.fixture
def kit():
    return Kit(offline=True, quiet=True)


def changed_pixels(before: Image.Image, after: Image.Image) -> np.ndarray:
    assert before.size == after.size
    return (np.asarray(before.convert("RGB"), dtype=int) != np.asarray(after.convert("RGB"), dtype=int)).any(-1)


@pytest.mark.parametrize("refs", [0, 2])
def test_masked_edit_changes_no_pixel_outside_the_painted_area(kit, refs):
    photo = picture((1536, 1024))
    mask = masks.brush(photo, [(200, 700), (600, 300), (1100, 650)], 120)
    mask = masks.ellipse(photo, (1150, 100, 1450, 400), base=mask)
    images = [photo] + [picture((512, 512), tint=30 * i) for i in range(refs)]
    result = kit.edit(images if refs else photo, "a river of lava", mask=mask, quality="low")
    changed = changed_pixels(photo, result.pil)
    inside = edited(mask)
    assert int((changed & ~inside).sum()) == 0 == masks.changed_outside(photo, result.pil, mask)
    assert changed[inside].mean() > 0.9


def test_an_edit_without_mask_may_change_everything(kit):
    # The control for the test above: the measurement does see changes outside when there is no mask.
    photo = picture((1024, 1024))
    result = kit.edit(photo, "a river of lava", quality="low")
    assert changed_pixels(photo, result.pil).mean() > 0.5
    mask = masks.rectangle(photo, (0, 0, 512, 1024))
    assert masks.changed_outside(photo, result.pil, mask) == changed_pixels(photo, result.pil)[:, 512:].sum() > 0
    assert masks.changed_outside(photo, masks.composite(photo, result.pil, mask), mask) == 0


WIDE = Image.new("RGB", (1536, 1024), (40, 110, 190))
BAD_EDITS = {  # name -> (image, edit keyword arguments, words the message must contain)
    **{name: (IMAGE, {"mask": mask}, words) for name, (mask, words) in BAD_MASKS.items()},
    "over 4 MB": (WIDE, {"mask": noisy_mask(WIDE.size)}, ("under 4 MB", "masks.prepare")),
    "mask and markup": (IMAGE, {"mask": GOOD, "markup": masks.invert(GOOD)}, ("cannot be combined", "one of the two")),
}


@pytest.mark.parametrize("name", sorted(BAD_EDITS))
def test_bad_masks_are_refused_before_any_request(kit, name):
    image, params, words = BAD_EDITS[name]
    with pytest.raises(InvalidRequest) as info:
        kit.edit(image, "a red ball", quality="low", **params)
    assert all(w in str(info.value) for w in words), str(info.value)
    assert kit.simulator.stats()["total"] == 0


def test_references_up_to_the_models_limit(kit):
    small = png(Image.new("RGB", (32, 32)))
    kit.request("edit", image=[small] * 16, prompt="a collage")
    with pytest.raises(InvalidRequest, match="at most 16"):
        kit.request("edit", image=[small] * 17, prompt="a collage")
    assert kit.simulator.stats()["total"] == 0


def test_input_fidelity_only_where_the_model_takes_it():
    image = png(Image.new("RGB", (1024, 1024)))
    with pytest.raises(InvalidRequest, match="omit it"):
        validate("edit", model="gpt-image-2", image=image, prompt="keep the face", input_fidelity="high")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # gpt-image-1.5 is deprecated
        request = validate("edit", model="gpt-image-1.5", image=image, prompt="keep the face",
                           input_fidelity="high", today=dt.date(2026, 11, 23))
    assert request.params["input_fidelity"] == "high"



# -- arguments: any form of picture, and clear refusals ----------------------------------------------------------


def test_pictures_and_masks_in_any_form_kit_edit_takes(tmp_path):
    photo = picture()
    mask = CASES["ellipse"]()
    (tmp_path / "photo.png").write_bytes(png(photo))
    (tmp_path / "mask.png").write_bytes(png(mask))
    result = ImageResult(data=png(photo), format="png", width=SIZE[0], height=SIZE[1],
                         request=Request("edit", MODEL, {}))
    for source in (photo, png(photo), io.BytesIO(png(photo)), tmp_path / "photo.png", str(tmp_path / "photo.png"),
                   result):
        assert masks.blank(source).size == SIZE
        assert np.array_equal(np.asarray(masks.overlay(source, mask)), np.asarray(masks.overlay(photo, mask)))
    for source in (mask, png(mask), io.BytesIO(png(mask)), tmp_path / "mask.png"):
        assert masks.coverage(source) == masks.coverage(mask)
        assert (edited(masks.grow(source, 2)) == edited(masks.grow(mask, 2))).all()
        assert (edited(masks.rectangle(SIZE, (0, 0, 4, 4), base=source))[:4, :4]).all()
    assert masks.changed_outside(png(photo), result, tmp_path / "mask.png") == 0


def test_a_picture_with_an_exif_orientation_gives_its_upright_size():
    photo = Image.open(io.BytesIO(png(Image.new("RGB", (60, 40)), "JPEG")))
    photo.getexif()[0x0112] = 6
    assert masks.blank(photo).size == (40, 60)  # the size the API compares the mask with


BAD_ARGUMENTS = {  # name -> (call, words the message must contain)
    "huge size": (lambda: masks.rectangle((100_000, 100_000), (0, 0, 9, 9)), ("size:", "89,478,485 pixels")),
    "box of two": (lambda: masks.rectangle(SIZE, (1, 2)), ("box:", "4 numbers", "got 2")),
    "box inf": (lambda: masks.ellipse(SIZE, math.inf), ("box:", "4 numbers")),
    "box NaN": (lambda: masks.rectangle(SIZE, (0, 0, math.nan, 5)), ("box[2]:", "finite")),
    "box far away": (lambda: masks.rectangle(SIZE, (0, 0, 1e12, 5)), ("box[2]:", "from -1e+06 to 1e+06")),
    "negative size": (lambda: masks.blank((-5, 10)), ("size:", "no pixels")),
    "fractional size": (lambda: masks.blank((10.5, 10)), ("size[0]:", "whole number")),
    "size as text": (lambda: masks.blank("1024x1024"), ("size:", "pass a tuple")),
    "size of a bool": (lambda: masks.blank((True, 10)), ("size[0]:", "whole number")),
    "empty image": (lambda: masks.coverage(Image.new("RGBA", (0, 0))), ("mask:", "no pixels")),
    "grow by text": (lambda: masks.grow(CASES["ellipse"](), "3"), ("pixels:", "pass 3, not '3'")),
    "shrink by NaN": (lambda: masks.shrink(CASES["ellipse"](), math.nan), ("pixels:", "finite")),
    "feather -1": (lambda: masks.feather(CASES["ellipse"](), -1), ("radius:", "at least 0")),
    "flat points": (lambda: masks.polygon(SIZE, [1, 2, 3, 4, 5, 6]), ("points:", "list(zip(xs, ys))")),
    "triples": (lambda: masks.brush(SIZE, [(1, 2, 3)], 5), ("points[0]:", "(x, y) pair")),
    "two points": (lambda: masks.polygon(SIZE, [(1, 2), (3, 4)]), ("points:", "at least 3 points")),
    "no points": (lambda: masks.brush(SIZE, [], 5), ("points:", "at least 1 point")),
    "brush width 0": (lambda: masks.brush(SIZE, [(1, 1)], 0), ("width:", "more than 0")),
    "erase text": (lambda: masks.rectangle(SIZE, (0, 0, 5, 5), erase="no"), ("erase:", "True or False")),
    "base of another size": (lambda: masks.rectangle(SIZE, (0, 0, 5, 5), base=masks.blank((8, 8))),
                             ("base:", "base mask is 8x8")),
    "base without alpha": (lambda: masks.rectangle(SIZE, (0, 0, 5, 5), base=Image.new("L", SIZE)),
                           ("base:", "no alpha channel", "from_bw")),
    "mask of garbage": (lambda: masks.invert(b"not a png"), ("mask:", "not an image")),
    "boxes not a list": (lambda: masks.boxes(SIZE, 5), ("boxes:", "list of")),
    "a bad box in boxes": (lambda: masks.boxes(SIZE, [(0, 0, 5, 5), (1, 2)]), ("boxes[1]:", "4 numbers")),
    "threshold text": (lambda: masks.from_bw(picture(), edit="white", threshold="128"), ("threshold:",)),
    "edit unknown": (lambda: masks.from_bw(picture(), edit="White"), ("edit:", "'white' or 'black'")),
    "opacity 2": (lambda: masks.overlay(picture(), CASES["ellipse"](), opacity=2), ("opacity:", "from 0 to 1")),
    "colour 300": (lambda: masks.overlay(picture(), CASES["ellipse"](), color=(300, 0, 0)), ("color:", "0 to 255")),
    "colour name": (lambda: masks.overlay(picture(), CASES["ellipse"](), color="nope"), ("color:", "not a colour")),
    "mode F picture": (lambda: masks.from_bw(Image.new("F", SIZE), edit="white"), ("img:", "no fixed scale")),
    "sizes differ": (lambda: masks.composite(picture(), picture((8, 8)), CASES["ellipse"]()), ("edited:", "differ")),
    "prepare edit": (lambda: masks.prepare(IMAGE, GOOD, MODEL, edit="yes"), ("edit:", "'white', 'black' or None")),
}


@pytest.mark.parametrize("name", sorted(BAD_ARGUMENTS))
def test_bad_arguments_are_refused_with_a_message_that_names_them(name):
    call, words = BAD_ARGUMENTS[name]
    with pytest.raises(InvalidArgument) as info:
        call()
    assert all(w in str(info.value) for w in words), str(info.value)


def test_check_and_prepare_refuse_odd_models_as_requests():
    for model in (None, 3, ["gpt-image-2"]):
        with pytest.raises(InvalidRequest, match="must be a model id") as info:
            masks.check(IMAGE, GOOD, model)
        assert info.value.param == "model"


def test_huge_finite_values_are_handled_without_numpy_warnings():
    assert masks.coverage(masks.ellipse(SIZE, (1, 1, 1 + 1e-300, 30))) == 0  # a box thinner than any pixel
    assert masks.coverage(masks.brush(SIZE, [(5, 5), (5 + 1e-200, 5)], 4)) > 0  # a segment of no length: a dot
    assert masks.coverage(masks.grow(masks.rectangle(SIZE, (0, 0, 1, 1)), 1e300)) == 1
    assert masks.coverage(masks.feather(CASES["ellipse"](), 1e300)) == masks.coverage(CASES["ellipse"]())
    assert masks.coverage(masks.rectangle(SIZE, (-1e6, -1e6, 1e6, 1e6))) == 1


@given(st.integers(0, 2**32 - 1), st.floats(0, 12), st.integers(1, 40), st.integers(1, 40))
def test_grow_and_shrink_measure_only_a_window_and_a_band_at_a_time_exactly(seed, pixels, width, height):
    rng = np.random.default_rng(seed)
    edit = rng.random((height, width)) < rng.uniform(0.01, 0.3)
    edit[rng.integers(height), rng.integers(width)] = True
    mask = masks.from_area(Image.fromarray(edit.astype(np.uint8) * 255))
    with mock.patch.object(mask_geometry, "BAND", 17):  # several bands even on a tiny picture
        grown, shrunk = edited(masks.grow(mask, pixels)), edited(masks.shrink(mask, pixels))
    if edit.all():
        return
    assert (grown == (ndimage.distance_transform_edt(~edit) <= pixels)).all()
    assert (shrunk == (ndimage.distance_transform_edt(edit) > pixels)).all()


@given(st.lists(st.tuples(st.floats(-20, 120), st.floats(-20, 80)), min_size=1, max_size=4), st.floats(0.5, 40))
def test_ellipse_and_brush_are_the_same_in_bands(points, width):
    box = (points[0][0], points[0][1], points[0][0] + width * 2, points[0][1] + width)
    whole = (edited(masks.ellipse(SIZE, box)), edited(masks.brush(SIZE, points, width)))
    with mock.patch.object(mask_geometry, "BAND", 23):
        banded = (edited(masks.ellipse(SIZE, box)), edited(masks.brush(SIZE, points, width)))
    assert all((a == b).all() for a, b in zip(whole, banded))
