"""Odd images as edit inputs, masks and markups, and odd arguments to ``dalle_kit.masks``.

The promise, tested generatively: every call returns a result or raises a ``DalleKitError`` whose message names
the parameter at fault; never an OSError, MemoryError, TypeError, DecompressionBomb* or a ValueError of Pillow's.
Through ``Kit.edit`` on the simulator, a refused request is never counted by it, and what the validator accepts
the simulator accepts. Images are drawn in every mode Pillow creates, saved in PNG, JPEG, WebP, GIF, TIFF and
BMP (still or animated, with an EXIF orientation or not), then truncated, corrupted, or crafted with huge
dimensions in the header; PIL images of each mode are passed as they are. ``OUTCOMES`` counts what happened
(``pytest -s`` prints the figures).
"""

from __future__ import annotations

import contextlib
import fractions
import inspect
import io
import math
import struct
import warnings
import zlib
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import openai
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageOps

from dalle_kit import (
    DalleKitError,
    DalleKitWarning,
    ImageResult,
    InvalidArgument,
    InvalidRequest,
    Kit,
    Request,
    Simulator,
    masks,
    validate,
)
from dalle_kit.image_io import MAX_PIXELS, MAX_SIDE
from dalle_kit.mask_args import size_of

MODEL = "gpt-image-2.5-flare"
MODES = ["1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr", "LAB", "HSV", "I", "I;16",
         "I;16B", "I;16L", "I;16N", "F"]
FORMATS = ["PNG", "JPEG", "WEBP", "GIF", "TIFF", "BMP"]
ROLES = ["image", "image[1]", "mask", "markup"]
OUTCOMES: Counter[str] = Counter()


# -- building images -------------------------------------------------------------------------------------------


def encode(img: Image.Image, fmt: str = "PNG", **options: Any) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def noise(mode: str, size: tuple[int, int], seed: int) -> Image.Image:
    """A picture of random bytes in ``mode`` (NaN and inf included, for mode F)."""
    length = len(Image.new(mode, size).tobytes())
    return Image.frombytes(mode, size, np.random.default_rng(seed).bytes(length))


def with_edit_area(img: Image.Image) -> Image.Image:
    """``img`` with fully transparent pixels (its top half) where it has alpha, so it may pass as a mask."""
    if img.mode not in ("RGBA", "LA", "PA", "RGBa", "La"):
        return img
    pixels = np.asarray(img).copy()
    pixels[: max(1, img.height // 2), :, -1] = 0
    return Image.frombytes(img.mode, img.size, pixels.tobytes())


def good_png(size: tuple[int, int]) -> bytes:
    return encode(Image.new("RGB", size, (40, 110, 190)))


def chunk(kind: bytes, body: bytes) -> bytes:
    """A PNG chunk with its CRC computed."""
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


PNG_KINDS = [(0, 1), (0, 8), (0, 16), (2, 8), (2, 16), (3, 1), (3, 8), (4, 8), (4, 16), (6, 8), (6, 16),
             (2, 3), (5, 8)]  # (colour type, bit depth); the last two are invalid


@st.composite
def crafted_pngs(draw) -> tuple[bytes, tuple[int, int]]:
    """A PNG written chunk by chunk: any declared size (up to 2^31-1 a side), pixel data that may be short,
    optional tRNS, PLTE, acTL (animation) and eXIf (orientation) chunks; CRCs are right unless corrupted."""
    side = st.one_of(st.integers(1, 48), st.sampled_from([0, 9459, 10_000, 20_000, 30_000, MAX_SIDE + 1,
                                                          2**31 - 1]))
    width, height = draw(side), draw(side)
    kind, depth = draw(st.sampled_from(PNG_KINDS))
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}.get(kind, 3)
    row = (width * channels * depth + 7) // 8 + 1
    full = row * height if width * height <= 48 * 48 else 64
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    pixels = bytearray(rng.bytes(full))
    if width * height <= 48 * 48:
        pixels[::row] = bytes([draw(st.integers(0, 5))]) * height  # filter bytes (5 is invalid)
    idat = zlib.compress(bytes(pixels))[: draw(st.sampled_from([None, None, 10, 30]))]
    chunks = [chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, kind, 0, 0, 0))]
    if kind == 3:
        chunks.append(chunk(b"PLTE", rng.bytes(3 * draw(st.sampled_from([2, 16, 256])))))
    if draw(st.booleans()):
        chunks.append(chunk(b"tRNS", b"\x00\x00" if kind == 0 else b"\x00" * 6 if kind == 2 else b"\x00\x80"))
    if draw(st.booleans()):
        chunks.append(chunk(b"acTL", struct.pack(">II", draw(st.integers(0, 3)), 0)))
    chunks.append(chunk(b"IDAT", idat))
    exif_kind = draw(st.sampled_from(["none", "none", "orientation", "unreadable"]))
    if exif_kind != "none":
        exif = Image.Exif()
        exif[0x0112] = draw(st.integers(0, 9))
        body = exif.tobytes() if exif_kind == "orientation" else rng.bytes(draw(st.integers(0, 40)))
        chunks.append(chunk(b"eXIf", body))
    data = b"\x89PNG\r\n\x1a\n" + b"".join(chunks) + chunk(b"IEND", b"")
    if draw(st.booleans()):
        at = draw(st.integers(8, len(data) - 1))
        data = data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1:]  # a flipped byte
    return data, (width, height) if 0 < width <= 48 and 0 < height <= 48 else (16, 16)


