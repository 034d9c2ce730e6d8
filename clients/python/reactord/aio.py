"""The asyncio form of the client.

::

    async with reactord.aio.connect() as r:
        handle = (await r.call("timer.start", after=0.5, every=1))["handle"]
        async for event in r.events(handle):
            print(event.name, event.payload)

The DEALER socket joins the asyncio loop through ``loop.add_reader`` on its
``ZMQ_FD``, not a thread. That descriptor is edge-triggered and also
signals send-side changes: it becomes readable only when ZeroMQ's state
changes, so every wake-up drains the socket until ``ZMQ_EVENTS`` no longer
says ``POLLIN``, and every send is followed by such a check (a send can
consume the edge that announced waiting input).

Messages queued during one loop iteration go out as one frame. Events are
queued per handle and their credit is returned (``session.ack``, a quarter
window at a time) as the consumer takes them: a consumer that stops
reading stops reactord producing, exactly as the protocol intends.
"""

import asyncio
import logging
import time

import zmq

from .client import (CURVE_HINT, DEFAULT_MAX_FRAME, NOTIFICATION,
                     PROTOCOL_VERSION, RESPONSE, Credit, clean_params,
                     curve_options, decode_frame, default_endpoint, error_of,
                     notification, pack, parse_event, request, split_frames)
from .error import ReactordError, SessionClosed

log = logging.getLogger("reactord")

#: Events after which a handle is released (§4), so its iterator ends.
_FINAL = {"stream.closed"}
_CREATES = {"timer.start": "timer", "tcp.listen": "listener",
            "unix.listen": "listener", "listener.join": "listener",
            "tcp.adopt": "listener", "unix.adopt": "listener",
            "udp.bind": "udp", "tcp.connect": "stream",
            "unix.connect": "stream", "process.spawn": "process",
            "process.take": "process"}
_END = object()


