"""reactord: a Twisted-like reactor whose loop is a shared daemon.

``reactord.Reactor()`` opens a session with reactord (PROTOCOL.md is the
whole contract) and offers the reactor API a Twisted user knows, in PEP 8
spelling: ``call_later``, ``call_when_running``, ``run``, ``stop``,
``LoopingCall``, ``listen_tcp``/``connect_tcp``, ``listen_unix``/
``connect_unix``, ``listen_udp`` and ``spawn_process``. ``reactord.aio``
is the asyncio form.
"""

from . import aio
from .client import Event, Session, default_endpoint, read_key_file
from .error import (AlreadyCalled, AlreadyCancelled, ConnectError,
                    ConnectionAborted, ConnectionDone, ConnectionLost,
                    ProcessDone, ProcessExitedAlready, ProcessTerminated,
                    ReactordError, ReactorNotRunning, SessionClosed)
from .protocol import (BaseProtocol, ClientFactory, DatagramProtocol, Factory,
                       ProcessProtocol, Protocol, ServerFactory)
from .reactor import (Connector, DelayedCall, ListeningPort, LoopingCall,
                      Reactor, TCPAddress, UNIXAddress, default_reactor)

__version__ = "0.1.0"

__all__ = [
    "aio",
    "AlreadyCalled", "AlreadyCancelled", "BaseProtocol", "ClientFactory",
    "ConnectError", "ConnectionAborted", "ConnectionDone", "ConnectionLost",
    "Connector", "DatagramProtocol", "DelayedCall", "Event", "Factory",
    "ListeningPort", "LoopingCall", "ProcessDone", "ProcessExitedAlready",
    "ProcessProtocol", "ProcessTerminated", "Protocol", "Reactor",
    "ReactordError", "ReactorNotRunning", "ServerFactory", "Session",
    "SessionClosed", "TCPAddress", "UNIXAddress", "default_endpoint",
    "default_reactor", "read_key_file",
]
