"""The key never appears in a repr, an exception, saved metadata, the store or the server's log."""

from __future__ import annotations

import os
import traceback

import httpx2
import openai
import pytest
from hypothesis import given
from hypothesis import strategies as st
from simulator_fixtures import Served

from dalle_kit import InvalidArgument, Kit, Simulator, read_metadata
from dalle_kit.api_errors import annotate, scrub

FAKE_KEY = "sk-test-" + "Zq7" * 14  # shaped like a real key, obviously fake


@pytest.fixture
def served(tmp_path):
    """``dalle-kit serve`` on a free loopback port, stopped after the test."""
    server = Served(tmp_path)
    yield server
    server.stop()


def _files_text(root) -> str:
    chunks = []
    for dirpath, _, names in os.walk(root):
        for name in names:
            with open(os.path.join(dirpath, name), "rb") as handle:
                chunks.append(handle.read().decode("latin-1"))
    return "\n".join(chunks)


def test_key_stays_out_of_everything_on_a_live_style_host(served, tmp_path):
    with Kit(api_key=FAKE_KEY, base_url=served.url, home=tmp_path / "home") as kit:
        assert kit.backend == "127.0.0.1" and not kit.offline
        result = kit.generate("a white siamese cat", quality="low", size="1024x1024")
        saved = result.save(tmp_path / "cat.png")
        with pytest.raises(openai.BadRequestError) as info:
            kit.generate("a moderation-test poster", quality="low")
        texts = [repr(kit), str(kit.__dict__.keys()), repr(result), result._repr_html_(), str(result.info()),
                 str(read_metadata(saved)), str(info.value), repr(info.value), "\n".join(info.value.__notes__),
                 str(info.value.body), _files_text(tmp_path)]
    served.stop()
    log = served.log.read_text() + served.err.read_text()
    assert "POST /v1/images/generations" in log  # the log is real, and it is keyless
    for text in texts + [log]:
        assert FAKE_KEY not in text and FAKE_KEY[8:] not in text


def test_a_key_echoed_by_the_api_is_scrubbed():
    request = httpx2.Request("POST", "https://api.openai.com/v1/images/generations")
    body = {"message": f"Incorrect API key provided: {FAKE_KEY}.", "type": "invalid_request_error",
            "param": None, "code": "invalid_api_key"}
    response = httpx2.Response(401, request=request, json={"error": body})
    error = openai.AuthenticationError(f"Error code: 401 - {body['message']}", response=response, body=body)
    with pytest.raises(openai.AuthenticationError) as info, annotate(FAKE_KEY):
        raise error
    assert FAKE_KEY not in str(info.value) and FAKE_KEY not in str(info.value.body)
    assert "sk-…" in str(info.value)
    assert any("OPENAI_API_KEY" in note for note in info.value.__notes__)


def test_kit_without_key_cannot_go_online():
    with pytest.raises(ValueError, match="needs a key"):
        Kit(offline=False)


# -- keys as people paste them: stripped, refused when they cannot be keys, never shown ------------------------

CLOSED = "http://127.0.0.1:9/v1"  # the discard port: nothing listens, the connection is refused at once


def _everything_said(exc: BaseException) -> str:
    """The whole traceback as Python prints it: messages, chained causes and notes."""
    return "".join(traceback.format_exception(exc))


@pytest.mark.parametrize("pasted", [FAKE_KEY + "\n", " " + FAKE_KEY + "\r\n", "\t" + FAKE_KEY])
def test_a_key_with_surrounding_whitespace_works_and_never_shows(served, tmp_path, pasted):
    with Kit(api_key=pasted, base_url=served.url, home=tmp_path / "home", quiet=True, max_retries=0) as kit:
        image = kit.generate("a cat", quality="low")
        with pytest.raises(openai.BadRequestError) as info, pytest.warns(UserWarning, match="lenient"):
            kit.generate("a cat", quality="ultra", lenient=True)
    texts = [repr(kit), repr(image), image._repr_html_(), str(image.info()), _everything_said(info.value),
             _files_text(tmp_path)]
    served.stop()
    texts.append(served.log.read_text() + served.err.read_text())
    assert all(FAKE_KEY not in text and FAKE_KEY.strip()[8:] not in text for text in texts)


