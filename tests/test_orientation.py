"""EXIF orientation: masks and markups are compared with the photo *upright*, as the SDK, the API and the simulator do.

A phone photo stored landscape with EXIF Orientation 6 or 8 is shown (and edited) portrait. Its mask must be
portrait; a mask of the stored, landscape size is refused before any request is sent, with a message that
says why. Orientations 5-8 swap width and height, 1-4 do not.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from dalle_kit import InvalidRequest, Kit, Simulator, masks, validate
from dalle_kit.inputs import TRANSPOSE, exif_orientation, oriented_size, to_upload
from dalle_kit.widgets import MaskPainter

MODEL = "gpt-image-2.5-flare"
STORED = (1536, 1024)  # landscape as stored; Orientation 6/8 shows it 1024x1536, a size the model edits at
MIME = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
ROTATED = [(fmt, o) for fmt in ("JPEG", "PNG") for o in (6, 8)]


def encode(img: Image.Image, fmt: str = "PNG", orientation: int | None = None) -> bytes:
    """``img`` saved as ``fmt``, with an EXIF Orientation tag when ``orientation`` is given."""
    buffer = io.BytesIO()
    options = {}
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        options["exif"] = exif.tobytes()
    img.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def picture(size: tuple[int, int] = STORED) -> Image.Image:
    """A photo with a red square near the stored top-left corner (so a turn is visible)."""
    img = Image.new("RGB", size, (30, 90, 160))
    ImageDraw.Draw(img).rectangle((8, 8, size[0] // 4, size[1] // 4), fill=(255, 0, 0))
    return img


def photo(fmt: str, orientation: int | None, size: tuple[int, int] = STORED) -> bytes:
    return encode(picture(size), fmt, orientation)


def upright(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    return (size[1], size[0]) if orientation in (5, 6, 7, 8) else size


def markup_of(size: tuple[int, int]) -> Image.Image:
    """A transparent PNG drawing: a red stroke, the rest clear."""
    img = Image.new("RGBA", size, (0, 0, 0, 0))
    ImageDraw.Draw(img).line((10, 10, size[0] - 10, size[1] // 2), fill=(255, 0, 0, 255), width=6)
    return img


@pytest.fixture
def kit(tmp_path):
    return Kit(simulator=Simulator(seed=1), home=tmp_path, quiet=True)


# -- Upload sizes -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt,orientation", ROTATED)
def test_upload_size_is_the_upright_size_and_the_stored_one_is_kept(fmt, orientation):
    upload = to_upload(photo(fmt, orientation))
    assert upload.size == (upload.width, upload.height) == (1024, 1536)
    assert upload.stored_size == STORED and upload.orientation == orientation
    assert upload.describe()["size"] == "1024x1536" and upload.describe()["orientation"] == orientation


def test_png_carries_exif_orientation_in_an_exif_chunk():
    data = photo("PNG", 6)
    assert b"eXIf" in data and exif_orientation(Image.open(io.BytesIO(data))) == 6


@pytest.mark.parametrize("orientation", [None, 1])
def test_no_rotation_keeps_todays_behaviour(orientation, kit):
    data = photo("JPEG", orientation)
    upload = to_upload(data)
    assert upload.size == upload.stored_size == STORED and upload.orientation == 1
    assert "orientation" not in upload.describe()
    mask = masks.rectangle(STORED, (0, 0, 300, 300))
    validate("edit", model=MODEL, prompt="a red door", image=data, mask=mask)
    assert kit.edit(data, "a red door", mask=mask, quality="low").pil.size == STORED
    with pytest.raises(InvalidRequest, match="does not match") as info:
        validate("edit", model=MODEL, prompt="a red door", image=data, mask=masks.rectangle((1024, 1536), (0, 0, 9, 9)))
    assert "EXIF" not in str(info.value)


def test_a_pil_image_with_an_orientation_tag_is_sent_upright():
    opened = Image.open(io.BytesIO(photo("JPEG", 6)))
    upload = to_upload(opened)
    sent = Image.open(io.BytesIO(upload.data))
    assert upload.size == sent.size == (1024, 1536) and upload.orientation == exif_orientation(sent) == 1
    assert sent.getpixel((1024 - 40, 40))[0] > 200  # the red corner turned with the picture (top-right now)


# -- masks and markups on rotated photos ----------------------------------------------------------------------


@pytest.mark.parametrize("fmt,orientation", ROTATED)
def test_upright_mask_is_accepted_by_validator_and_simulator(fmt, orientation, kit):
    data = photo(fmt, orientation)
    mask = masks.ellipse((1024, 1536), (100, 200, 600, 900))
    validate("edit", model=MODEL, prompt="a red door", image=data, mask=mask)
    masks.check(data, mask, MODEL)
    result = kit.edit(data, "a red door", mask=mask, size="auto", quality="low")
    assert result.pil.size == (1024, 1536)


@pytest.mark.parametrize("fmt,orientation", ROTATED)
def test_stored_size_mask_is_refused_with_the_orientation_named(fmt, orientation, kit):
    data = photo(fmt, orientation)
    mask = masks.rectangle(STORED, (0, 0, 300, 300))
    with pytest.raises(InvalidRequest) as info:
        validate("edit", model=MODEL, prompt="a red door", image=data, mask=mask)
    message = str(info.value)
    for part in (f"EXIF rotation (Orientation {orientation})", "upright", "1024x1536",
                 "dalle_kit.masks.prepare(image, mask, model)", "PIL.ImageOps.exif_transpose",
                 f"mask.transpose(Image.Transpose.{TRANSPOSE[orientation].name})"):
        assert part in message
    assert info.value.param == "mask" and info.value.allowed == (1024, 1536)
    with pytest.raises(InvalidRequest, match="EXIF rotation"):
        kit.edit(data, "a red door", mask=mask)
    with pytest.raises(InvalidRequest, match="EXIF rotation"):  # painted on a scaled copy of the stored photo
        kit.edit(data, "a red door", mask=masks.rectangle((768, 512), (0, 0, 99, 99)))
    assert kit.simulator.stats()["total"] == 0


@pytest.mark.parametrize("fmt,orientation", ROTATED)
def test_markup_is_compared_upright(fmt, orientation, kit):
    data = photo(fmt, orientation)
    validate("edit", model=MODEL, prompt="a window here", image=data, markup=markup_of((1024, 1536)))
    result = kit.edit(data, "a window here", markup=markup_of((1024, 1536)), quality="low")
    assert result.pil.size == (1024, 1536)
    requests = kit.simulator.stats()["total"]
    with pytest.raises(InvalidRequest) as info:
        kit.edit(data, "a window here", markup=markup_of(STORED))
    message = str(info.value)
    assert f"EXIF rotation (Orientation {orientation})" in message and "PIL.ImageOps.exif_transpose" in message
    assert "masks.prepare" not in message and info.value.param == "markup"
    assert kit.simulator.stats()["total"] == requests


# -- the painter and masks.prepare ----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt,orientation", ROTATED)
def test_painter_on_a_rotated_photo_gives_a_mask_the_edit_accepts(fmt, orientation, kit, tmp_path):
    path = tmp_path / f"phone.{fmt.lower()}"
    path.write_bytes(photo(fmt, orientation))
    for source in (path, path.read_bytes(), Image.open(path)):
        painter = MaskPainter(source)
        assert painter.size == (painter.width, painter.height) == (1024, 1536)
        painter.add_rect((100, 900, 700, 1400))
        assert painter.mask.size == (1024, 1536)
        validate("edit", model=MODEL, prompt="a red door", image=source, mask=painter.mask)
        result = kit.edit(source, "a red door", mask=painter.mask, quality="low")
        assert result.pil.size == (1024, 1536)


@pytest.mark.parametrize("fmt,orientation", ROTATED)
def test_prepare_gives_an_untagged_upright_pair_check_and_simulator_accept(fmt, orientation, kit):
    data = photo(fmt, orientation)
    img, mask = masks.prepare(data, masks.rectangle((1024, 1536), (0, 0, 200, 200)), MODEL)
    assert img.size == mask.size == (1024, 1536)
    assert exif_orientation(img) == 1  # the tag is gone: nothing turns it a second time
    if "exif" in img.info:  # saved with its EXIF, as a user might, it still reads upright
        resaved = io.BytesIO()
        img.save(resaved, format="JPEG", exif=img.info["exif"])
        assert exif_orientation(Image.open(resaved)) == 1
    masks.check(img, mask, MODEL)
    assert to_upload(img).orientation == 1
    assert kit.edit(img, "a red door", mask=mask, quality="low").pil.size == (1024, 1536)


@pytest.mark.parametrize("orientation", range(5, 9))
def test_prepare_turns_a_mask_drawn_on_the_stored_photo_with_it(orientation):
    data = photo("PNG", orientation)
    red_box = (8, 8, STORED[0] // 4 + 1, STORED[1] // 4 + 1)  # the red square, as stored
    img, mask = masks.prepare(data, masks.rectangle(STORED, red_box), MODEL)
    red = np.asarray(img.convert("RGB"))[..., 0] > 200
    assert img.size == mask.size == (1024, 1536)
    assert np.array_equal(np.asarray(masks.edit_area(mask)) > 0, red)


def test_prepare_applies_the_masks_own_orientation():
    mask = masks.rectangle((1024, 1536), (0, 0, 200, 200))
    stored_mask = encode(mask.transpose(Image.Transpose.ROTATE_90), "PNG", 6)  # turned back upright by its tag
    _, fixed = masks.prepare(photo("JPEG", 6), stored_mask, MODEL)
    assert np.array_equal(np.asarray(fixed.getchannel("A")), np.asarray(mask.getchannel("A")))


# -- every orientation: the validator and the simulator agree --------------------------------------------------


SMALL = (96, 64)
SIMULATOR = Simulator(seed=1)


def verdicts(image: bytes, fmt: str, param: str, drawing: bytes) -> tuple[bool, bool]:
    """(validator accepts, simulator accepts) for an edit of ``image`` with ``drawing`` as mask or markup."""
    try:
        validate("edit", model=MODEL, prompt="a red door", image=image, **{param: drawing})
        ours = True
    except InvalidRequest:
        ours = False
    files = [("image", (f"in.{fmt.lower()}", image, MIME[fmt])), (param, (f"{param}.png", drawing, "image/png"))]
    theirs = SIMULATOR.validate("edit", data={"model": MODEL, "prompt": "a red door"}, files=files)
    return ours, theirs is None


@settings(max_examples=16, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(orientation=st.integers(1, 8), fmt=st.sampled_from(["JPEG", "PNG", "WEBP"]),
       param=st.sampled_from(["mask", "markup"]), upright_drawing=st.booleans(),
       drawing_orientation=st.sampled_from([None, 1, 3, 6, 8]))
def test_validator_and_simulator_agree_on_every_orientation(orientation, fmt, param, upright_drawing,
                                                            drawing_orientation):
    image = photo(fmt, orientation, SMALL)
    want = upright(SMALL, orientation) if upright_drawing else SMALL
    stored = upright(want, drawing_orientation or 1)  # stored so that its own tag turns it to ``want``
    shape = masks.rectangle(stored, (0, 0, 20, 20)) if param == "mask" else markup_of(stored)
    drawing = encode(shape, "PNG", drawing_orientation)
    ours, theirs = verdicts(image, fmt, param, drawing)
    assert ours == theirs
    assert ours == (want == upright(SMALL, orientation))
    assert to_upload(image).size == oriented_size(SMALL, orientation) == upright(SMALL, orientation)
