"""Fair turns for a room: who may send to the backend next.

Thirty participants share one account's rate limits. A participant whose notebook fires 40 requests at once must
not make the other 29 wait behind them, so the gate hands out the ``slots`` (requests in flight to the backend)
round-robin among the participants who are waiting, and lets no one hold more than ``per_person`` of them. The
account's images- and tokens-per-minute are paced after a turn is granted, by :class:`dalle_kit.pacing.Pacer`.
"""

from __future__ import annotations

import asyncio
from collections import Counter, OrderedDict, deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from ..errors import InvalidArgument

__all__ = ["FairGate", "QueueFull"]


class QueueFull(Exception):
    """This participant already has ``max_waiting`` requests waiting for a turn."""


class FairGate:
    """Round-robin turns among participants; one event loop (not thread-safe, and needs none)."""

    def __init__(self, slots: int = 8, per_person: int = 2, max_waiting: int = 64) -> None:
        if slots < 1 or per_person < 1 or max_waiting < 0:
            raise InvalidArgument("slots and per_person must be at least 1, max_waiting at least 0")
        self.slots = slots
        self.per_person = per_person
        self.max_waiting = max_waiting
        self._free = slots
        self._active: Counter[str] = Counter()
        self._waiting: OrderedDict[str, deque[asyncio.Future[None]]] = OrderedDict()  # rotation order

    @property
    def in_flight(self) -> int:
        return self.slots - self._free

    def waiting(self, who: str | None = None) -> int:
        if who is not None:
            return len(self._waiting.get(who, ()))
        return sum(len(q) for q in self._waiting.values())

    @asynccontextmanager
    async def turn(self, who: str) -> AsyncIterator[None]:
        """Hold one of the room's slots for the block; waits for this participant's fair turn."""
        await self._enter(who)
        try:
            yield
        finally:
            self._leave(who)

    async def _enter(self, who: str) -> None:
        queue = self._waiting.get(who)
        if queue is not None and len(queue) >= self.max_waiting:
            raise QueueFull(who)
        if queue is None and self._free > 0 and self._active[who] < self.per_person:
            self._take(who)  # nobody is waiting for this participant's turn and a slot is free: go now
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(who, deque()).append(future)
        self._dispatch()
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():  # granted, then cancelled before it ran: give it back
                self._leave(who)
            else:
                self._forget(who, future)
            raise

    def _take(self, who: str) -> None:
        self._free -= 1
        self._active[who] += 1

    def _leave(self, who: str) -> None:
        self._free += 1
        self._active[who] -= 1
        if self._active[who] <= 0:
            del self._active[who]
        self._dispatch()

    def _forget(self, who: str, future: asyncio.Future[None]) -> None:
        queue = self._waiting.get(who)
        if queue is not None and future in queue:
            queue.remove(future)
            if not queue:
                del self._waiting[who]

    def _dispatch(self) -> None:
        """Grant free slots to waiting participants in rotation, each at most ``per_person`` at a time."""
        while self._free > 0:
            chosen = next((w for w in self._waiting if self._active[w] < self.per_person), None)
            if chosen is None:
                return
            queue = self._waiting.pop(chosen)
            future = queue.popleft()
            if queue:
                self._waiting[chosen] = queue  # back of the rotation
            if future.done():  # its request was cancelled (the participant hung up) before its turn came
                continue
            self._take(chosen)
            future.set_result(None)