@st.composite
def pil_images(draw, max_side: int = 40) -> Image.Image:
    """A PIL image of any mode, random pixels, sometimes a transparency key and an EXIF orientation."""
    mode = draw(st.sampled_from(MODES))
    size = (draw(st.integers(1, max_side)), draw(st.integers(1, max_side)))
    img = with_edit_area(noise(mode, size, draw(st.integers(0, 2**32 - 1))))
    if mode in ("P", "L", "1") and draw(st.booleans()):
        img.info["transparency"] = 0
    orientation = draw(st.sampled_from([None, None, 1, 3, 6, 8]))
    if orientation:
        img.getexif()[0x0112] = orientation
    return img


def upright(img: Image.Image) -> tuple[int, int]:
    orientation = img.getexif().get(0x0112, 1)
    return (img.height, img.width) if orientation in (5, 6, 7, 8) else img.size


@st.composite
def encoded_images(draw) -> tuple[bytes, tuple[int, int]]:
    """A drawn picture saved in some format (converted when the format cannot hold its mode), maybe animated,
    with an EXIF orientation, then maybe truncated at a random byte or with a random byte flipped."""
    img = draw(pil_images())
    fmt = draw(st.sampled_from(FORMATS))
    orientation = draw(st.sampled_from([None, None, 1, 2, 5, 6, 8]))
    options: dict[str, Any] = {}
    if orientation and fmt in ("PNG", "JPEG", "WEBP", "TIFF"):
        exif = Image.Exif()
        exif[0x0112] = orientation
        options["exif"] = exif.tobytes()
    if fmt in ("PNG", "WEBP", "GIF") and draw(st.booleans()):
        options.update(save_all=True, append_images=[img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)])
    data = b""
    plain = img.convert("LA") if img.mode == "La" else img  # Pillow converts La to nothing else
    for candidate in (img, plain.convert("RGBA"), plain.convert("RGB")):
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            data = encode(candidate, fmt, **options)
            break
    size = (img.height, img.width) if "exif" in options and orientation in (5, 6, 7, 8) else img.size
    cut = draw(st.sampled_from(["whole", "whole", "truncated", "flipped"]))
    if cut == "truncated":
        data = data[: draw(st.integers(0, max(0, len(data) - 1)))]
    elif cut == "flipped" and data:
        at = draw(st.integers(0, len(data) - 1))
        data = data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1:]
    return data, size


NOT_IMAGES = ["", "no/such/file.png", "a\x00b.png", "https://example.com/cat.png", "data:image/png;base64,iVBO",
              "iVBORw0KGgo" * 40, 0, -1, 3.5, math.nan, True, b"", b"GIF89a", b"\x89PNG\r\n\x1a\n", bytearray(b"x"),
              [], [1, None], [[b"\x89PNG"]], {"image": 1}, (1, 2), ("name.png", 5), ("name.png", b"junk", "image/png"),
              object(), np.zeros((4, 4, 3), dtype=np.uint8), np.float64(1.5), Decimal("1"), {1, 2}, memoryview(b"\x00")]


