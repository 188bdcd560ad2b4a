"""A lane: one channel's senders, a bounded pool of threads, and what each one has in hand.

Each channel (e-mail, Apprise) has its own lane, so a hanging chat service never holds up mail
and a slow relay never holds up chat. A lane counts the messages in hand per owner: the
deliverer claims no more of one owner's messages than ``per_owner`` at a time, so an owner whose
channels hang holds at most that many of the lane's threads, and the others keep sending for
everyone else. A lane claims a few messages ahead of its threads (one round trip for several),
but only when a thread is about to be free, and never more than ``AHEAD`` per thread (or two
hand-offs, when a thread takes ``batch`` messages at a time: an SMTP sender delivers a batch over
its one connection); the deliverer renews the claims of everything a lane holds, so none runs out
while it waits.

The threads are daemons: a stop waits a bounded time for the sends in hand, then leaves them;
their messages stay claimed and go again after the lease (at least once, as after a crash).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import Counter
from collections.abc import Callable

from baton.jobs.channels import PerThread, Sender
from baton.jobs.outbox import Channel, Message

log = logging.getLogger("baton.delivery")
AHEAD = 4  # a lane holds up to this many messages per thread: claimed a few at a time, renewed while held
Work = Callable[[list[Message], Sender], None]


class Lane:
    """``size`` threads sending one channel's messages, ``batch`` at a time each; ``per_owner`` of them
    at most for one owner."""

    def __init__(self, channel: Channel, source: Sender | PerThread, size: int, per_owner: int,
                 done: Callable[[Lane], None], settled: Callable[[], None], batch: int = 1) -> None:
        self.channel, self.source, self.size, self.per_owner = channel, source, size, per_owner
        self.batch = batch
        self.capacity = size * max(AHEAD, 2 * batch)
        self._done = done  # called after each message, whatever became of it, by the thread now free
        self._settled = settled  # called once that thread is finished with it
        self.claiming = threading.Lock()  # one claim for this lane at a time: never more in hand than threads
        self._lock = threading.Lock()
        self._in_hand: dict[int, Message] = {}
        self._owners: Counter[int] = Counter()
        self._busy = 0  # handed and not yet done with, the claim that follows a send included
        self._senders: dict[int, Sender] = {}  # per thread, when the source makes them
        self._queue: queue.SimpleQueue[tuple[list[Message], Work] | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []

    # -- what is in hand ------------------------------------------------------------------------
    def free(self) -> int:
        """How many more messages to claim now: none while every thread has work and another waits,
        else up to ``capacity`` in hand (claiming a few at a time costs one round trip, not one each)."""
        with self._lock:
            if not self._threads or len(self._in_hand) > self.size * self.batch:
                return 0
            return self.capacity - len(self._in_hand)

    def owners(self) -> dict[int, int]:
        """How many messages each owner has in hand here."""
        with self._lock:
            return dict(self._owners)

    def in_hand(self) -> list[Message]:
        with self._lock:
            return list(self._in_hand.values())

    def busy(self) -> int:
        """Hand-offs whose thread has not finished with them (nor claimed the next)."""
        with self._lock:
            return self._busy

    # -- running --------------------------------------------------------------------------------
    def open(self) -> None:
        with self._lock:
            if self._threads:
                return
            self._queue = queue.SimpleQueue()  # a thread left running by a stop keeps the old one
            self._threads = [threading.Thread(target=self._serve, args=(self._queue,), daemon=True,
                                              name=f"baton-{self.channel}-{i}") for i in range(self.size)]
        for thread in self._threads:
            thread.start()

    def hand(self, messages: list[Message], work: Work) -> None:
        """Give claimed messages (up to ``batch``) to a free thread (the caller checked ``free``)."""
        with self._lock:
            for message in messages:
                self._in_hand[message.id] = message
                self._owners[message.owner_id] += 1
            self._busy += 1
        self._queue.put((messages, work))

    def close(self, wait: float) -> list[Message]:
        """Stop: the messages not yet started are taken back (returned, for their claims to be released);
        the sends under way end, for at most ``wait`` seconds (what is left goes again after its lease)."""
        unstarted: list[Message] = []
        with self.claiming, self._lock:  # a claim under way is handed before the threads are told to end
            threads, self._threads = self._threads, []
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    unstarted.extend(item[0])
                    for message in item[0]:
                        self._forget(message)
                    self._busy -= 1
            for _ in threads:
                self._queue.put(None)
        for thread in threads:
            thread.join(max(0.0, wait))
        left = self.in_hand()
        if left:
            log.warning("%d %s message(s) still being sent at stop; they go again after their lease", len(left),
                        self.channel)
        else:
            self.rest()
        return unstarted

    def rest(self) -> None:
        """Close the per-thread senders (an SMTP connection) while nothing is in hand."""
        with self._lock:
            if self._in_hand:
                return
            senders, self._senders = list(self._senders.values()), {}
        for sender in senders:
            sender.close()
        if not isinstance(self.source, PerThread):
            self.source.close()

    def sender_here(self) -> Sender:
        """The sender for the calling thread."""
        if not isinstance(self.source, PerThread):
            return self.source
        ident = threading.get_ident()
        with self._lock:
            sender = self._senders.get(ident)
            if sender is None:
                sender = self._senders[ident] = self.source.make()
            return sender

    def _forget(self, message: Message) -> None:  # with the lock held
        self._in_hand.pop(message.id, None)
        self._owners[message.owner_id] -= 1
        if self._owners[message.owner_id] <= 0:
            del self._owners[message.owner_id]

    def _serve(self, work_queue: queue.SimpleQueue[tuple[list[Message], Work] | None]) -> None:
        while (item := work_queue.get()) is not None:
            messages, work = item
            try:
                work(messages, self.sender_here())
            except Exception:  # noqa: BLE001 - the messages stay claimed and go again after their lease
                log.exception("sending message(s) %s failed before they were recorded", [m.id for m in messages])
            finally:
                with self._lock:
                    for message in messages:
                        self._forget(message)
                try:
                    self._done(self)
                except Exception:  # noqa: BLE001 - a thread of the pool must outlive any error
                    log.exception("after sending message(s) %s", [m.id for m in messages])
                finally:
                    with self._lock:
                        self._busy -= 1
                    self._settled()
