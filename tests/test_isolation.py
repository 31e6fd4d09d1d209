"""Tests and notebook kernels never see a real key or the user's real store."""

from __future__ import annotations

import os
import tempfile

from jupyter_client.manager import start_new_kernel


def test_notebook_kernels_get_a_temporary_store_and_no_key(monkeypatch):
    monkeypatch.undo()  # back to the session's environment, the one nbval's kernels inherit
    home = os.environ["DALLE_KIT_HOME"]
    assert os.path.commonpath([home, tempfile.gettempdir()]) == tempfile.gettempdir()
    assert "OPENAI_API_KEY" not in os.environ and "OPENAI_BASE_URL" not in os.environ
    outputs: list[str] = []
    manager, client = start_new_kernel(kernel_name="python3")
    try:
        reply = client.execute_interactive(
            "import os; from dalle_kit.store import default_home; "
            "print(default_home(), 'OPENAI_API_KEY' in os.environ)", timeout=60,
            output_hook=lambda msg: outputs.append(msg["content"].get("text", "")))
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    assert reply["content"]["status"] == "ok"
    assert "".join(outputs).split() == [home, "False"]
