"""An offline simulator of the OpenAI Images API: the default backend without a key, and the backend of every test.

It speaks the API closely enough that the official SDK, curl or another OpenAI client cannot tell the
difference, except that its pictures are drawn locally and say so (a red SIMULATED badge and a PNG comment).

Use it in-process (no port, no thread)::

    from dalle_kit.simulator import Simulator
    sim = Simulator(seed=1)
    client = openai.OpenAI(api_key="sk-offline", base_url="http://simulator.local/v1",
                           http_client=httpx2.Client(transport=sim.transport()))   # or AsyncOpenAI + async_transport()

or as a loopback server: ``python -m dalle_kit.simulator --port 8000`` (``dalle-kit serve``), see :mod:`.server`.

Options of :class:`Simulator` (all keyword-only):

- ``seed``: makes pictures, faults, latency draws and request ids reproducible.
- ``latency``: seconds before each image answer, fixed or a ``(low, high)`` uniform range.
- ``rate_limit``: images per minute (sliding 60 s window); beyond it, 429 ``rate_limit_exceeded`` with
  ``Retry-After`` (whole seconds) and ``retry-after-ms``.
- ``fail``: injected answers per image request, e.g. ``{429: 0.25, 500: 0.05, "drop": 0.1}`` (see
  :func:`parse_fail`); injected 429/5xx carry small seeded ``retry-after-ms`` (20-150 ms) and ``Retry-After: 1``.
- ``moderation_words``: ``{word: (stage, categories)}``; a prompt containing a word (case-insensitive) is
  answered with 400 ``moderation_blocked`` and ``moderation_details: {moderation_stage, categories}`` (legacy
  DALL·E models: ``content_policy_violation``). ``None`` means the defaults; ``{}`` turns moderation off.
  Defaults: ``"moderation-test"`` -> input stage, ``["violence"]``; ``"moderation-output-test"`` -> output stage,
  ``["sexual"]`` (when streaming, the output stage block arrives as an ``error`` event after the partials).
- ``legacy``: also serve the retired ``dall-e-2``/``dall-e-3`` with their old rules (URLs valid 60 minutes at
  ``/_simulator/files/...``, ``revised_prompt``, ``style``, ``standard``/``hd``, variations).
- ``partial_delay``: seconds before each streamed event.
- ``today``: the date that decides which models are retired (default: the real date).

Besides ``transport()`` / ``async_transport()``: ``stats()`` and ``reset_stats()`` (also ``GET /_simulator/stats`` and
``POST /_simulator/reset``), and ``validate(endpoint, json=... | data=..., files=...)``, which checks a request
with the same parser and rules but draws nothing (returns None or the :class:`ApiError` it would answer).

Choices where the real API's behaviour is unknown: ``size="auto"`` gives 1024x1536 for prompts with
portrait/vertical/tall/poster, 1536x1024 for landscape/panorama/wide/banner, else 1024x1024 (edits: the first
image's size when the model accepts it, else the standard size nearest its aspect); ``quality="auto"`` is
answered as ``medium``; ``background="auto"`` as ``opaque`` (edits of a transparent image: ``transparent``).
A missing key is 401 with the API's "You didn't provide an API key" body (``code: null``); any non-empty
``Bearer`` key is accepted and never echoed. Variations are refused like any model/endpoint mismatch: 400
``invalid_value`` on ``model`` for current models, 404 ``model_not_found`` for the retired ``dall-e-2`` (the
default there). Model-dependent refusals use ``unsupported_parameter``; error codes are listed in :mod:`.rules`.
"""

from __future__ import annotations

from .app import DEFAULT_MODERATION_WORDS
from .faults import parse_fail
from .forms import ApiError
from .transport import Simulator

__all__ = ["Simulator", "parse_fail", "ApiError", "DEFAULT_MODERATION_WORDS"]
