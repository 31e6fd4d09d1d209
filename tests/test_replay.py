"""Replay packs: export / load round trip, every refusal on load, and the kit answering from a pack."""

from __future__ import annotations

import io
import json
import stat
import warnings
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dalle_kit import (
    DalleKitError,
    DalleKitWarning,
    InvalidArgument,
    Kit,
    PackError,
    ReplayMiss,
    Simulator,
    replay_checks,
)
from dalle_kit.replay import Pack, looks_secret

SMALL = {"size": "1024x1024", "quality": "low"}


def _record(home: Path, pack: Path) -> tuple[bytes, bytes]:
    """A generation and an edit of it, recorded on the simulator into ``pack``; their bytes."""
    with Kit(home=home, quiet=True) as kit:
        cat = kit.generate("a white cat", **SMALL)
        hat = kit.edit(cat.pil, "give the cat a red hat", quality="low")
        kit.export_pack(pack)
    return cat.bytes, hat.bytes


@pytest.fixture
def recorded(tmp_path):
    pack = tmp_path / "workshop.zip"
    cat, hat = _record(tmp_path / "rec", pack)
    return pack, cat, hat


def _members(pack: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(pack) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _write(path: Path, members: dict[str, bytes] | list[tuple[str, bytes]]) -> Path:
    items = members.items() if isinstance(members, dict) else members
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about a duplicate name: that is the point of some tests
        with zipfile.ZipFile(path, "w") as archive:
            for name, data in items:
                archive.writestr(name, data)
    return path


# -- export and load ---------------------------------------------------------------------------------------


def test_export_then_load_round_trip_zip_and_folder(recorded, tmp_path):
    pack, cat, hat = recorded
    loaded = Pack.load(pack)
    assert len(loaded) == 2 and len(loaded.entries) == 2
    manifest = loaded.manifest
    assert manifest["format"] == "dalle_kit.pack" and manifest["version"] == 1 and manifest["dalle_kit"]
    entry = manifest["entries"][0]
    assert set(entry) == {"key", "index", "file", "sha256", "size", "format", "pixels", "info"}
    assert entry["info"]["request_key"] == entry["key"] and entry["info"]["call_id"]
    assert {e.sha256 for e in loaded.entries} == {__import__("hashlib").sha256(b).hexdigest() for b in (cat, hat)}
    with Kit(home=tmp_path / "rec", quiet=True) as kit:
        folder = kit.export_pack(tmp_path / "folder")
    assert sorted(p.name for p in folder.iterdir()) == ["images", "manifest.json"]
    assert Pack.load(folder).keys == loaded.keys
    assert not list(tmp_path.glob(".workshop.zip.*"))  # the temp file was renamed


def test_export_selects_by_search_since_and_keys(tmp_path):
    with Kit(quiet=True) as kit:
        cat = kit.generate("a white cat", **SMALL)
        kit.generate("a red fox", **SMALL)
        assert len(Pack.load(kit.export_pack(tmp_path / "cats.zip", search="cat"))) == 1
        assert len(Pack.load(kit.export_pack(tmp_path / "all.zip", since="2000-01-01"))) == 2
        assert Pack.load(kit.export_pack(tmp_path / "k.zip", keys=[cat.request.key])).keys == (cat.request.key,)
        with pytest.raises(InvalidArgument, match="no answer to export"):
            kit.export_pack(tmp_path / "none.zip", search="unicorn")
        (tmp_path / "full").mkdir()
        (tmp_path / "full" / "x").write_text("x")
        with pytest.raises(InvalidArgument, match="not an empty folder"):
            kit.export_pack(tmp_path / "full")


def test_export_never_carries_key_like_text(tmp_path):
    with Kit(quiet=True) as kit:
        kit.generate("a sign that reads sk-proj-FAKE-FOR-TESTS-NOT-A-KEY-0000", **SMALL)
        with pytest.warns(DalleKitWarning, match="looked like an API key"):
            pack = kit.export_pack(tmp_path / "p.zip")
    text = _members(pack)["manifest.json"].decode()
    assert "sk-proj" not in text and "[redacted]" in text and not looks_secret(text)
    assert looks_secret("Authorization: Bearer abcdefgh12345") and not looks_secret("a sketch of a cat")


# -- refusals on load --------------------------------------------------------------------------------------


def _refused(path: Path, *words: str) -> PackError:
    with pytest.raises(PackError) as info:
        Pack.load(path)
    text = str(info.value)
    assert str(path) in text and isinstance(info.value, DalleKitError)
    for word in words:
        assert word in text, text
    return info.value


def test_a_tampered_image_byte_is_refused(recorded, tmp_path):
    pack, _, _ = recorded
    members = _members(pack)
    name = next(n for n in members if n.startswith("images/"))
    data = bytearray(members[name])
    data[len(data) // 2] ^= 0x01
    members[name] = bytes(data)
    error = _refused(_write(tmp_path / "t.zip", members), "SHA-256", name)
    assert error.entry == name and error.pack == str(tmp_path / "t.zip")


def test_a_truncated_pack_is_refused(recorded, tmp_path):
    pack, _, _ = recorded
    raw = pack.read_bytes()
    for cut in (len(raw) // 2, len(raw) - 10, 10):
        (tmp_path / "cut.zip").write_bytes(raw[:cut])
        _refused(tmp_path / "cut.zip")
    (tmp_path / "empty.zip").write_bytes(b"")
    _refused(tmp_path / "empty.zip")
    _refused(tmp_path / "nowhere.zip", "no such file")


def test_extra_and_missing_members_are_refused(recorded, tmp_path):
    members = _members(recorded[0])
    _refused(_write(tmp_path / "extra.zip", {**members, "images/run_me.py": b"print('hi')"}), "not in its manifest",
             "run_me.py")
    name = next(n for n in members if n.startswith("images/"))
    _refused(_write(tmp_path / "missing.zip", {k: v for k, v in members.items() if k != name}), "missing", name)
    _refused(_write(tmp_path / "nomanifest.zip", {k: v for k, v in members.items() if k != "manifest.json"}),
             "manifest.json")


@pytest.mark.parametrize("bad", ["../evil.png", "/etc/evil.png", "images/../../evil.png", "C:/evil.png",
                                 "images\\evil.png", "./manifest.json"])
def test_path_traversal_names_are_refused(recorded, tmp_path, bad):
    members = _members(recorded[0])
    _refused(_write(tmp_path / "trav.zip", {**members, bad: b"x"}), "refused")


def test_duplicate_names_and_symlinks_are_refused(recorded, tmp_path):
    members = _members(recorded[0])
    name = next(n for n in members if n.startswith("images/"))
    _refused(_write(tmp_path / "dup.zip", [*members.items(), (name, members[name])]), "twice")
    path = tmp_path / "link.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for member, data in members.items():
            if member == name:
                info = zipfile.ZipInfo(member)
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
                archive.writestr(info, "/etc/passwd")
            else:
                archive.writestr(member, data)
    _refused(path, "symbolic link")
    folder = tmp_path / "folder"
    with Kit(home=tmp_path / "rec", quiet=True) as kit:
        kit.export_pack(folder)
    (folder / "images" / "link.png").symlink_to("/etc/passwd")
    _refused(folder, "symbolic link")


def test_oversize_entries_and_zip_bombs_are_refused(recorded, tmp_path, monkeypatch):
    members = _members(recorded[0])
    manifest = json.loads(members["manifest.json"])
    name = manifest["entries"][0]["file"]
    bomb = tmp_path / "bomb.zip"  # the manifest says a few kB; the member inflates to 8 MB of zeros
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for member, data in members.items():
            archive.writestr(member, b"\0" * 8_000_000 if member == name else data)
    _refused(bomb, "declares 8,000,000 bytes", name)
    monkeypatch.setattr(replay_checks, "MAX_FILE", 1000)  # the cap itself: an entry larger is refused
    _refused(recorded[0], "size must be 1 to 1,000 bytes")
    monkeypatch.setattr(replay_checks, "MAX_FILE", 64 * 1024 * 1024)
    monkeypatch.setattr("dalle_kit.replay.MAX_TOTAL", 1000)
    _refused(recorded[0], "more than 1,000 bytes")


def test_a_lying_size_in_the_manifest_is_refused(recorded, tmp_path):
    members = _members(recorded[0])
    manifest = json.loads(members["manifest.json"])
    manifest["entries"][0]["size"] -= 1
    members["manifest.json"] = json.dumps(manifest).encode()
    _refused(_write(tmp_path / "lie.zip", members), "manifest says")


@pytest.mark.parametrize(("change", "words"), [
    (lambda m: m.update(version=2), ("version 2", "newer dalle_kit")),
    (lambda m: m.update(format="other"), ("format",)),
    (lambda m: m.update(extra=1), ("exactly the fields",)),
    (lambda m: m["entries"][0].update(key="not-a-key"), ("entry 0", "request key")),
    (lambda m: m["entries"][0].update(file="../x.png"), ("entry 0", "images/<sha256>")),
    (lambda m: m["entries"][0]["info"].update(note="sk-FAKE-FOR-TESTS-NOT-A-KEY"), ("looks like an API key",)),
    (lambda m: m["entries"][0]["info"].update(auth="Bearer abcdefgh12345678"), ("looks like an API key",)),
    (lambda m: m["entries"].append(dict(m["entries"][0])), ("second image",)),
])
def test_a_bad_manifest_is_refused(recorded, tmp_path, change, words):
    members = _members(recorded[0])
    manifest = json.loads(members["manifest.json"])
    change(manifest)
    members["manifest.json"] = json.dumps(manifest).encode()
    _refused(_write(tmp_path / "bad.zip", members), *words)


def test_a_manifest_that_is_not_json_is_refused(recorded, tmp_path):
    members = _members(recorded[0])
    for text in (b"\x80\x81", b"{not json", b'{"a": 1, "a": 2}', b"NaN", b"[]"):
        _refused(_write(tmp_path / "nj.zip", {**members, "manifest.json": text}), "manifest.json")


_BASE: dict[str, bytes] = {}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(where=st.floats(0, 1, exclude_max=True), flip=st.integers(1, 255))
def test_any_single_byte_change_is_refused_or_answers_the_original(tmp_path_factory, where, flip):
    if not _BASE:
        root = tmp_path_factory.mktemp("base")
        _record(root / "home", root / "p.zip")
        _BASE["pack"] = (root / "p.zip").read_bytes()
        original = Pack.load(root / "p.zip")
        _BASE.update({e.key: original.read(e) for e in original.entries})
    raw = bytearray(_BASE["pack"])
    raw[int(where * len(raw))] ^= flip
    path = tmp_path_factory.mktemp("mut") / "p.zip"
    path.write_bytes(bytes(raw))
    try:
        pack = Pack.load(path)
        answers = {e.key: pack.read(e) for e in pack.entries}
    except PackError:
        return
    assert answers == {k: v for k, v in _BASE.items() if k != "pack"}


# -- the kit answering from a pack -------------------------------------------------------------------------


def test_replay_answers_with_no_request_and_says_replayed(recorded, tmp_path):
    pack, cat, _ = recorded
    sim = Simulator()
    with Kit(home=tmp_path / "b", simulator=sim, replay=pack, quiet=True) as kit:
        again = kit.generate("a white cat", **SMALL)
        assert again.bytes == cat and again.source == "replay" and "replayed" in again.caption()
        assert again.stored_at is not None and again.stored_at.read_bytes() == cat  # in the local store
        assert kit.history(5)[0]["request_key"] == again.request.key  # so the gallery shows it
        rerun = kit.generate("a white cat", **SMALL)
        assert rerun.source == "store" and "from the store" in rerun.caption()
        many = kit.generate_many(["a white cat"], progress=False, **SMALL)
        assert many.images[0].bytes == cat
    assert sim.stats()["total"] == 0


def test_replay_streams_and_generate_many_from_the_pack(tmp_path):
    with Kit(home=tmp_path / "a", quiet=True) as kit:
        streamed = [r for r in kit.generate("a lighthouse", stream=True, partial_images=1, **SMALL) if r.partial is None]
        many = kit.generate_many(["a fox", "an owl"], progress=False, **SMALL)
        pack = kit.export_pack(tmp_path / "p.zip")
    sim = Simulator()
    with Kit(home=tmp_path / "b", simulator=sim, replay=pack, strict=True, quiet=True) as kit:
        final = list(kit.generate("a lighthouse", stream=True, partial_images=1, **SMALL))
        assert [r.bytes for r in final] == [r.bytes for r in streamed] and final[0].source == "replay"
        again = kit.generate_many(["a fox", "an owl"], progress=False, **SMALL)
        assert [r.bytes for r in again.images] == [r.bytes for r in many.images]
        assert {r.source for r in again.images} == {"replay"}
    assert sim.stats()["total"] == 0


def test_strict_miss_raises_replay_miss_naming_the_request(recorded, tmp_path):
    sim = Simulator()
    with Kit(home=tmp_path / "b", simulator=sim, replay=recorded[0], strict=True, quiet=True) as kit, \
            pytest.raises(ReplayMiss) as info:
        kit.generate("a purple elephant on roller skates", **SMALL)
    text = str(info.value)
    assert "gpt-image" in text and "generate" in text and "a purple elephant" in text
    assert info.value.key[:12] in text and "dalle-kit pack record" in text and "workshop.zip" in text
    assert isinstance(info.value, DalleKitError) and sim.stats()["total"] == 0


def test_a_miss_warns_once_and_the_simulator_answers(recorded, tmp_path):
    sim = Simulator()
    with Kit(home=tmp_path / "b", simulator=sim, replay=recorded[0], quiet=True) as kit:
        with pytest.warns(DalleKitWarning, match="not in the replay pack workshop.zip.*a purple elephant"):
            made = kit.generate("a purple elephant", **SMALL, fresh=True)
        assert made.source == "api" and "replayed" not in made.caption()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            kit.generate("a purple elephant", **SMALL, fresh=True)  # the same miss again: no second warning
    assert sim.stats()["total"] == 2


def test_generate_then_edit_replays_across_homes(tmp_path):
    pack = tmp_path / "p.zip"
    cat, hat = _record(tmp_path / "machine-1", pack)
    sim = Simulator()
    with Kit(home=tmp_path / "machine-2", simulator=sim, replay=Pack.load(pack), strict=True, quiet=True) as kit:
        first = kit.generate("a white cat", **SMALL)
        edited = kit.edit(first.pil, "give the cat a red hat", quality="low")  # its input is the replayed image
    assert (first.bytes, edited.bytes) == (cat, hat) and edited.source == "replay"
    assert sim.stats()["total"] == 0


def test_environment_variables_turn_replay_and_strict_on(recorded, monkeypatch, tmp_path):
    pack, cat, _ = recorded
    monkeypatch.setenv("DALLE_KIT_REPLAY", str(pack))
    monkeypatch.setenv("DALLE_KIT_REPLAY_STRICT", "1")
    with Kit(quiet=True) as kit:
        assert kit.replay is not None and kit.strict and kit.offline
        assert kit.generate("a white cat", **SMALL).bytes == cat
        with pytest.raises(ReplayMiss):
            kit.generate("a dog", **SMALL)
    with Kit(quiet=True, strict=False) as kit:  # the argument wins over the environment
        assert not kit.strict
    monkeypatch.setenv("DALLE_KIT_REPLAY", str(tmp_path / "nope.zip"))
    with pytest.raises(PackError, match="no such file"):
        Kit(quiet=True)


def test_a_pack_changed_after_loading_is_refused_when_read(recorded, tmp_path):
    folder = tmp_path / "folder"
    with Kit(home=tmp_path / "rec", quiet=True) as kit:
        kit.export_pack(folder)
    pack = Pack.load(folder)
    for image in (folder / "images").iterdir():  # every answer's file, the cat's among them
        data = bytearray(image.read_bytes())
        data[-1] ^= 0xFF
        image.write_bytes(bytes(data))
    with Kit(home=tmp_path / "b", replay=pack, quiet=True) as kit, pytest.raises(PackError, match="changed since"):
        kit.generate("a white cat", **SMALL)
    assert io.BytesIO(b"").read() == b""
