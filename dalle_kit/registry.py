"""Model capabilities as data: one frozen ``ModelSpec`` per model id the ``openai`` SDK names.

Every fact carries its source in ``ModelSpec.sources`` (keyed by field name). Source keys:

- ``SDK``: openai-python 3.54 ``types/image_*.py`` docstrings (the freshest description).
- ``DEPRECATIONS``: developers.openai.com/api/docs/deprecations (shutdown dates, replacements).
- ``MODEL-PAGE``: the model's page on developers.openai.com.
- ``COOKBOOK``: openai-cookbook ``image-gen-models-prompting-guide.ipynb`` (pixel and edge limits).
- ``OLD-SDK``: openai-python before the DALL·E retirement (commit 04448952), for DALL·E rules.
- ``3P``: third-party pages relaying the API; used only where OpenAI's own text is silent.

Where sources disagree or are silent, ``ModelSpec.choices`` says what dalle_kit chose and why. The rule of
thumb: when OpenAI is silent, allow the value and let the API decide (a wrong refusal blocks a user; a
wrong pass costs one free 400); refuse only what a source states, and say which.

The parameter vocabulary (names, types, values, ranges, which ``ModelSpec`` field gates each) lives beside
this in ``dalle_kit.vocabulary`` and is re-exported here as ``ParamSpec`` / ``PARAMS``.

Shutdown dates: the built-in dates are a fallback. ``dalle_kit.models(refresh=True)`` reads ``/v1/models``
(its ``shutdown_date``), caches the listing in the store, and :func:`apply_listing` makes ``get`` prefer it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from types import MappingProxyType

from .specs import Listing, ModelSpec, SizeRule, parse_size
from .specs import derive as _spec
from .vocabulary import PARAMS, ParamSpec

__all__ = ["DEFAULT_MODEL", "FIXED_GPT_SIZES", "FREE_SIZE", "PARAMS", "Listing", "ModelSpec", "ParamSpec", "SizeRule",
           "all_specs", "apply_listing", "builtin", "builtin_specs", "clear_listing", "get", "listing", "model_ids",
           "parse_size"]

#: The model used when a call names none: fully described by the SDK, and OpenAI's own demo app's default.
DEFAULT_MODEL = "gpt-image-2.5-flare"

MB = 1024 * 1024


FIXED_GPT_SIZES = ("1024x1024", "1536x1024", "1024x1536")
FREE_SIZE = SizeRule(fixed=FIXED_GPT_SIZES, free_form=True)
FIXED_GPT = SizeRule(fixed=FIXED_GPT_SIZES)


_GPT_SOURCES = {
    "endpoints": "SDK image_generate_params/image_edit_params `model`; variations: SDK create_variation 'retired'",
    "qualities": "SDK `quality`: low, medium, high (GPT image models), auto default",
    "n_max": "SDK `n`: 'Must be between 1 and 10'",
    "prompt_max": "SDK `prompt`: 'The maximum length is 32000 characters'",
    "output_formats": "SDK `output_format`: png, webp, jpeg; gif/svg need a supporting model and access",
    "compression": "SDK `output_compression`: 0-100 for webp/jpeg on GPT image models",
    "backgrounds": "SDK `background`: transparent, opaque, auto; transparent needs png or webp",
    "moderation": "SDK `moderation` (generate only): low, auto",
    "streaming": "SDK `stream`, `partial_images` 0-3",
    "mask": "SDK `mask`: PNG under 4MB, same size as the image, alpha 0 marks the edit",
    "max_input_images": "SDK edit `image`: png/webp/jpg under 50MB each, up to 16 images",
    "returns_url": "SDK types/image.py: url 'Unsupported for GPT image models'",
    "revised_prompt": "SDK types/image.py: 'Not returned by GPT image models'",
    "usage": "SDK types/images_response.py `usage`",
}

_GPT = _spec(
    id="gpt-image-2",
    family="gpt-image-2",
    snapshot_of=None,
    released="2026-04-21",
    deprecated_on=None,
    shutdown_on=None,
    replacement=(),
    endpoints=frozenset({"generate", "edit"}),
    sizes=FREE_SIZE,
    qualities=("low", "medium", "high", "auto"),
    n_max=10,
    prompt_max=32_000,
    output_formats=("png", "webp", "jpeg", "gif", "svg"),
    compression=True,
    backgrounds=("transparent", "opaque", "auto"),
    moderation=("low", "auto"),
    streaming=True,
    partial_images_max=3,
    input_fidelity=(),
    markup=False,
    mask=True,
    max_input_images=16,
    max_input_bytes=50 * MB,
    input_mimetypes=("image/png", "image/webp", "image/jpeg"),
    mask_max_bytes=4 * MB,
    complexity=True,
    styles=(),
    response_formats=(),
    returns_url=False,
    revised_prompt=False,
    usage=True,
    sources={
        **_GPT_SOURCES,
        "sizes": "SDK `size`: arbitrary WIDTHxHEIGHT, multiples of 16, aspect 1:3-3:1, max 3840x2160; "
        "COOKBOOK: total pixels 655,360 to 8,294,400",
        "input_fidelity": "SDK `input_fidelity`: 'For gpt-image-2, omit this parameter'",
        "backgrounds_preview": "SDK `background`: transparent 'in preview' for gpt-image-2",
        "released": "MODEL-PAGE gpt-image-2 (default snapshot gpt-image-2-2026-04-21)",
    },
    choices={
        "sizes": "COOKBOOK says edges must be < 3840 while the SDK allows 3840x2160; we follow the SDK.",
        "backgrounds": "transparent is 'in preview' on gpt-image-2 (SDK 3.54); allowed, the API may refuse it.",
        "output_formats": "gif and svg: the SDK says they need 'access to the GIF preview for the selected model' "
        "and 'a supported image model and project access' without naming models; the 2.6 page documents them. "
        "Allowed on every GPT image model; the API refuses them without access.",
        "complexity": "The SDK names no model ('Uses the image model's configured default'); the 2.6 page "
        "documents it and 3P says 2.5 plans at a fixed depth. Allowed on every GPT image model.",
        "input_fidelity": "Refused: the SDK says 'For gpt-image-2, omit this parameter', and a real 400 "
        "(invalid_input_fidelity_model) was observed for gpt-image-2.",
        "qualities": "xhigh and max refused: the SDK says 'high, medium and low are supported for the GPT image "
        "models' and names only 2.5 for xhigh/max; 3P says gpt-image-2 stops at high.",
        "markup": "Refused: the SDK says markup 'Supports GPT Image 2.5' and the 2.6 page advertises it; no source "
        "names gpt-image-2.",
    },
)

_GPT25 = _spec(
    _GPT,
    id="gpt-image-2.5-flare",
    family="gpt-image-2.5",
    released="2026-09-08",
    qualities=("low", "medium", "high", "xhigh", "max", "auto"),
    markup=True,
    input_fidelity=("high", "low"),
    sources={
        "qualities": "SDK `quality`: 2.5-sunburst and 2.5-flare 'also support xhigh and max'",
        "markup": "SDK `markup`: 'Supports GPT Image 2.5. Cannot be combined with mask.'",
        "backgrounds": "SDK `background`: 2.5 models 'support opaque and transparent backgrounds'",
        "released": "3P apiyi/apidog release notes, 2026-09-08 snapshots in the SDK enum",
    },
    choices={
        "input_fidelity": "SDK silent for 2.5 (it says to omit it for gpt-image-2 only). Allowed: the API may "
        "refuse it with invalid_input_fidelity_model.",
        "qualities": "",
        "markup": "",
        "backgrounds": "",
    },
)

_GPT26 = _spec(
    _GPT25,
    id="gpt-image-2.6-sunburst",
    family="gpt-image-2.6",
    released="2026-11-04",
    sources={
        "output_formats": "MODEL-PAGE gpt-image-2.6-sunburst: 'SVG or animated-GIF output' (needs access)",
        "complexity": "MODEL-PAGE gpt-image-2.6-sunburst: 'the complexity setting'",
        "markup": "MODEL-PAGE gpt-image-2.6-sunburst: 'markup-guided editing'",
        "released": "3P apiyi, muapi: released 2026-11-04",
    },
    choices={
        "sizes": "SDK lists free-form sizes for 2 and 2.5 only; 3P (wavespeed, comfy, deapi) say 2.6 has the "
        "same rules as 2.5. We allow free-form sizes.",
        "qualities": "SDK names xhigh/max for 2.5 only; 3P (apidog, wavespeed) say 2.6 has them. Allowed.",
        "backgrounds": "SDK silent for 2.6; 'available for supported GPT Image models'. Allowed.",
        "output_formats": "gif and svg documented (2.6 model page); the API refuses them without preview access.",
        "input_fidelity": "SDK silent for 2.6; allowed as for 2.5 (the API may refuse it).",
        "complexity": "",
    },
)

_GPT1 = _spec(
    _GPT,
    id="gpt-image-1.5",
    family="gpt-image-1",
    released="2025-12-16",
    deprecated_on=dt.date(2026, 6, 2),
    shutdown_on=dt.date(2026, 12, 1),
    replacement=("gpt-image-2.6-sunburst", "gpt-image-2.6-flare"),
    sizes=FIXED_GPT,
    input_fidelity=("high", "low"),
    sources={
        "shutdown_on": "DEPRECATIONS: shutdown 2026-12-01, notice 2026-06-02; SDK 3.54 still lists it",
        "replacement": "DEPRECATIONS: gpt-image-2.6-sunburst or gpt-image-2.6-flare",
        "sizes": "COOKBOOK model table: 1024x1024, 1024x1536, 1536x1024, auto",
        "input_fidelity": "SDK `input_fidelity`: high and low on gpt-image-1.5",
    },
    choices={
        "replacement": "An earlier copy of DEPRECATIONS named 2.5-sunburst/flare; we follow the newer 2.6 text.",
        "backgrounds": "",
        "sizes": "",
        "input_fidelity": "",
    },
)

_SPECS: tuple[ModelSpec, ...] = (
    _GPT26,
    _spec(_GPT26, id="gpt-image-2.6-flare", choices={"id": "No official 2.6-flare page; 3P says same as sunburst."}),
    _spec(_GPT25, id="gpt-image-2.5-sunburst"),
    _spec(_GPT25, id="gpt-image-2.5-sunburst-2026-09-08", snapshot_of="gpt-image-2.5-sunburst"),
    _GPT25,
    _spec(_GPT25, id="gpt-image-2.5-flare-2026-09-08", snapshot_of="gpt-image-2.5-flare"),
    _GPT,
    _spec(_GPT, id="gpt-image-2-2026-04-21", snapshot_of="gpt-image-2"),
    _GPT1,
    _spec(_GPT1, id="gpt-image-1.5-2025-12-16", snapshot_of="gpt-image-1.5",
          sources={"id": "DEPRECATIONS lists the snapshot; the SDK enum does not"}),
    _spec(_GPT1, id="gpt-image-1-mini", released="2025-10-06", input_fidelity=("low",),
          sources={"input_fidelity": "SDK: 'gpt-image-1-mini supports only low'"},
          choices={"input_fidelity": "COOKBOOK lists low and high; the SDK and a real 400 say low only."}),
    _spec(_GPT1, id="chatgpt-image-latest", released=None, input_fidelity=(),
          sources={"max_input_images": "SDK: 'follows the same input constraints as GPT image models'"},
          choices={"sizes": "Not stated anywhere; we assume the three standard sizes and auto.",
                   "input_fidelity": "Not stated; refused (omit it)."}),
    _spec(_GPT1, id="gpt-image-1", released="2025-04-23", deprecated_on=None, shutdown_on=dt.date(2026, 10, 23),
          replacement=("gpt-image-2.5-sunburst", "gpt-image-2.5-flare"), input_fidelity=("high", "low"),
          sources={"shutdown_on": "SDK image_model.py: 'shut down on October 23, 2026'",
                   "replacement": "SDK: 'Use gpt-image-2.5-sunburst or gpt-image-2.5-flare instead'"}),
    _spec(
        _GPT,
        fresh_sources=True,
        choices={"replacement": "Retired DALL·E models are served only by the simulator's legacy mode and by "
                 "providers that still host them; dalle_kit warns there instead of refusing."},
        id="dall-e-3",
        family="dall-e",
        released="2023-11-06",
        shutdown_on=dt.date(2026, 5, 12),
        replacement=("gpt-image-2.5-flare", "gpt-image-2.5-sunburst"),
        endpoints=frozenset({"generate"}),
        sizes=SizeRule(fixed=("1024x1024", "1792x1024", "1024x1792"), auto=False),
        qualities=("standard", "hd"),
        n_max=1,
        prompt_max=4_000,
        output_formats=(),
        compression=False,
        complexity=False,
        backgrounds=(),
        moderation=(),
        streaming=False,
        partial_images_max=0,
        markup=False,
        mask=False,
        max_input_images=0,
        styles=("vivid", "natural"),
        response_formats=("url", "b64_json"),
        returns_url=True,
        revised_prompt=True,
        usage=False,
        sources={"shutdown_on": "SDK image_model.py: 'retired on May 12, 2026'",
                 "replacement": "MODEL-PAGE dall-e-3: 'We recommend GPT-Image-2.5 Sunburst'; SDK: 'a GPT image model'",
                 "sizes": "OLD-SDK size docstring", "qualities": "OLD-SDK: hd and standard for dall-e-3",
                 "n_max": "OLD-SDK: 'For dall-e-3, only n=1 is supported'",
                 "prompt_max": "OLD-SDK: 4000 characters for dall-e-3",
                 "returns_url": "SDK: URLs 'only valid for 60 minutes'"},
    ),
)
_SPECS = _SPECS + (
    _spec(
        _SPECS[-1],
        id="dall-e-2",
        released="2022-11-03",
        replacement=("gpt-image-2.5-flare", "gpt-image-2.5-sunburst"),
        endpoints=frozenset({"generate", "edit", "variation"}),
        sizes=SizeRule(fixed=("256x256", "512x512", "1024x1024"), auto=False, square_only=True),
        qualities=("standard",),
        n_max=10,
        prompt_max=1_000,
        styles=(),
        revised_prompt=False,
        mask=True,
        max_input_images=1,
        max_input_bytes=4 * MB,
        input_mimetypes=("image/png",),
        alpha_without_mask=True,
        sources={"alpha_without_mask": "OLD-SDK edit `image`: 'If mask is not provided, image must have transparency'",
                 "sizes": "OLD-SDK: 256x256, 512x512, 1024x1024", "n_max": "OLD-SDK `n`: 1 to 10",
                 "qualities": "OLD-SDK: 'standard is the only option'",
                 "prompt_max": "OLD-SDK: 1000 characters for dall-e-2",
                 "max_input_images": "OLD-SDK edit: one square PNG under 4MB",
                 "replacement": "MODEL-PAGE dall-e-2: 'deprecated and removed'; SDK: 'a GPT image model'"},
    ),
)

_BY_ID: Mapping[str, ModelSpec] = MappingProxyType({s.id: s for s in _SPECS})


_listing: Listing | None = None
_effective: dict[str, ModelSpec] = {}


def apply_listing(new: Listing | None) -> None:
    """Prefer ``new``'s shutdown dates over the built-in ones (None: back to the built-in dates)."""
    global _listing
    _listing = new
    _effective.clear()
    if new is None:
        return
    for spec in _SPECS:
        if spec.id in new.shutdown and new.shutdown[spec.id] != spec.shutdown_on:
            date = new.shutdown[spec.id]
            source = f"API /v1/models on {new.host}, read {new.read_on.isoformat()}: shutdown_date {date or 'null'}"
            _effective[spec.id] = _spec(spec, shutdown_on=date, sources={"shutdown_on": source})


def clear_listing() -> None:
    """Forget any listing read from the API (tests, or a change of host)."""
    apply_listing(None)


def listing() -> Listing | None:
    """The listing ``get`` prefers, if one was read (see ``dalle_kit.models(refresh=True)``)."""
    return _listing


def all_specs() -> tuple[ModelSpec, ...]:
    """Every known model, newest family first, retired ones last (shutdown dates from the API when read)."""
    return tuple(_effective.get(s.id, s) for s in _SPECS)


def builtin_specs() -> tuple[ModelSpec, ...]:
    """The specs as shipped, ignoring any listing read from the API (what the simulator serves)."""
    return _SPECS


def model_ids() -> tuple[str, ...]:
    return tuple(_BY_ID)


def get(model: str) -> ModelSpec | None:
    """The spec for ``model`` (exact id), or None when dalle_kit does not know it (or it is not a string)."""
    if not isinstance(model, str):
        return None
    return _effective.get(model) or _BY_ID.get(model)


def builtin(model: str) -> ModelSpec | None:
    """The shipped spec for ``model``, ignoring any listing read from the API."""
    return _BY_ID.get(model) if isinstance(model, str) else None
