"""Pictures that teach: measured properties of what the simulator draws."""

from __future__ import annotations

import base64
import datetime as dt
import io
import time
import xml.etree.ElementTree as ET

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageStat
from simulator_fixtures import client, decode, noisy_png, png

from dalle_kit.simulator import Simulator, render


@pytest.fixture(scope="module")
def c():
    return client(Simulator(seed=11, today=dt.date(2026, 11, 23)), max_retries=0)  # gpt-image-1.5 shuts down Dec 1


def gen(c, **kw):
    kw.setdefault("model", "gpt-image-2")
    kw.setdefault("prompt", "a quiet harbour at dawn")
    kw.setdefault("quality", "low")
    kw.setdefault("size", "1024x1024")
    return c.images.generate(**kw)


def mean_rgb(img: Image.Image) -> tuple[float, ...]:
    return tuple(ImageStat.Stat(img.convert("RGB")).mean)


def distance(a, b) -> float:
    return sum((x - y) ** 2 for x, y in zip(a, b)) ** 0.5


def ellipse_mask(size=(1024, 1024), box=(300, 200, 800, 700)) -> bytes:
    img = Image.new("RGBA", size, (10, 20, 30, 255))
    ImageDraw.Draw(img).ellipse(box, fill=(0, 0, 0, 0))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


@pytest.mark.parametrize("model", ["gpt-image-2", "gpt-image-1.5"])
def test_masked_edit_changes_only_transparent_area(c, model):
    source, mask = noisy_png((1024, 1024)), ellipse_mask()
    resp = c.images.edit(model=model, prompt="a neon balloon", quality="high",
                         image=("photo.png", source, "image/png"), mask=("mask.png", mask, "image/png"))
    out = decode(resp.data[0].b64_json).convert("RGBA")
    src = Image.open(io.BytesIO(source)).convert("RGBA")
    keep = Image.open(io.BytesIO(mask)).getchannel("A").point(lambda a: 255 if a else 0)
    diff = ImageChops.difference(out, src).convert("L").point(lambda v: 255 if v else 0)
    changed_outside = ImageChops.multiply(diff, keep)
    assert changed_outside.getbbox() is None, "a pixel outside the mask's transparent area changed"
    hole = ImageChops.invert(keep)
    changed_inside = ImageStat.Stat(ImageChops.multiply(diff, hole)).sum[0] / 255
    assert changed_inside > 0.9 * ImageStat.Stat(hole).sum[0] / 255  # and almost all of the hole did change


def test_edit_uses_reference_images(c):
    def run(colour):
        return c.images.edit(model="gpt-image-2", prompt="put it in a basket", image=[
            ("a.png", noisy_png((1024, 1024)), "image/png"), ("b.png", png((64, 64), colour), "image/png")]).data[0]

    red, blue = decode(run((255, 0, 0, 255)).b64_json), decode(run((0, 0, 255, 255)).b64_json)
    diff = ImageChops.difference(red.convert("RGB"), blue.convert("RGB"))
    r, _g, b = ImageStat.Stat(diff).sum
    assert r > 0 and b > 0  # the thumbnail of the reference shows, in its own colour


def test_transparent_background_has_real_alpha(c):
    for fmt in ("png", "webp"):
        resp = gen(c, background="transparent", output_format=fmt, prompt="a sticker of a cat")
        img = decode(resp.data[0].b64_json)
        assert resp.background == "transparent" and img.mode == "RGBA", fmt
        lo, hi = img.getchannel("A").getextrema()
        assert (lo, hi) == (0, 255), fmt
        transparent = img.getchannel("A").point(lambda a: 255 if a == 0 else 0)
        assert ImageStat.Stat(transparent).mean[0] / 255 > 0.2  # a real share of the picture is see-through
    opaque = gen(c, background="opaque")
    assert opaque.background == "opaque" and decode(opaque.data[0].b64_json).mode == "RGB"
    assert gen(c).background == "opaque"  # auto is answered as opaque


@pytest.mark.parametrize("fmt, magic", [("jpeg", b"\xff\xd8\xff"), ("webp", b"RIFF")])
def test_output_compression_changes_bytes(c, fmt, magic):
    sizes = {}
    for level in (5, 50, 100):
        blob = base64.b64decode(gen(c, output_format=fmt, output_compression=level, quality="high").data[0].b64_json)
        assert blob.startswith(magic)
        assert Image.open(io.BytesIO(blob)).format == fmt.upper()
        sizes[level] = len(blob)
    assert sizes[5] < sizes[50] < sizes[100]


