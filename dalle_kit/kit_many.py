"""``Kit``'s many-at-once, cost, Batch API, model-list and store methods (a mixin, to keep ``client.py`` about one
call at a time)."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from . import costs, registry
from .api_errors import annotate
from .kit_support import parse_date
from .many import Options, prepare, run_many, run_sync
from .many_result import ManyResult, Outcome
from .registry import Listing
from .request import Request

if TYPE_CHECKING:
    from .batch import BatchJob
    from .client import Kit
    from .compare_grid import CompareGrid
    from .store import Store

__all__ = ["ManyAtOnce"]


class ManyAtOnce:
    """``generate_many`` / ``edit_many`` and their async twins, ``estimate`` / ``estimate_many``, ``spend``,
    ``compare``, ``batch`` / ``batch_jobs`` / ``batch_job``, ``refresh_models``, ``history``, ``gallery``,
    ``export_pack`` and ``recall``."""

    store: Store
    backend: str
    budget: float | None
    session: str

    def _kit(self) -> Kit:
        return cast("Kit", self)

    # -- many at once -------------------------------------------------------------------------------------------

    def generate_many(self, requests: Iterable[Any], *, concurrency: int = 8, images_per_minute: float | None = None,
                      tokens_per_minute: float | None = None, retries: int = 10, deadline: float | None = 900.0,
                      progress: bool = True, fresh: bool = False,
                      on_outcome: Callable[[Outcome], None] | None = None, **common: Any) -> ManyResult:
        """Generate for many requests at once: prompt strings, dicts of ``generate`` arguments, or ``Request``s
        from ``kit.request``; ``common`` keyword arguments apply to all (a dict's own values win).

        Every request is validated first (invalid ones are reported, never sent); the store answers what it
        holds; the budget is checked for the rest; then they go out ``concurrency`` at a time, paced to the
        given or reported rate limits, retried on 429/5xx/dropped connections up to ``retries`` times within
        ``deadline`` seconds. Returns a ``ManyResult`` (outcomes in input order, ``.images``, ``.errors``,
        ``.retry_failed()``). ``on_outcome(outcome)`` is called as each sent request ends (from the batch's own
        thread: a view can fill in as results arrive). See :mod:`dalle_kit.many`.
        """
        options = Options(concurrency, images_per_minute, tokens_per_minute, retries, deadline, progress, fresh,
                          on_outcome)
        outcomes = prepare(self._kit(), "generate", requests, common)
        return run_sync(lambda: run_many(self._kit(), "generate", outcomes, options))

    def edit_many(self, requests: Iterable[Any], *, concurrency: int = 8, images_per_minute: float | None = None,
                  tokens_per_minute: float | None = None, retries: int = 10, deadline: float | None = 900.0,
                  progress: bool = True, fresh: bool = False,
                      on_outcome: Callable[[Outcome], None] | None = None, **common: Any) -> ManyResult:
        """Edit for many requests at once: dicts of ``edit`` arguments (``image``, ``prompt``, ``mask`` ...),
        ``Request``s, or prompts with ``image=...`` in ``common``. Otherwise as ``generate_many``."""
        options = Options(concurrency, images_per_minute, tokens_per_minute, retries, deadline, progress, fresh,
                          on_outcome)
        outcomes = prepare(self._kit(), "edit", requests, common)
        return run_sync(lambda: run_many(self._kit(), "edit", outcomes, options))

    async def agenerate_many(self, requests: Iterable[Any], *, concurrency: int = 8,
                             images_per_minute: float | None = None, tokens_per_minute: float | None = None,
                             retries: int = 10, deadline: float | None = 900.0, progress: bool = True,
                             fresh: bool = False, on_outcome: Callable[[Outcome], None] | None = None,
                             **common: Any) -> ManyResult:
        """Async twin of ``generate_many``."""
        options = Options(concurrency, images_per_minute, tokens_per_minute, retries, deadline, progress, fresh,
                          on_outcome)
        return await run_many(self._kit(), "generate", prepare(self._kit(), "generate", requests, common), options)

    async def aedit_many(self, requests: Iterable[Any], *, concurrency: int = 8,
                         images_per_minute: float | None = None, tokens_per_minute: float | None = None,
                         retries: int = 10, deadline: float | None = 900.0, progress: bool = True,
                         fresh: bool = False, on_outcome: Callable[[Outcome], None] | None = None,
                         **common: Any) -> ManyResult:
        """Async twin of ``edit_many``."""
        options = Options(concurrency, images_per_minute, tokens_per_minute, retries, deadline, progress, fresh,
                          on_outcome)
        return await run_many(self._kit(), "edit", prepare(self._kit(), "edit", requests, common), options)

    # -- cost ---------------------------------------------------------------------------------------------------

    def estimate(self, prompt_or_request: Any, **params: Any) -> costs.Estimate:
        """What a generation (a prompt and ``generate`` arguments) or a ``Request`` would cost; nothing is sent."""
        request = prompt_or_request if isinstance(prompt_or_request, Request) else \
            self._kit().request("generate", prompt=prompt_or_request, **params)
        return costs.estimate(request)

    def estimate_many(self, requests: Iterable[Any], *, endpoint: str = "generate", **common: Any) -> costs.Estimate:
        """What a batch would cost (requests as for ``generate_many``; invalid ones are left out)."""
        outcomes = prepare(self._kit(), endpoint, requests, common)
        return costs.estimate_many([o.request for o in outcomes if o.request is not None])

    def spend(self) -> dict[str, float | None]:
        """US dollars spent on this backend today and by this kit, and the budget and what is left of it."""
        today = self.store.spent(self.backend)
        left = None if self.budget is None else max(0.0, self.budget - today)
        return {"today": today, "session": self.store.spent(self.backend, session=self.session),
                "budget": self.budget, "left": left}

    # -- side by side -------------------------------------------------------------------------------------------

    def compare(self, prompt: Any, x: Any, y: Any = None, z: Any = None, **options: Any) -> CompareGrid:
        """An X/Y/Z grid: ``prompt`` generated across up to three axes (``x={"quality": ["low", "high"]}``,
        ``"model=gpt-image-2,gpt-image-2.5-flare"``, ``style=``/``preset=`` words, ``("prompt", ["cat", "fox"])``
        search-and-replace, or a list of prompt variants). Every cell is validated first (refused ones are left
        empty with the reason, never sent), the calls and estimated cost are shown, a grid above ``confirm_above``
        dollars asks first (``confirm=False`` does not), and the cells go out as one batch (a re-run costs
        nothing). See :mod:`dalle_kit.compare`."""
        from .compare import compare

        return compare(self._kit(), prompt, x, y, z, **options)

    # -- the Batch API ----------------------------------------------------------------------------------------

    def batch(self, requests: Iterable[Any], *, endpoint: str = "generate", fresh: bool = False,
              **common: Any) -> BatchJob:
        """Send ``requests`` (as for ``generate_many``; ``endpoint="edit"`` for edits, or a grid's cells) as one
        job on OpenAI's Batch API (up to 50,000 requests, a 24 h window, half the price). Invalid ones are
        reported and left out, what the store holds is not sent, the budget is checked at the Batch price.
        ``job.collect()`` waits and stores the images; the job is kept in the store (``kit.batch_jobs()``)."""
        from .batch import submit

        return submit(self._kit(), _cells(requests), endpoint=endpoint, fresh=fresh, **common)

    def batch_jobs(self) -> list[dict[str, Any]]:
        """The Batch jobs this store submitted on this backend, newest first (``kit.batch_job(id).collect()``)."""
        from .batch import jobs

        return jobs(self._kit())

    def batch_job(self, job_id: str) -> BatchJob:
        """A Batch job of this store by its id, as a restarted kernel finds it; ``.collect()`` it."""
        from .batch import open_job

        return open_job(self._kit(), job_id)

    # -- the store and the model list -----------------------------------------------------------------------

    def history(self, limit: int = 20) -> list[dict[str, Any]]:
        """The newest images in the store."""
        return self.store.history(limit)

    def refresh_models(self, today: dt.date | None = None) -> Listing:
        """Read ``/v1/models`` (its ``shutdown_date`` per model), keep it in the store, and make the registry
        prefer its dates. Models it does not list get a warning when used, never a refusal."""
        with annotate(self._kit()._client.api_key):
            page = self._kit()._client.models.list()
        shutdown: dict[str, dt.date | None] = {}
        for model in page:
            if registry.builtin(model.id) is None and "image" not in model.id and not model.id.startswith("dall-e"):
                continue  # chat, audio, embedding ... models: not ours to keep
            date = getattr(model, "shutdown_date", None)
            shutdown[model.id] = parse_date(date)
        listing = Listing(shutdown=shutdown, read_on=today or dt.date.today(), host=self.backend)
        self.store.save_listing(listing)
        registry.apply_listing(listing)
        return listing

    # -- the store ----------------------------------------------------------------------------------------------

    def gallery(self, **options: Any) -> Any:
        """The store's images in a notebook widget: search, details, recall, re-run, export (see
        ``dalle_kit.widgets.Gallery``; ``dalle_kit.gallery.search`` is its function)."""
        from .widgets.gallery import Gallery

        return Gallery(self._kit(), **options)

    def export_pack(self, path: str | os.PathLike[str], *, since: Any = None, search: str | None = None,
                    keys: Iterable[str] | None = None) -> Path:
        """Export the store's answers (all, or those from ``since`` whose prompt holds every word of ``search``,
        or the request ``keys``) as a replay pack: a zip when ``path`` ends in ``.zip``, else a folder.
        ``Kit(replay=path)`` (or ``DALLE_KIT_REPLAY=path``) answers them again with no key. See
        :mod:`dalle_kit.replay`."""
        from .replay import export_pack

        return export_pack(self.store, path, since=since, search=search, keys=keys)

    def recall(self, source: Any, **inputs: Any) -> Request:
        """The validated ``Request`` an image came from: a store record (or its id), an ``ImageResult``, or a
        saved file's path (its provenance). ``kit.run(request)`` re-runs it, from the store when it holds it; an
        edit whose input images are not in the store takes them as ``image=``, ``mask=``, ``markup=``."""
        from .recall import recall

        return recall(self._kit(), source, **inputs)


def _cells(requests: Any) -> Any:
    """A ``CompareGrid`` given to ``batch`` stands for its cells' requests (refused cells stay out)."""
    cells = getattr(requests, "cells", None)
    if isinstance(cells, dict):
        return [o.request for o in cells.values() if o.request is not None]
    return requests
