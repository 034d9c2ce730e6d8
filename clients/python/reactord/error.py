"""Exceptions of the reactord client.

Errors from reactord keep their stable ``code`` string (PROTOCOL.md §6) so
that callers can branch on it; the failure reasons handed to protocols
follow Twisted's names so that a Twisted user knows what each one means.
"""


class ReactordError(Exception):
    """A request failed: ``code`` is the protocol's error code."""

    def __init__(self, code, message="", method=None):
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.method = method

    def __str__(self):
        where = " (%s)" % self.method if self.method else ""
        return "%s: %s%s" % (self.code, self.message, where)


class SessionClosed(ConnectionError):
    """reactord ended the session (lease expired, shutdown, overrun)."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


class ReactorNotRunning(RuntimeError):
    """``stop()`` was called on a reactor that is not running."""


class AlreadyCalled(ValueError):
    """The delayed call has already run, so it cannot be changed."""


class AlreadyCancelled(ValueError):
    """The delayed call was cancelled, so it cannot be changed."""


class ConnectionDone(Exception):
    """The connection was closed cleanly (Twisted's ``ConnectionDone``)."""

    def __init__(self, reason="closed"):
        super().__init__(reason)
        self.reason = reason
        self.code = None


class ConnectionLost(Exception):
    """The connection ended in an error; ``code`` names the errno."""

    def __init__(self, reason="error", code=None):
        super().__init__(reason, code)
        self.reason = reason
        self.code = code


class ConnectionAborted(ConnectionLost):
    """The connection was aborted (reset) by this side."""


class ConnectError(Exception):
    """A connection attempt failed before it was established."""

    def __init__(self, code, message=""):
        super().__init__(code, message)
        self.code = code
        self.message = message


class ProcessDone(Exception):
    """The child exited with status 0."""

    exit_code = 0
    signal = None
    core = False

    def __init__(self, pid=None):
        super().__init__(0)
        self.pid = pid


class ProcessTerminated(Exception):
    """The child exited with a non-zero status or was killed by a signal."""

    def __init__(self, exit_code=None, signal=None, core=False, pid=None):
        super().__init__(exit_code, signal)
        self.exit_code = exit_code
        self.signal = signal
        self.core = core
        self.pid = pid


class ProcessExitedAlready(Exception):
    """The process has exited: it can no longer be signalled."""