def test_n_distinct_images(c):
    resp = gen(c, n=4)
    imgs = [decode(d.b64_json) for d in resp.data]
    assert len({i.tobytes() for i in imgs}) == 4
    for a in imgs:
        for b in imgs:
            if a is not b:
                assert ImageStat.Stat(ImageChops.difference(a, b)).mean[0] > 5
    assert resp.usage.output_tokens == 4 * 272


def test_style_words_change_the_palette(c):
    means = {style: mean_rgb(decode(gen(c, prompt=f"a city street, {style}").data[0].b64_json))
             for style in ("watercolor", "neon", "noir", "sunset", "forest")}
    names = list(means)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert distance(means[a], means[b]) > 20, (a, b, means[a], means[b])
    r, g, b = means["forest"]
    assert g > r and g > b  # forest is green
    r, g, b = means["noir"]
    assert max(r, g, b) - min(r, g, b) < 10  # noir is grey


def test_quality_is_level_of_detail(c):
    def edges(quality):
        img = decode(gen(c, quality=quality, prompt="a quiet harbour").data[0].b64_json).convert("L")
        return ImageStat.Stat(img.filter(ImageFilter.FIND_EDGES)).mean[0]

    low, medium, high = edges("low"), edges("medium"), edges("high")
    assert low < medium < high


def test_exact_size_and_aspect(c):
    for size in ("1536x864", "1024x1536", "2048x768", "3840x2160"):
        resp = gen(c, size=size)
        assert decode(resp.data[0].b64_json).size == tuple(map(int, size.split("x"))) and resp.size == size


def test_auto_size_follows_prompt_words(c):
    assert gen(c, size="auto", prompt="a portrait of a violinist").size == "1024x1536"
    assert gen(c, size="auto", prompt="a wide landscape of dunes").size == "1536x1024"
    assert gen(c, size="auto", prompt="a teapot").size == "1024x1024"


def test_mark_and_metadata_say_simulated(c):
    blob = base64.b64decode(gen(c).data[0].b64_json)
    img = Image.open(io.BytesIO(blob))
    assert "SIMULATED" in img.text["Comment"]
    badge = img.convert("RGB").crop((0, 0, 200, 120))
    r, g, b = (band.point(lambda v, t=t: 255 if (v > 180 if t else v < 65) else 0) for band, t in
               zip(badge.split(), (True, False, False)))
    reds = ImageStat.Stat(ImageChops.multiply(ImageChops.multiply(r, g), b)).sum[0] / 255
    assert reds > 1000  # the red SIMULATED badge sits in the top-left corner


def test_deterministic_by_request_index_and_seed():
    def first(sim, **kw):
        return gen(client(sim), **kw).data[0].b64_json

    a, b = first(Simulator(seed=1)), first(Simulator(seed=1))
    assert a == b
    assert first(Simulator(seed=2)) != a
    assert first(Simulator(seed=1), prompt="something else") != a
    two = [d.b64_json for d in gen(client(Simulator(seed=1)), n=2).data]
    assert two[0] != two[1] and two == [d.b64_json for d in gen(client(Simulator(seed=1)), n=2).data]


def test_a_request_asked_again_gets_a_new_picture_and_a_new_simulator_repeats_the_sequence():
    def answers(sim):
        c = client(sim)
        return [gen(c, quality="low").data[0].b64_json for _ in range(3)]

    first = answers(Simulator(seed=3))
    assert len(set(first)) == 3  # the API draws anew each time it is asked
    assert answers(Simulator(seed=3)) == first  # still seeded


def test_stream_final_equals_plain_answer_and_partials_sharpen(c):
    plain = gen(c, quality="medium").data[0].b64_json
    other = client(Simulator(seed=11, today=dt.date(2026, 11, 23)), max_retries=0)  # a first ask there too
    events = list(gen(other, quality="medium", stream=True, partial_images=3))
    assert events[-1].b64_json == plain
    final = decode(plain).convert("RGB")
    errors = [ImageStat.Stat(ImageChops.difference(decode(e.b64_json).convert("RGB"), final)).mean[0]
              for e in events[:-1]]
    assert len(errors) == 3 and errors[0] > errors[2]  # each partial is closer to the final picture
    assert events[-1].usage.output_tokens == 1056 + 3 * 100


def test_usage_scales_with_size_and_quality(c):
    assert gen(c, quality="high").usage.output_tokens == 4160
    assert gen(c, quality="low", size="1024x1536").usage.output_tokens == 408
    big = gen(c, model="gpt-image-2.5-flare", quality="max", size="1024x1024").usage
    assert big.output_tokens > 4160 and big.total_tokens == big.input_tokens + big.output_tokens
    assert gen(c, prompt="x" * 400).usage.input_tokens_details.text_tokens == 100


