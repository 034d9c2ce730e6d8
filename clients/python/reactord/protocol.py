"""Protocol, factory and process-protocol base classes, as in Twisted.

The reactor calls these methods; subclasses override the ones they need.
The names are Twisted's in PEP 8 spelling (``dataReceived`` becomes
``data_received``), so a Twisted program translates line by line.
"""

from .error import ConnectionDone, ProcessDone


class BaseProtocol:
    """What every protocol has: a transport and ``connection_made``."""

    connected = False
    transport = None

    def make_connection(self, transport):
        """Attach the transport, then tell the protocol it is connected."""
        self.connected = True
        self.transport = transport
        self.connection_made(transport)

    def connection_made(self, transport):
        """Called once the connection exists, with its transport (also
        available as ``self.transport``)."""


class Protocol(BaseProtocol):
    """A stream protocol (TCP or UNIX)."""

    factory = None

    def data_received(self, data):
        """Called with each chunk of bytes as it arrives (any size)."""

    def eof_received(self):
        """The peer will send no more. Return true to keep writing
        (half-close); by default the connection is closed, as in Twisted."""
        return False

    def connection_lost(self, reason):
        """Called exactly once when the connection is gone; ``reason`` is a
        ``ConnectionDone`` for a clean close, else a ``ConnectionLost``."""


class Factory:
    """Makes a protocol for each new connection (Twisted's ``Factory``)."""

    protocol = None

    @classmethod
    def for_protocol(cls, protocol, *args, **kwargs):
        """Return a factory that builds ``protocol(*args, **kwargs)``."""
        factory = cls(*args, **kwargs)
        factory.protocol = protocol
        return factory

    def start_factory(self):
        """Called before the first connection (listen or connect)."""

    def stop_factory(self):
        """Called when the factory is no longer used."""

    def build_protocol(self, addr):
        """Return a protocol for a connection from/to ``addr``, or ``None``
        to refuse it."""
        proto = self.protocol()
        proto.factory = self
        return proto


class ServerFactory(Factory):
    """A factory for listening ports."""


class ClientFactory(Factory):
    """A factory for outgoing connections, told how they end."""

    def started_connecting(self, connector):
        """The connection attempt has been made."""

    def client_connection_failed(self, connector, reason):
        """The connection could not be made; ``reason`` a ``ConnectError``."""

    def client_connection_lost(self, connector, reason):
        """An established connection ended."""


class ProcessProtocol(BaseProtocol):
    """Handles a child process's output and end (Twisted's)."""

    def make_connection(self, transport):
        """Attach the process transport, then call ``connection_made``."""
        self.transport = transport
        self.connection_made(transport)

    def child_data_received(self, fd, data):
        """Route output by file descriptor: 1 to ``out_received``, 2 to
        ``err_received``."""
        if fd == 1:
            self.out_received(data)
        elif fd == 2:
            self.err_received(data)

    def out_received(self, data):
        """Bytes from the child's stdout."""

    def err_received(self, data):
        """Bytes from the child's stderr."""

    def process_exited(self, reason):
        """The child exited (its pipes may still hold output)."""

    def process_ended(self, reason):
        """The child exited and every output pipe is closed: the end."""

    def process_event(self, event):
        """Other process events (``process.ready``, ``process.restarting``,
        ``process.gave_up`` ...) for supervised children."""


class DatagramProtocol:
    """A UDP protocol (Twisted's ``DatagramProtocol``)."""

    transport = None

    def make_connection(self, transport):
        """Attach the transport and start the protocol."""
        self.transport = transport
        self.start_protocol()

    def start_protocol(self):
        """Called once the socket is bound."""

    def stop_protocol(self):
        """Called when the socket is closed."""

    def datagram_received(self, data, addr):
        """A datagram ``data`` arrived from ``addr``, a ``(host, port)``."""


__all__ = ["BaseProtocol", "Protocol", "Factory", "ServerFactory",
           "ClientFactory", "ProcessProtocol", "DatagramProtocol",
           "ConnectionDone", "ProcessDone"]