@contextlib.contextmanager
def materialized(kind: str, tmp: Path) -> Iterator[Any]:
    """Values that need the file system or must be closed afterwards."""
    if kind == "folder":
        yield tmp
    elif kind == "text file":
        (tmp / "notes.txt").write_text("not an image\n")
        yield tmp / "notes.txt"
    elif kind == "empty file":
        (tmp / "empty.png").write_bytes(b"")
        yield str(tmp / "empty.png")
    elif kind == "closed BytesIO":
        buffer = io.BytesIO(good_png((16, 16)))
        buffer.close()
        yield buffer
    elif kind == "text-mode file":
        (tmp / "pic.png").write_bytes(good_png((16, 16)))
        with open(tmp / "pic.png", encoding="utf-8") as handle:
            yield handle
    else:
        yield io.StringIO("\x89PNG not really")


MATERIALIZED = ["folder", "text file", "empty file", "closed BytesIO", "text-mode file", "StringIO"]


@st.composite
def odd_inputs(draw) -> tuple[str, Any, tuple[int, int]]:
    """``(how, value, upright size)``: ``how`` is "value", "pil" or "materialize" (the value names a kind)."""
    which = draw(st.sampled_from(["encoded", "encoded", "encoded", "crafted", "pil", "pil", "not image", "file"]))
    if which == "encoded":
        data, size = draw(encoded_images())
        return "value", data, size
    if which == "crafted":
        data, size = draw(crafted_pngs())
        return "value", data, size
    if which == "pil":
        img = draw(pil_images())
        return "value", img, upright(img)
    if which == "not image":
        return "value", draw(st.sampled_from(NOT_IMAGES)), (16, 16)
    return "materialize", draw(st.sampled_from(MATERIALIZED)), (16, 16)


# -- the property ------------------------------------------------------------------------------------------------


def names_a_parameter(exc: DalleKitError, names: set[str]) -> bool:
    """Whether the message starts with (or the InvalidRequest is about) one of ``names``."""
    if isinstance(exc, InvalidRequest):
        return exc.param.split("[")[0] in names and exc.param.split("[")[0] in str(exc)
    head = str(exc).split(":", 1)[0].split("=", 1)[0]
    return head.split("[")[0].strip() in names


def edit_arguments(role: str, value: Any, size: tuple[int, int]) -> dict[str, Any]:
    companion = good_png(size)
    if role == "image":
        return {"image": value}
    if role == "image[1]":
        return {"image": [companion, value]}
    return {"image": companion, role: value}


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    # cache=False: the test counts what reaches the simulator, and hypothesis repeats examples
    with Kit(simulator=Simulator(seed=1), home=tmp_path_factory.mktemp("home"), quiet=True, max_retries=0,
             cache=False) as k:
        yield k


@pytest.fixture(scope="module", autouse=True)
def figures():
    yield
    print("\nodd-image probes:", sum(OUTCOMES.values()), dict(sorted(OUTCOMES.items())))


@given(odd_inputs(), st.sampled_from(ROLES))
def test_validate_answers_any_image_with_a_request_or_a_named_refusal(tmp_path_factory, case, role):
    how, value, size = case
    tmp = tmp_path_factory.mktemp("odd")
    with materialized(value, tmp) if how == "materialize" else contextlib.nullcontext(value) as given_value:
        try:
            request = validate("edit", model=MODEL, prompt="a red door", **edit_arguments(role, given_value, size))
        except DalleKitError as exc:
            OUTCOMES["validate: DalleKitError"] += 1
            assert names_a_parameter(exc, {role.split("[")[0]}), str(exc)
            return
        except Exception:
            OUTCOMES["validate: other"] += 1
            raise
    OUTCOMES["validate: result"] += 1
    assert request.images and all(u.mimetype in ("image/png", "image/jpeg", "image/webp") for u in request.images)