def test_variations_resemble_their_source():
    sim = Simulator(seed=4, legacy=True)
    def picture(prompt: str) -> bytes:
        return render.encode(render.draw(render.Scene(prompt, 512, 512, "medium", seed=len(prompt))), "png")

    source, other = picture("a forest cabin"), picture("a neon city at night, cyberpunk")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        resp = client(sim).images.create_variation(model="dall-e-2", image=("s.png", source, "image/png"),
                                                   size="512x512", response_format="b64_json", n=2)
    src = Image.open(io.BytesIO(source)).convert("L").resize((64, 64))
    unrelated = Image.open(io.BytesIO(other)).convert("L").resize((64, 64))
    mirrored = src.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    for d in resp.data:
        var = decode(d.b64_json).convert("L").resize((64, 64))
        near = ImageStat.Stat(ImageChops.difference(var, src)).mean[0]
        far = ImageStat.Stat(ImageChops.difference(var, unrelated)).mean[0]
        assert near < far / 1.5, (near, far)
        # never mirrored: the same way round as the source, not its mirror image
        assert near < ImageStat.Stat(ImageChops.difference(var, mirrored)).mean[0] / 1.5


def test_gif_and_svg_outputs(c):
    resp = gen(c, model="gpt-image-2.6-sunburst", output_format="gif", frame_count=4, frame_duration_ms=120)
    gif = Image.open(io.BytesIO(base64.b64decode(resp.data[0].b64_json)))
    assert gif.format == "GIF" and gif.n_frames == 4 and gif.info["duration"] == 120 and gif.size == (1024, 1024)
    svg = gen(c, model="gpt-image-2.6-sunburst", output_format="svg", svg={"model": "author"})
    root = ET.fromstring(base64.b64decode(svg.data[0].b64_json))
    assert root.get("width") == "1024" and b"SIMULATED" in base64.b64decode(svg.data[0].b64_json)
    assert svg.svg_usage.model == "author"


def test_render_is_fast():
    scene = render.Scene("a watercolor fox in a misty forest", 1536, 1024, "low", seed=3)
    best = min(_timed(lambda: render.encode(render.draw(scene), "png")) for _ in range(3))
    assert best < 0.3, best


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


# -- edits that follow the prompt, variations that keep the picture ------------------------------------------


def sky_mask(size=(1024, 1024), box=(0, 0, 1024, 400), feather=0) -> Image.Image:
    img = Image.new("RGBA", size, (0, 0, 0, 255))
    ImageDraw.Draw(img).rectangle(box, fill=(0, 0, 0, 0))
    if feather:
        img.putalpha(img.getchannel("A").filter(ImageFilter.GaussianBlur(feather)))
    return img


def as_png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def harbour(size=(1024, 1024)) -> Image.Image:
    return render.draw(render.Scene("a quiet harbour at dawn, watercolor", *size, "medium", seed=7)).convert("RGB")


def reds(img: Image.Image) -> int:
    r, g, b = img.convert("RGB").split()
    hot = ImageChops.multiply(ImageChops.multiply(r.point(lambda v: 255 if v > 170 else 0),
                                                  g.point(lambda v: 255 if v < 90 else 0)),
                              b.point(lambda v: 255 if v < 90 else 0))
    return int(ImageStat.Stat(hot).sum[0] / 255)


def test_masked_edit_draws_what_the_prompt_asks_inside_and_keeps_the_rest(c):
    source, mask = harbour(), sky_mask()
    out = decode(c.images.edit(model="gpt-image-2", prompt="add a red balloon in the sky", quality="medium",
                               image=("harbour.png", as_png(source), "image/png"),
                               mask=("sky.png", as_png(mask), "image/png")).data[0].b64_json).convert("RGB")
    below, sky = (0, 401, 1024, 1024), (0, 0, 1024, 401)  # ImageDraw's rectangle includes row 400
    assert ImageChops.difference(out.crop(below), source.crop(below)).getbbox() is None  # pixel-identical
    changed = ImageChops.difference(out.crop(sky), source.crop(sky)).convert("L").point(lambda v: 255 if v else 0)
    assert ImageStat.Stat(changed).mean[0] / 255 > 0.9  # the sky was repainted
    repaint_only = render.draw_edit(render.Scene("remove the clouds", 1024, 1024), source.convert("RGBA"), [], mask)
    assert reds(out.crop(sky)) > reds(repaint_only.crop(sky)) + 5000  # and a red balloon is in it
    # the edit's prompt is a label inside the edited area, whole: a dark band with white lettering, not cut
    band = out.crop((0, 300, 1024, 400)).convert("L")
    assert ImageStat.Stat(band).extrema[0][0] < 60 and ImageStat.Stat(band).extrema[0][1] > 230