@given(st.one_of(st.text(min_size=0, max_size=60),
                 st.builds(lambda pad, body, tail: pad + "sk-" + body + tail, st.sampled_from(["", " ", "\t"]),
                           st.text(alphabet="abcXYZ0129_-", min_size=20, max_size=50),
                           st.sampled_from(["", "\n", "\r\n", " "]))))
def test_any_pasted_key_is_refused_clearly_or_used_and_never_shown(pasted):
    secret = pasted.strip()
    try:
        kit = Kit(api_key=pasted, base_url=CLOSED, home=os.environ["DALLE_KIT_HOME"], quiet=True, max_retries=0)
    except InvalidArgument as refusal:
        assert not secret or len(secret) < 3 or secret not in _everything_said(refusal)
        return
    if kit.offline:  # nothing left after stripping: no key, so the offline simulator
        assert not secret
        return
    with kit, pytest.raises(openai.APIConnectionError) as info:
        kit.generate("a cat", quality="low")
    if len(secret) >= 20:  # long enough to be a secret rather than a word the traceback's source lines may hold
        assert secret not in _everything_said(info.value) and secret not in repr(kit)


def test_a_key_quoted_deep_in_the_chain_is_scrubbed():
    """An HTTP library that quotes the header it could not send (the chained cause) is scrubbed too."""
    request = httpx2.Request("POST", "https://api.openai.com/v1/images/generations")
    cause = httpx2.LocalProtocolError(f"Illegal header value b'Bearer {FAKE_KEY}\\n'")
    error = openai.APIConnectionError(request=request)
    error.add_note(f"retried with {FAKE_KEY}")
    with pytest.raises(openai.APIConnectionError) as info, annotate(FAKE_KEY):
        try:
            raise cause
        except httpx2.LocalProtocolError as exc:
            raise error from exc
    said = _everything_said(info.value)
    assert FAKE_KEY not in said and "Illegal header value" in said and "sk-…" in said


def test_a_short_key_does_not_mangle_messages():
    message = "Your request was rejected by the safety system"
    assert scrub(message, "a") == message
    assert scrub(f"key {FAKE_KEY}", FAKE_KEY) == "key sk-…"


@pytest.mark.parametrize("pasted", ["a", "sk-123", "sk-proj-abc def", "sk-proj-é" + "x" * 30, "sk\x00" + "x" * 30])
def test_absurd_keys_are_refused_before_anything_is_sent(pasted):
    with pytest.raises(InvalidArgument) as info:
        Kit(api_key=pasted, home=os.environ["DALLE_KIT_HOME"], quiet=True)
    assert "api_key" in str(info.value) and (len(pasted) < 3 or pasted not in str(info.value))


def test_short_tokens_still_work_for_a_local_host(tmp_path):
    """A proxy or the served simulator may use short tokens: only api.openai.com needs a real-length key."""
    kit = Kit(api_key="any", base_url=CLOSED, home=tmp_path, quiet=True, max_retries=0)
    assert kit.backend == "127.0.0.1"
    assert Kit(api_key="a", simulator=Simulator(), home=tmp_path, quiet=True).offline


def test_no_kind_of_failure_shows_the_key(tmp_path):
    """429s, 500s, dropped connections and timeouts, each with a pasted key: nothing anywhere shows it."""
    server = Served(tmp_path, "--fail", "429:0.3,500:0.3,drop:0.2", "--latency", "0:0.3", "--seed", "3")
    said: list[str] = []
    kinds: set[str] = set()
    try:
        with Kit(api_key=FAKE_KEY + "\r\n", base_url=server.url, home=tmp_path / "home", quiet=True,
                 max_retries=0, timeout=0.2) as kit:
            for i in range(24):
                try:
                    result = kit.generate(f"a cat {i}", quality="low")
                    said += [repr(result), str(result.info())]
                    kinds.add("ok")
                except openai.APIError as exc:
                    said.append(_everything_said(exc))
                    kinds.add(type(exc).__name__)
            said.append(repr(kit))
    finally:
        server.stop()
    said += [server.log.read_text(), server.err.read_text(), _files_text(tmp_path)]
    assert kinds == {"ok", "RateLimitError", "InternalServerError", "APIConnectionError", "APITimeoutError"}
    assert sum(text.count(FAKE_KEY) + text.count(FAKE_KEY[8:]) for text in said) == 0