@contextlib.contextmanager
def pillow_warnings_shown() -> Iterator[None]:
    """Pillow's UserWarnings as outside the test suite (shown, not raised): the simulator decodes uploads in this
    process, and "Invalid APNG" or "Corrupt EXIF data" raised as errors would turn its 200 into a 400 or 500."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
        yield


@given(odd_inputs(), st.sampled_from(ROLES))
def test_kit_edit_on_the_simulator_sends_only_what_it_accepts(kit, tmp_path_factory, case, role):
    how, value, size = case
    tmp = tmp_path_factory.mktemp("odd")
    before = kit.simulator.stats()["total"]
    with materialized(value, tmp) if how == "materialize" else contextlib.nullcontext(value) as given_value, \
            pillow_warnings_shown():
        try:
            result = kit.edit(prompt="a red door", quality="low", **edit_arguments(role, given_value, size))
        except DalleKitError as exc:
            OUTCOMES["Kit.edit: DalleKitError"] += 1
            assert names_a_parameter(exc, {role.split("[")[0]}), str(exc)
            assert kit.simulator.stats()["total"] == before, "a refused request reached the simulator"
            return
        except openai.APIError as exc:
            OUTCOMES["Kit.edit: API error"] += 1
            raise AssertionError(f"the validator accepted what the simulator refused: {exc}") from None
        except Exception:
            OUTCOMES["Kit.edit: other"] += 1
            raise
    OUTCOMES["Kit.edit: result"] += 1
    assert result.pil.size[0] > 0 and kit.simulator.stats()["total"] == before + 1


# -- masks: any argument -------------------------------------------------------------------------------------------

SIDE = st.integers(1, 40)
ODD_NUMBERS = st.one_of(
    st.integers(-(2**70), 2**70), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1, 0.5, 1e-300, 1e300, 10**400, math.nan, -math.inf, True, None, "3", "", b"1", 2j,
                     Decimal("2.5"), Decimal("NaN"), fractions.Fraction(7, 2), np.float32("nan"), np.int64(3),
                     np.float64(1e308), [1], (1,)]))


def _result(value: Any) -> ImageResult:
    return ImageResult(data=good_png(value), format="png", width=value[0], height=value[1],
                       request=Request("edit", MODEL, {}))


@st.composite
def sizes(draw, size: tuple[int, int]) -> Any:
    """Mostly ``size`` itself in some form (tuple, list, picture, bytes, ImageResult), sometimes anything."""
    form = draw(st.sampled_from(["tuple", "list", "pil", "bytes", "result", "odd tuple", "odd"]))
    if form == "tuple":
        return size
    if form == "list":
        return list(size)
    if form == "pil":
        return Image.new(draw(st.sampled_from(MODES)), size)
    if form == "bytes":
        return good_png(size)
    if form == "result":
        return _result(size)
    if form == "odd tuple":
        return (draw(st.one_of(SIDE, ODD_NUMBERS)), draw(st.one_of(SIDE, ODD_NUMBERS)))
    return draw(st.one_of(ODD_NUMBERS, st.sampled_from([(100_000, 100_000), (MAX_SIDE + 1, 1), (1, 2, 3), (0, 5),
                                                        "1024x1024", "no/such.png", Image.new("RGB", (0, 0)),
                                                        b"junk"]), st.builds(_odd_pil)))


def _odd_pil() -> Image.Image:
    return Image.new("F", (8, 8))


@st.composite
def mask_likes(draw, size: tuple[int, int]) -> Any:
    """A mask of ``size`` (made by dalle_kit.masks, as bytes, as an ImageResult), or an odd picture, or anything."""
    form = draw(st.sampled_from(["mask", "mask", "bytes", "pil", "encoded", "crafted", "odd"]))
    w, h = size
    mask = masks.rectangle(size, (w // 4, h // 4, w // 2 + 1, h // 2 + 1))
    if form == "mask":
        return mask
    if form == "bytes":
        return encode(mask)
    if form == "pil":
        return draw(pil_images())
    if form in ("encoded", "crafted"):
        return draw(encoded_images() if form == "encoded" else crafted_pngs())[0]
    return draw(st.one_of(ODD_NUMBERS, st.sampled_from(NOT_IMAGES), st.just(masks.blank((w + 1, h)))))


COORD = st.one_of(st.floats(-60, 100), st.integers(-60, 100))
BOXES = st.one_of(st.tuples(COORD, COORD, COORD, COORD), st.lists(st.one_of(COORD, ODD_NUMBERS), max_size=5),
                  ODD_NUMBERS, st.sampled_from([(1, 2), "0,0,1,1", (0, 0, 1e7, 1), (math.nan,) * 4]))
POINTS = st.one_of(st.lists(st.tuples(COORD, COORD), max_size=6),
                   st.lists(st.one_of(st.tuples(COORD, COORD), st.tuples(COORD), ODD_NUMBERS,
                                      st.tuples(COORD, COORD, COORD), st.tuples(COORD, ODD_NUMBERS)), max_size=4),
                   ODD_NUMBERS, st.sampled_from([[1, 2, 3, 4, 5, 6], "0,0 1,1 2,2", iter([(1, 2)] * 3)]))
FLAGS = st.one_of(st.booleans(), st.sampled_from([0, 1, "no", None, np.bool_(True)]))
COLORS = st.one_of(st.tuples(st.integers(-10, 300), st.integers(0, 255), st.integers(0, 255)),
                   st.sampled_from(["red", "#ff2878", "nope", (1, 2), (0.5, 0, 0), None, 5]))


@st.composite
def mask_calls(draw) -> tuple[str, dict[str, Any]]:
    """A public function of dalle_kit.masks and arguments for it, each good or odd."""
    name = draw(st.sampled_from(sorted(masks.__all__)))
    size = (draw(SIDE), draw(SIDE))
    good_or = {
        "size": sizes(size), "box": BOXES, "points": POINTS, "base": st.one_of(st.none(), mask_likes(size)),
        "erase": FLAGS, "width": st.one_of(st.floats(0.5, 30), ODD_NUMBERS), "pad": st.one_of(COORD, ODD_NUMBERS),
        "boxes": st.one_of(st.lists(BOXES, max_size=3), ODD_NUMBERS), "mask": mask_likes(size),
        "img": st.one_of(mask_likes(size), pil_images()), "area": st.one_of(mask_likes(size), pil_images()),
        "edit": st.sampled_from(["white", "black", None, "White", 1]), "threshold": st.one_of(COORD, ODD_NUMBERS),
        "pixels": st.one_of(COORD, ODD_NUMBERS), "radius": st.one_of(st.floats(0, 20), ODD_NUMBERS),
        "image": st.one_of(st.just(good_png(size)), mask_likes(size), pil_images()),
        "original": st.one_of(st.just(Image.new("RGB", size)), mask_likes(size)),
        "edited": st.one_of(st.just(good_png(size)), st.just(_result(size)), mask_likes(size)),
        "color": COLORS, "opacity": st.one_of(st.floats(0, 1), ODD_NUMBERS), "outline": FLAGS,
        "model": st.sampled_from([MODEL, "gpt-image-2", "dall-e-2", "dall-e-3", "nope", None, 3]),
    }
    params = inspect.signature(getattr(masks, name)).parameters
    kwargs = {}
    for param in params.values():
        optional = param.default is not inspect.Parameter.empty
        if optional and param.name != "edit" and draw(st.booleans()):
            continue
        kwargs[param.name] = draw(good_or[param.name])
    return name, kwargs


@given(mask_calls())
def test_masks_functions_answer_any_arguments_with_a_result_or_a_named_refusal(call):
    name, kwargs = call
    function = getattr(masks, name)
    try:
        result = function(**kwargs)
    except DalleKitError as exc:
        OUTCOMES["masks: DalleKitError"] += 1
        assert names_a_parameter(exc, set(inspect.signature(function).parameters)), (name, str(exc))
        return
    except Exception:
        OUTCOMES["masks: other"] += 1
        raise
    OUTCOMES["masks: result"] += 1
    if isinstance(result, Image.Image) and name not in ("overlay", "composite", "edit_area"):
        assert result.mode == "RGBA" and result.size[0] * result.size[1] <= MAX_PIXELS


# -- what each odd image becomes: the decisions ---------------------------------------------------------------------


PIL_DECISIONS = {  # mode -> mode of the PNG sent (None: refused, with this fix in the message)
    "1": "1", "L": "L", "LA": "LA", "P": "P", "RGB": "RGB", "RGBA": "RGBA", "I;16": "I;16",
    "PA": "RGBA", "La": "LA", "RGBa": "RGBA", "RGBX": "RGB", "CMYK": "RGB", "YCbCr": "RGB", "LAB": "RGB",
    "HSV": "RGB", "I;16B": "I;16", "I;16L": "I;16", "I;16N": "I;16", "I": None, "F": None,
}


@pytest.mark.parametrize("mode", MODES)
def test_a_pil_image_of_every_mode_is_sent_as_png_or_refused_with_the_conversion(kit, mode):
    img = noise(mode, (24, 16), 7)
    want = PIL_DECISIONS[mode]
    if want is None:
        with pytest.raises(InvalidRequest, match=r"no fixed scale.*img\.convert\('L'\)") as info:
            validate("edit", model=MODEL, prompt="x", image=img)
        assert info.value.param == "image"
        return
    sent = validate("edit", model=MODEL, prompt="x", image=img).images[0]
    assert sent.mimetype == "image/png" and Image.open(io.BytesIO(sent.data)).mode == want
    assert kit.edit(img, "a red door", quality="low").pil.size == (1536, 1024)


def test_pixels_are_converted_not_clipped():
    grey16 = Image.fromarray(np.arange(64 * 16, dtype=np.uint16).reshape(16, 64) * 64)
    sent = validate("edit", model=MODEL, prompt="x", image=grey16).images[0]
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(sent.data))), np.asarray(grey16))  # 16 bits kept
    assert np.asarray(masks.from_bw(grey16, edit="white").getchannel("A")).min() == 0  # scaled, not clipped
    cmyk = Image.new("CMYK", (8, 8), (0, 255, 255, 0))  # red ink
    assert Image.open(io.BytesIO(validate("edit", model=MODEL, prompt="x", image=cmyk).images[0].data)) \
        .getpixel((0, 0)) == (255, 0, 0)


def test_cmyk_jpeg_and_16_bit_png_bytes_are_sent_as_they_are(kit):
    for data in (encode(Image.new("CMYK", (32, 32), (0, 0, 255, 0)), "JPEG"),
                 encode(Image.new("I;16", (32, 32), 30000))):
        request = validate("edit", model=MODEL, prompt="x", image=data)
        assert request.images[0].data == data
        assert kit.edit(data, "a red door", quality="low").pil.size == (1024, 1024)


def header_only_png(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` and carries a few bytes of pixels."""
    ihdr = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + ihdr + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def animated(fmt: str) -> bytes:
    frames = [Image.new("RGB", (32, 32), (i * 80, 0, 0)) for i in range(3)]
    return encode(frames[0], fmt, save_all=True, append_images=frames[1:])