def test_other_prompts_draw_other_things():
    source, mask = harbour().convert("RGBA"), sky_mask()
    def edit(prompt):
        return render.draw_edit(render.Scene(prompt, 1024, 1024, seed=1), source, [], mask).convert("RGB")

    balloon, sun, removal = edit("a red balloon"), edit("a yellow sun"), edit("remove the clouds")
    assert ImageChops.difference(balloon, sun).getbbox() is not None
    assert reds(balloon) > reds(sun) + 5000  # (both have the small red SIMULATED mark in the edited area)
    assert reds(removal) < reds(sun) + 500  # removing draws nothing new: only the repaint
    assert edit("一只红色的气球").tobytes() == edit("一只红色的气球").tobytes()  # deterministic


def test_feathered_mask_blends_only_at_its_edge():
    source, mask = harbour().convert("RGBA"), sky_mask(feather=12)
    out = render.draw_edit(render.Scene("a blue kite", 1024, 1024, seed=2), source, [], mask)
    keep = mask.getchannel("A").point(lambda a: 255 if a == 255 else 0)
    diff = ImageChops.difference(out, source).convert("L").point(lambda v: 255 if v else 0)
    assert ImageChops.multiply(diff, keep).getbbox() is None  # opaque mask: untouched
    edge = mask.getchannel("A").point(lambda a: 255 if 0 < a < 255 else 0)
    assert ImageStat.Stat(ImageChops.multiply(diff, edge)).sum[0] > 0  # feathered edge: blended


def histogram(img: Image.Image) -> list[float]:
    small = img.convert("RGB").resize((128, 128)).point(lambda v: v // 64 * 64)  # 4 levels per channel
    counts = small.getcolors(64) or []
    total = sum(n for n, _c in counts)
    hist = {colour: n / total for n, colour in counts}
    return [hist.get((r, g, b), 0.0) for r in range(0, 256, 64) for g in range(0, 256, 64) for b in range(0, 256, 64)]


def hist_distance(a: Image.Image, b: Image.Image) -> float:
    return sum(abs(x - y) for x, y in zip(histogram(a), histogram(b)))


def test_variation_keeps_layout_and_palette_and_changes_details(c):
    from dalle_kit.client import VARIATION_PROMPT

    source = harbour()
    other = render.draw(render.Scene("a neon city at night, cyberpunk", 1024, 1024, "medium", seed=8))
    outs = [decode(d.b64_json).convert("RGB") for d in c.images.edit(
        model="gpt-image-2", prompt=VARIATION_PROMPT, image=("harbour.png", as_png(source), "image/png"),
        n=2).data]
    for out in outs:
        assert 0 < hist_distance(out, source) < 0.8 < 1.5 < hist_distance(out, other)  # same palette, not equal
        small = [img.convert("L").resize((64, 64)) for img in (out, source, other)]
        near = ImageStat.Stat(ImageChops.difference(small[0], small[1])).mean[0]
        assert near < ImageStat.Stat(ImageChops.difference(small[0], small[2])).mean[0] / 2  # same layout
        assert near < ImageStat.Stat(ImageChops.difference(small[0], small[1].transpose(
            Image.Transpose.FLIP_LEFT_RIGHT))).mean[0] / 1.5  # never mirrored
        assert ImageStat.Stat(ImageChops.difference(out, source)).mean[0] > 2  # details changed
    assert outs[0].tobytes() != outs[1].tobytes()


def test_variation_has_one_caption():
    source = harbour().convert("RGBA")
    out = render.draw_variation(render.Scene("variation", 1024, 1024, "standard", seed=3), source)
    plain = render.draw_variation(render.Scene("variation", 1024, 1024, "standard", seed=3),
                                  Image.new("RGBA", (1024, 1024), (200, 220, 240, 255)))
    # the source's caption is filtered out and the new one drawn where it was: the band's white lettering is
    # the same amount as on a source that had no caption at all (two captions over each other would be more)
    whites = [ImageStat.Stat(img.crop((0, 960, 1024, 1024)).convert("L").point(lambda v: 255 if v > 200 else 0))
              .sum[0] for img in (out, plain)]
    assert abs(whites[0] - whites[1]) < 0.25 * whites[1], whites


def test_edit_and_variation_are_fast():
    base = harbour().convert("RGBA")
    mask = sky_mask()
    edit = render.Scene("add a red balloon in the sky", 1024, 1024, "medium", seed=5)
    vary = render.Scene("variation", 1024, 1024, "standard", seed=5)
    assert min(_timed(lambda: render.draw_edit(edit, base, [], mask)) for _ in range(3)) < 0.3
    assert min(_timed(lambda: render.draw_variation(vary, base)) for _ in range(3)) < 0.4