class AsyncSession:
    """A session with reactord driven by an asyncio loop."""

    def __init__(self, endpoint=None, *, name=None, lease=None, window=None,
                 context=None, server_key=None, key=None):
        self.endpoint = endpoint or default_endpoint()
        self._options = {"name": name, "lease": lease, "window": window}
        self._curve = curve_options(server_key, key)
        self._context = context or zmq.Context.instance()
        self._socket = None
        self._loop = None
        self._fd = None
        self._next_msgid = 1
        self._futures = {}
        self._outbox = []
        self._flush_scheduled = False
        self._queues = {}
        self._oneshot = set()
        self._kinds = {}
        self._keepalive = None
        self._last_send = time.monotonic()
        self.credit = Credit(1 << 20)
        self.max_frame = DEFAULT_MAX_FRAME
        self.lease = 10.0
        self.closed = None
        self.info = None

    # -- opening and closing -------------------------------------------------

    async def open(self, timeout=10.0):
        """Connect and say hello; returns the hello result."""
        self._loop = asyncio.get_running_loop()
        self._socket = self._context.socket(zmq.DEALER)
        self._socket.setsockopt(zmq.LINGER, 1000)
        for option, value in self._curve.items():
            self._socket.setsockopt(option, value)
        self._socket.connect(self.endpoint)
        self._fd = self._socket.getsockopt(zmq.FD)
        self._loop.add_reader(self._fd, self._readable)
        try:
            hello = await asyncio.wait_for(
                self.call("session.hello", protocol=PROTOCOL_VERSION,
                          **self._options), timeout)
        except asyncio.TimeoutError:
            self._teardown()
            raise ConnectionError("no reactord answers at %s%s" % (
                self.endpoint, CURVE_HINT if self._curve else "")) from None
        self.info = hello
        self.lease = float(hello.get("lease", 10.0))
        self.credit = Credit(int(hello.get("window", 1 << 20)))
        limits = hello.get("limits") or {}
        self.max_frame = int(limits.get("max_frame", DEFAULT_MAX_FRAME))
        self._keepalive = self._loop.call_later(self.lease / 3,
                                                self._keep_alive)
        return hello

    async def close(self):
        """End the session (``session.bye``) and release the socket."""
        if self._socket is None:
            return
        if self.closed is None:
            try:
                await asyncio.wait_for(self.call("session.bye"), 2.0)
            except (ReactordError, SessionClosed, asyncio.TimeoutError):
                pass
            self.closed = "bye"
        self._teardown()

    def _teardown(self):
        if self._keepalive is not None:
            self._keepalive.cancel()
        if self._socket is not None:
            self._loop.remove_reader(self._fd)
            self._flush()
            self._socket.close()
            self._socket = None
        self._fail_all(SessionClosed(self.closed or "closed"))

    async def __aenter__(self):
        await self.open()
        return self

    async def __aexit__(self, *exc):
        await self.close()

    # -- calls ---------------------------------------------------------------

    async def call(self, method, **params):
        """Make a request; return its result or raise ``ReactordError``."""
        if self.closed is not None and method != "session.bye":
            raise SessionClosed(self.closed)
        msgid = self._next_msgid
        self._next_msgid += 1
        future = self._loop.create_future()
        params = clean_params(params)
        self._futures[msgid] = (method, future, params)
        self._queue(request(msgid, method, params))
        return await future

    def notify(self, method, **params):
        """Send a notification (no response)."""
        self._queue(notification(method, clean_params(params)))

    def _created(self, method, params, result):
        """Note what a successful call created or ended, as soon as its
        response is read: a one-shot timer's event may be in the same read
        and must already be known as its last."""
        handle = result.get("handle")
        kind = _CREATES.get(method)
        if kind is not None and handle is not None:
            self._kinds[handle] = kind
            if method == "timer.start" and not params.get("every"):
                self._oneshot.add(handle)
        if method in ("timer.cancel", "handle.close"):
            handle = params.get("handle")
            if self._kinds.get(handle) in ("timer", "listener", "udp"):
                self._end(handle)

    def _queue(self, message):
        self._outbox.append(pack(message))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self):
        self._flush_scheduled = False
        if not self._outbox or self._socket is None:
            return
        outbox, self._outbox = self._outbox, []
        for frame in split_frames(outbox, self.max_frame):
            self._socket.send(frame)
        self._last_send = time.monotonic()
        # Sending may have consumed the edge that announced input.
        self._loop.call_soon(self._readable)

    def _keep_alive(self):
        idle = time.monotonic() - self._last_send
        if idle >= self.lease / 3 and self.closed is None:
            self.notify("reactor.ping")
            idle = 0
        self._keepalive = self._loop.call_later(
            max(0.01, self.lease / 3 - idle), self._keep_alive)

    # -- receiving -----------------------------------------------------------

    def _readable(self):
        socket = self._socket
        while socket is not None and socket.getsockopt(zmq.EVENTS) & \
                zmq.POLLIN:
            try:
                frame = socket.recv(zmq.NOBLOCK)
            except zmq.Again:
                break
            self._frame(frame)
            socket = self._socket

    def _frame(self, frame):
        for message, size in decode_frame(frame):
            if not isinstance(message, (list, tuple)) or not message:
                continue
            if message[0] == RESPONSE and len(message) == 4:
                method, future, params = self._futures.pop(
                    message[1], (None, None, None))
                if future is None:
                    continue
                if message[2] is not None:
                    if not future.done():
                        future.set_exception(error_of(message[2], method))
                    continue
                result = message[3] if isinstance(message[3], dict) else {}
                self._created(method, params, result)
                if not future.done():
                    future.set_result(result)
            elif message[0] == NOTIFICATION:
                event = parse_event(message, size)
                if event is not None:
                    self._event(event)

    def _event(self, event):
        if event.name == "session.closed":
            self.closed = event.get("reason", "closed")
            log.warning("reactord closed the session: %s", self.closed)
            self._fail_all(SessionClosed(self.closed))
            self._handled(event.size)
            return
        if event.name == "session.error":
            log.warning("reactord reported %s: %s", event.get("code"),
                        event.get("message", ""))
            self._handled(event.size)
            return
        handle = event.handle
        queue = self._queues.get(handle)
        if queue is None:
            queue = self._queues[handle] = asyncio.Queue()
        queue.put_nowait(event)
        if self._is_final(event):
            queue.put_nowait(_END)

    def _is_final(self, event):
        if event.name in _FINAL:
            return True
        if event.name == "timer.fired" and event.handle in self._oneshot:
            return True
        if event.name == "process.ended" and event.get("final", True):
            return True
        return False

    def _end(self, handle):
        queue = self._queues.get(handle)
        if queue is None:
            queue = self._queues[handle] = asyncio.Queue()
        queue.put_nowait(_END)

    def _handled(self, nbytes):
        ack = self.credit.handled(nbytes)
        if ack and self.closed is None and self._socket is not None:
            self.notify("session.ack", bytes=ack)

    def _fail_all(self, exc):
        for method, future, params in self._futures.values():
            if not future.done():
                future.set_exception(exc)
        self._futures.clear()
        for queue in self._queues.values():
            queue.put_nowait(exc)

    # -- events --------------------------------------------------------------

    async def events(self, handle):
        """Iterate over the events of ``handle`` until it is released.

        Events are kept (and their credit held) until taken here; an event
        is counted as handled when the next one is asked for.
        """
        queue = self._queues.get(handle)
        if queue is None:
            queue = self._queues[handle] = asyncio.Queue()
        previous = None
        try:
            while True:
                if previous is not None:
                    self._handled(previous.size)
                    previous = None
                item = await queue.get()
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                previous = item
                yield item
        finally:
            if previous is not None:
                self._handled(previous.size)
            if queue.empty():
                self._queues.pop(handle, None)

    async def next_event(self, handle):
        """Return the next event of ``handle``."""
        async for event in self.events(handle):
            return event
        raise ReactordError("ENOENT", "handle %r was released" % handle)

    def discard(self, handle):
        """Drop the events held for ``handle`` and return their credit."""
        queue = self._queues.pop(handle, None)
        while queue is not None and not queue.empty():
            item = queue.get_nowait()
            if hasattr(item, "size"):
                self._handled(item.size)

    # -- helpers -------------------------------------------------------------

    async def sleep(self, seconds):
        """Sleep on a reactord timer (mostly a demonstration: asyncio's own
        sleep is cheaper)."""
        result = await self.call("timer.start", after=seconds)
        return await self.next_event(result["handle"])

    async def ticks(self, interval, now=False):
        """Iterate over a periodic timer's ``ticks`` counts.

        The timer is cancelled when the iteration is closed: wrap it in
        ``contextlib.aclosing`` to have that happen at a ``break``.
        """
        result = await self.call("timer.start", after=0 if now else interval,
                                 every=interval)
        handle = result["handle"]
        try:
            async for event in self.events(handle):
                yield event.get("ticks", 1)
        finally:
            if self.closed is None:
                try:
                    await self.call("timer.cancel", handle=handle)
                except ReactordError:
                    pass


class _Connection:
    """What ``connect()`` returns: awaitable, and an async context
    manager."""

    def __init__(self, session):
        self.session = session

    def __await__(self):
        async def opened():
            await self.session.open()
            return self.session
        return opened().__await__()

    async def __aenter__(self):
        await self.session.open()
        return self.session

    async def __aexit__(self, *exc):
        await self.session.close()


def connect(endpoint=None, **options):
    """Open a session: ``async with connect() as r`` or
    ``r = await connect()``."""
    return _Connection(AsyncSession(endpoint, **options))