REFUSED = {  # name -> (image, words the message must contain)
    "20000x20000 PNG": (header_only_png(20_000, 20_000), ("89,478,485", "Shrink it", "thumbnail")),
    "10000x10000 PNG (Pillow would only warn)": (header_only_png(10_000, 10_000), ("89,478,485", "thumbnail")),
    "wider than 65535": (header_only_png(70_000, 10), ("65,535 a side", "thumbnail")),
    "pixels cut short": (header_only_png(64, 64), ("truncated or corrupt",)),
    "truncated PNG": (good_png((64, 64))[:-40], ("truncated or corrupt", "save it again")),
    "truncated JPEG": (encode(noise("RGB", (64, 64), 1), "JPEG")[:400], ("truncated or corrupt",)),
    "zero bytes": (b"", ("empty (0 bytes)",)),
    "text": (b"hello, world\n", ("not an image", "looks like text")),
    "animated WebP": (animated("WEBP"), ("animated WebP of 3 frames", "img.seek(0)")),
    "APNG": (animated("PNG"), ("animated PNG (APNG) of 3 frames", "img.seek(0)")),
    "GIF": (animated("GIF"), ("image/gif is not accepted", "save('input.png')")),
    "non-existent path": ("no/such/photo.png", ("no file at",)),
    "path with NUL": ("photo\x00.png", ("NUL character",)),
    "URL": ("https://example.com/cat.png", ("is a URL", "pass the bytes")),
    "int": (7, ("cannot read a value of type int",)),
    "list of garbage": ([b"\x89PNG", None], ("image[0]",)),
    "array": (np.zeros((8, 8, 3), dtype=np.uint8), ("PIL.Image.fromarray",)),
    "mode F image": (Image.new("F", (8, 8)), ("mode F", "no fixed scale", "img.convert('L')")),
    "0x0 image": (Image.new("RGB", (0, 0)), ("0x0 has no pixels",)),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_odd_images_are_refused_before_sending_with_the_fix(kit, name):
    image, words = REFUSED[name]
    before = kit.simulator.stats()["total"]
    with pytest.raises(InvalidRequest) as info:
        kit.edit(image, "a red door", quality="low")
    assert info.value.param.startswith("image") and all(w in str(info.value) for w in words), str(info.value)
    assert kit.simulator.stats()["total"] == before


def test_files_that_are_not_images(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    closed = io.BytesIO(good_png((8, 8)))
    closed.close()
    cases = {tmp_path / "notes.txt": "not an image", tmp_path: "is a folder", closed: "the file is closed",
             None: "is required", io.StringIO("abc"): "not an image"}
    for value, words in cases.items():
        with pytest.raises(InvalidRequest, match=words) as info:
            validate("edit", model=MODEL, prompt="x", image=value)
        assert info.value.param == "image"
    (tmp_path / "pic.png").write_bytes(good_png((8, 8)))
    with open(tmp_path / "pic.png", encoding="utf-8") as text_mode, pytest.raises(InvalidRequest, match="as text"):
        validate("edit", model=MODEL, prompt="x", image=text_mode)


def test_a_mask_or_markup_of_odd_modes(kit):
    image = good_png((16, 16))
    grey = Image.new("LA", (16, 16), (0, 255))
    grey.paste((0, 0), (0, 0, 8, 8))
    premultiplied = with_edit_area(noise("RGBa", (16, 16), 3))
    palette = Image.new("P", (16, 16), 1)
    palette.paste(0, (0, 0, 4, 4))
    palette.info["transparency"] = 0
    for mask in (grey, premultiplied, palette, Image.new("PA", (16, 16))):
        assert validate("edit", model=MODEL, prompt="x", image=image, mask=mask).mask.mimetype == "image/png"
        kit.edit(image, "a red door", mask=mask, quality="low")
    with pytest.raises(InvalidRequest, match="no alpha channel"):
        kit.edit(image, "a red door", mask=Image.new("CMYK", (16, 16)))
    with pytest.raises(InvalidRequest, match=r"animated PNG \(APNG\)"):
        kit.edit(good_png((32, 32)), "x", mask=encode(Image.new("RGBA", (32, 32)), "PNG", save_all=True,
                                                       append_images=[Image.new("RGBA", (32, 32), (1, 1, 1, 255))]))


def test_an_image_result_is_an_input_everywhere(kit):
    first = kit.edit(good_png((64, 64)), "a red door", quality="low")
    again = kit.edit(first, "a blue door", mask=masks.ellipse(first, (10, 10, 200, 300)), quality="low")
    assert again.pil.size == first.pil.size
    assert masks.changed_outside(first, again, masks.ellipse(first, (10, 10, 200, 300))) == 0
    assert size_of(first) == first.pil.size


def test_animations_are_a_rule_lenient_skips_and_a_pil_frame_is_a_still(kit):
    with pytest.warns(DalleKitWarning, match="image.still"):
        request = validate("edit", model=MODEL, prompt="x", image=animated("WEBP"), lenient=True)
    assert request.images[0].frames == 3
    opened = Image.open(io.BytesIO(animated("PNG")))
    opened.seek(1)  # a PIL image is the frame it is on
    sent = validate("edit", model=MODEL, prompt="x", image=opened).images[0]
    assert sent.frames == 1 and Image.open(io.BytesIO(sent.data)).getpixel((0, 0)) == (80, 0, 0)
    kit.edit(opened, "a red door", quality="low")
    stereo = encode(Image.new("RGB", (32, 32)), "MPO", save_all=True, append_images=[Image.new("RGB", (32, 32))])
    assert Image.open(io.BytesIO(stereo)).n_frames == 2  # a camera's MPO: a JPEG with a second picture
    assert validate("edit", model=MODEL, prompt="x", image=stereo).images[0].mimetype == "image/jpeg"
    kit.edit(stereo, "a red door", quality="low")


UNREADABLE_EXIF = good_png((16, 16))[:-12] + chunk(b"eXIf", b"Dxif\x00\x00MM\x00*") + chunk(b"IEND", b"")


def test_an_unreadable_exif_block_counts_as_no_rotation():
    with pytest.raises(SyntaxError):  # what Pillow's own exif_transpose does with it
        ImageOps.exif_transpose(Image.open(io.BytesIO(UNREADABLE_EXIF)))
    request = validate("edit", model=MODEL, prompt="x", image=UNREADABLE_EXIF)
    assert request.images[0].orientation == 1 and request.images[0].size == (16, 16)
    assert masks.blank(UNREADABLE_EXIF).size == (16, 16)


def test_the_simulator_accepts_an_unreadable_exif_block_too(kit):
    assert kit.edit(UNREADABLE_EXIF, "a red door", quality="low").pil.size == (1024, 1024)


def test_the_caps_match_input_images():
    assert size_of((MAX_SIDE, MAX_PIXELS // MAX_SIDE)) == (MAX_SIDE, MAX_PIXELS // MAX_SIDE)
    for too_big in [(MAX_SIDE + 1, 1), (MAX_SIDE, MAX_PIXELS // MAX_SIDE + 1), (100_000, 100_000)]:
        with pytest.raises(InvalidArgument, match="89,478,485 pixels"):
            masks.rectangle(too_big, (0, 0, 1, 1))
