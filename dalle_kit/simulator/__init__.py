"""An offline simulator of the OpenAI Images API: the default backend without a key, and the backend of every test.

It speaks the API closely enough that the official SDK, curl or another OpenAI client cannot tell the
difference, except that its pictures are drawn locally and say so (a red SIMULATED badge and a PNG comment).

Use it in-process (no port, no thread)::

    from dalle_kit.simulator import Simulator
    sim = Simulator(seed=1)
    client = openai.OpenAI(api_key="sk-offline", base_url="http://simulator.local/v1",
                           http_client=httpx2.Client(transport=sim.transport()))   # or AsyncOpenAI + async_transport()

or as a loopback server: ``python -m dalle_kit.simulator --port 8000`` (``dalle-kit serve``), see :mod:`.server`;
it survives bad clients (deadlines, size and connection limits, the API's error body for any malformed request; see
:mod:`.http_limits`).

Options of :class:`Simulator` (all keyword-only):

- ``seed``: makes pictures, faults, latency draws and request ids reproducible. A request asked again gets a new
  picture, as from the API (the same sequence of requests to a new simulator still gives the same pictures).
- ``latency``: the least time an image answer takes, drawing included, fixed or a ``(low, high)`` uniform range
  (``--latency``): the simulator waits what remains after parsing, checking and drawing, ``max(0, latency -
  elapsed)``, so a picture that takes longer to draw than the latency is not delayed further. Injected faults,
  drops, 429 and moderation refusals wait the same way; a stream waits before its first event.
- ``rate_limit``: images per minute (sliding 60 s window; ``--rate-limit``); beyond it, 429 ``rate_limit_exceeded``
  (``type: requests``) with ``Retry-After`` (whole seconds) and ``retry-after-ms``. A request larger than the limit
  itself gets the 429 "Request too large" without retry headers (no wait would help).
- ``tpm``: tokens per minute (same window; ``--tpm``); a request costs the ``usage.total_tokens`` it reports (all
  ``n`` images). Beyond it, 429 ``rate_limit_exceeded`` with ``type: tokens`` and the real message ("Rate limit
  reached for gpt-image-2 in organization org-simulated on tokens per min (TPM): Limit 100000, Used 99000,
  Requested 4200. Please try again in 1.2s. ...") and the retry headers. Images are checked before tokens.
- Every API answer (200, SSE stream, 4xx, 429, 5xx, ``/v1/models``; not ``/_simulator/*``) carries
  ``x-ratelimit-{limit,remaining,reset}-{requests,tokens}`` like the real API, plus ``...-images``:
  ``-requests`` and ``-images`` report the images-per-minute budget (gpt-image limits count images), ``-tokens``
  the tokens-per-minute one. Without a configured limit the reported limit is a Tier-5-like default (250 images,
  8,000,000 tokens), never enforced. ``remaining`` = limit minus the last 60 s (after this request, never below
  0); ``reset`` = time until the window is empty again, in OpenAI's format (``0s``, ``20ms``, ``1.2s``, ``6m0s``).
  One budget for all models. See :mod:`.ratelimit`.
- ``account``: ``None``/``"ok"``, ``"insufficient_quota"`` (429, type and code ``insufficient_quota``),
  ``"billing_hard_limit_reached"`` (400) or ``"unverified"`` (403 "Your organization must be verified to use the
  model ..." for GPT image models); ``--account``; settable later (``sim.account = ...``). Image requests only,
  checked after the key and the body's syntax but before the parameter rules; counted in ``stats()["faults"]``
  under the mode's name. No ``x-should-retry`` header, as the real API: the SDK retries the 429. See :mod:`.account`.
- ``shutdown_dates``: ``{model id: "YYYY-MM-DD" | datetime.date | None}`` overrides the ``shutdown_date`` that
  ``/v1/models`` and ``/v1/models/{id}`` report (None: "not announced"); ``--shutdown-date MODEL=DATE``. Reported
  only: what is served still follows the registry and ``today``. Change it between requests with
  ``sim.set_shutdown_date(id, date)`` or ``sim.shutdown_dates[id] = ...`` (``del`` to go back).
- ``unlisted``: model ids left out of ``/v1/models`` (and 404 on ``/v1/models/{id}``) but still served for images;
  ``--unlisted MODEL``; a set, ``sim.unlisted``, changeable later. Unknown ids in either option raise ValueError.
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
- ``batch_seconds_per_line``: how long each step of a batch takes (validating, each line, finalizing; default 0.01
  s; ``--batch-seconds-per-line``), in a background thread that runs only while a batch is active. ``None``: no
  thread and no clock; ``sim.run_batches(steps=None)`` advances the batches in the caller's thread (tests).
  ``sim.wait_batches(timeout)`` waits until the background worker has nothing left.
- ``batch_fail_lines``: batch lines that fail with a 500 ``server_error`` in the error file, by ``custom_id``
  (str) or 1-based line number (int) (``--batch-fail-line``, repeatable); ``batch_fail_rate``: a seeded share of
  lines that fail the same way (``--batch-fail-rate``).
- ``file_max_bytes``: the largest upload to ``/v1/files`` (default 200 MB, the API's batch input limit;
  ``--file-max-bytes``); larger is 413 ``file_too_large``. ``files_max_bytes`` / ``files_max_count`` bound the
  in-memory file store (default 512 MB, 1,000 files): beyond, the oldest files are evicted.

Files and batches (:mod:`.batches`; all in memory, nothing on disk): ``POST /v1/files`` (multipart ``file`` +
``purpose`` ``batch`` (a ``.jsonl``), ``vision`` or ``user_data``), ``GET /v1/files`` (``purpose``, ``order``,
``limit``, ``after``), ``GET /v1/files/{id}``, ``GET /v1/files/{id}/content``, ``DELETE /v1/files/{id}``;
``POST /v1/batches`` (``endpoint`` ``/v1/images/generations`` or ``/v1/images/edits`` only; ``completion_window``
``24h``; ``metadata`` at most 16 pairs), ``GET /v1/batches`` (newest first, ``limit``/``after``),
``GET /v1/batches/{id}``, ``POST /v1/batches/{id}/cancel``. A batch goes validating -> in_progress -> finalizing
-> completed (``request_counts`` as lines are done), failed (a malformed input file: ``errors.data`` with line
numbers) or cancelling -> cancelled (keeping what was done). Each line is answered like a live JSON request
(same rules, moderation, account state and pictures; no latency, faults or per-minute limits); edits name images
as ``images: [{"file_id": ...}]`` or data URLs (live JSON edits may use ``file_id`` too). Successes go to the
output file, 4xx and injected 500s to the error file (``response.status_code`` != 200, the API's error body);
both are ``batch_output`` files. ``stats()["batches"]`` holds batches per status and lines completed/failed,
``stats()["files"]`` the store's count, bytes, files per purpose and evictions.
- ``today``: the date that decides which models are retired (default: the real date).

The transports honour the client's read timeout (``openai.OpenAI(timeout=...)``, ``Kit(timeout=...)``): a latency or
stream-event wait longer than it ends, after that long, in ``httpx2.ReadTimeout`` (the SDK's ``APITimeoutError``).

Besides ``transport()`` / ``async_transport()``: ``stats()`` and ``reset_stats()`` (also ``GET /_simulator/stats``, open
to all, and ``POST /_simulator/reset``, which needs a Bearer key like the API routes (any key; else 401) and also
empties the rate-limit windows; ``faults`` counts ``rate_limited``,
``rate_limited_tokens``, ``injected_<status>``, ``dropped`` and the account refusals; ``rate_limit`` holds the limits
and what the window holds), and ``validate(endpoint, json=... |
data=..., files=...)``, which checks a request with the same parser and rules but draws nothing (returns None or
the :class:`ApiError` it would answer; account, faults, limits and moderation aside).

Order of the checks on an image request: key (401), body syntax (400: a ``Content-Type`` other than JSON or
multipart is ``unsupported_content_type``, none is read as JSON; JSON with NaN/Infinity, more than 64 levels or more
than 10,000 arrays and objects gets the API's "We could not parse the JSON body" message), account, parameter rules
(400/404), injected fault, images then tokens per minute (429), moderation (400), drawing.

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

from .account import ACCOUNTS
from .app import DEFAULT_MODERATION_WORDS
from .faults import parse_fail
from .forms import ApiError
from .transport import Simulator

__all__ = ["ACCOUNTS", "DEFAULT_MODERATION_WORDS", "ApiError", "Simulator", "parse_fail"]
