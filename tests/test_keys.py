"""The key never appears in a repr, an exception, saved metadata, the store or the server's log."""

from __future__ import annotations

import os

import httpx2
import openai
import pytest
from simulator_fixtures import Served

from dalle_kit import Kit, read_metadata
from dalle_kit.api_errors import annotate

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
