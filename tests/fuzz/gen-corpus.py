#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Write the seed corpus of the fuzz targets, and their dictionary.

    /usr/bin/python3 tests/fuzz/gen-corpus.py

Writes tests/fuzz/corpus/{decoder,params,session}/ (each file replaced; files
no longer generated are removed) and tests/fuzz/msgpack.dict. Output is
deterministic: running it again on an unchanged tree changes nothing. Needs
Debian's python3-msgpack.

The seeds are small and each means something: a valid hello, a ping, every
method with valid params, and malformed frames of each kind the broker tells
apart. The method list comes from broker/dispatch.c (its table is sorted, and
fuzz-params picks a method by its index in it).
"""

import os
import re
import shutil
import struct

import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def methods():
    with open(os.path.join(ROOT, "broker", "dispatch.c")) as f:
        return re.findall(r'^\s*\.name = "([a-z_]+\.[a-z_]+)",', f.read(), re.M)


def pack(*values):
    return b"".join(msgpack.packb(v, use_bin_type=True) for v in values)


def request(msgid, method, params=None):
    return pack([0, msgid, method, [] if params is None else [params]])


def notification(method, params=None):
    return pack([2, method, [] if params is None else [params]])


HELLO = {"protocol": 1, "name": "fuzz"}

# Valid params for each method; in the session target they mostly name a
# handle that does not exist, which is what its checks are for.
VALID = {
    "handle.close": {"handle": 1},
    "listener.join": {"name": "web"},
    "process.close_stdin": {"handle": 1},
    "process.list": None,
    "process.signal": {"handle": 1, "signal": "TERM"},
    "process.spawn": {"argv": ["/bin/true"], "name": "t"},
    "process.stop": {"handle": 1, "timeout": 0.5},
    "process.take": {"name": "t"},
    "process.write": {"handle": 1, "data": b"hi\n"},
    "reactor.info": None,
    "reactor.methods": None,
    "reactor.ping": None,
    "reactor.resources": None,
    "session.ack": {"bytes": 100},
    "session.bye": None,
    "session.hello": HELLO,
    "stream.abort": {"handle": 1},
    "stream.close": {"handle": 1},
    "stream.pause": {"handle": 1},
    "stream.resume": {"handle": 1},
    "stream.set": {"handle": 1, "nodelay": True, "high_water": 65536, "low_water": 1024},
    "stream.shutdown": {"handle": 1},
    "stream.write": {"handle": 1, "data": b"hello"},
    "tcp.adopt": {"name": "http", "shared": True},
    "tcp.connect": {"host": "127.0.0.1", "port": 9, "timeout": 1.5},
    "tcp.listen": {"host": "127.0.0.1", "port": 0, "backlog": 16, "name": "web"},
    "timer.cancel": {"handle": 1},
    "timer.reset": {"handle": 1, "after": 0.25},
    "timer.start": {"after": 0, "every": 0.001},
    "udp.bind": {"host": "::1", "port": 0},
    "udp.join": {"handle": 1, "group": "239.1.2.3"},
    "udp.leave": {"handle": 1, "group": "239.1.2.3"},
    "udp.send": {"handle": 1, "data": b"x", "host": "127.0.0.1", "port": 9},
    "unix.adopt": {"name": "ctl"},
    "unix.connect": {"abstract": "reactord-fuzz"},
    "unix.listen": {"abstract": "reactord-fuzz", "backlog": 4},
}

# Params of the wrong shape, one per kind of check.
INVALID = {
    "missing-required": ("timer.start", {}),
    "wrong-type": ("timer.start", {"after": "soon"}),
    "negative-duration": ("timer.start", {"after": -1}),
    "huge-duration": ("timer.reset", {"handle": 1, "after": 1e300}),
    "nan-duration": ("timer.start", {"after": float("nan")}),
    "zero-handle": ("handle.close", {"handle": 0}),
    "negative-handle": ("handle.close", {"handle": -5}),
    "nil-is-absent": ("timer.start", {"after": 1, "every": None}),
    "bin-as-str": ("listener.join", {"name": b"web"}),
    "str-as-bin": ("stream.write", {"handle": 1, "data": "text"}),
    "unknown-key": ("reactor.ping", {"extra": [1, 2, {"x": None}]}),
    "int-keys": ("session.ack", {1: 2, "bytes": 3}),
    "empty-str": ("process.take", {"name": ""}),
    "array-for-map": ("process.spawn", {"argv": {"0": "/bin/true"}}),
    "big-uint": ("session.ack", {"bytes": 2**64 - 1}),
    "bool-for-uint": ("session.hello", {"protocol": True}),
}


def write(target, name, data):
    path = os.path.join(HERE, "corpus", target, name)
    with open(path, "wb") as f:
        f.write(data)


def decoder_corpus():
    yield "hello", request(1, "session.hello", HELLO)
    yield "ping", request(2, "reactor.ping")
    yield "ping-notification", notification("reactor.ping")
    yield "response-ok", pack([1, 7, None, {"handle": 3}])
    yield "response-error", pack([1, 7, {"code": "EINVAL", "message": "no"}, None])
    yield "event", notification("timer.fired", {"handle": 3, "ticks": 1})
    yield "batch", request(1, "session.hello", HELLO) + request(2, "reactor.info") + notification(
        "session.ack", {"bytes": 10})
    for m in methods():
        yield "method-" + m, request(3, m, VALID.get(m))
    yield "types", request(4, "x.y", {"nil": None, "t": True, "f": False, "u8": 200, "u64": 2**64 - 1,
                                       "neg": -1, "i64": -2**63, "f64": 1.5, "nan": float("nan"),
                                       "str": "é", "bin": b"\x00\xff", "arr": [1, [2, [3]]],
                                       "map": {"k": {}}, "ext": msgpack.ExtType(5, b"abcd")})
    yield "float32", b"\x94\x00\x01\xa1m\x91\x81\xa1x\xca\x3f\xc0\x00\x00"
    yield "wide-msgid", b"\x94\x00\xcf" + struct.pack(">Q", 2**64 - 1) + b"\xa1m\x90"
    yield "str16-name", b"\x94\x00\x01\xda\x00\x0creactor.ping\x90"
    # Malformed: each kind the decoder tells apart.
    yield "empty", b""
    yield "not-msgpack", b"\xc1"
    yield "truncated", request(5, "timer.start", {"after": 1})[:-3]
    yield "bad-after-good", request(6, "reactor.ping") + b"\xc1\x00"
    yield "absurd-array", b"\x94\x00\x07\xa1m\x91\xdd\xff\xff\xff\xff"
    yield "absurd-map", b"\xdf\x7f\xff\xff\xff"
    yield "nested-deep", b"\x94\x00\x08\xa1m\x91" + b"\x91" * 40 + b"\xc0"
    yield "not-rpc-int", pack(42)
    yield "not-rpc-short", pack([0, 1])
    yield "request-3", pack([0, 1, "reactor.ping"])
    yield "params-not-array", pack([0, 1, "reactor.ping", {"a": 1}])
    yield "params-two", pack([0, 1, "reactor.ping", [{}, {}]])
    yield "params-not-map", pack([0, 1, "reactor.ping", [1]])
    yield "empty-method", pack([0, 1, "", []])
    yield "type-3", pack([3, 1, "x", []])
    yield "response-bad-error", pack([1, 1, "oops", None])


def params_corpus():
    names = methods()
    index = {m: i for i, m in enumerate(names)}
    for m in names:
        p = VALID.get(m)
        yield "valid-" + m, bytes([index[m], 1 << 3]) + pack([] if p is None else [p])
    for label, (m, p) in sorted(INVALID.items()):
        yield "invalid-" + label, bytes([index[m], 2 << 3]) + pack([p])
    i = index["timer.start"]
    yield "notification", bytes([i, 1]) + pack([{"after": 1}])
    yield "no-session", bytes([i, 2]) + pack([{"after": 1}])
    yield "no-session-hello", bytes([index["session.hello"], 2]) + pack([HELLO])
    yield "shutting-down", bytes([i, 4]) + pack([{"after": 1}])
    yield "no-params", bytes([i, 0]) + pack([])
    yield "two-messages", bytes([i, 0]) + pack([{"after": 1}]) + request(9, "reactor.pingg")
    yield "garbage", bytes([i, 0]) + b"\xc1\xc1"


def frames(*items):
    """items: (connection, bytes) pairs; connection 0 = "A", 1 = "B", 2 = "C", +4 = ipc peer."""
    out = b""
    for conn, data in items:
        out += struct.pack("<BH", conn, len(data)) + data
    return out


def hello(msgid=1, **extra):
    return request(msgid, "session.hello", dict(HELLO, **extra))


def session_corpus():
    A, B, C, IPC = 0, 1, 2, 4
    yield "hello-ping-bye", frames((A, hello()), (A, request(2, "reactor.ping")),
                                   (A, request(3, "session.bye")))
    yield "hello-ipc-peer", frames((A | IPC, hello(lease=0.5, window=4096)),
                                   (A, request(2, "reactor.info")))
    yield "before-hello", frames((A, request(1, "reactor.ping")),
                                 (A, notification("timer.start", {"after": 0})))
    yield "hello-twice", frames((A, hello()), (A, hello(2)))
    yield "hello-bad-protocol", frames((A, request(1, "session.hello", {"protocol": 99})))
    yield "hello-long-name", frames((A, request(1, "session.hello",
                                                {"protocol": 1, "name": "n" * 300})))
    for m in methods():
        yield "method-" + m, frames((A, hello()), (A, request(2, m, VALID.get(m))))
    yield "timer-fires", frames((A, hello()), (A, request(2, "timer.start", {"after": 0})),
                                (A, request(3, "reactor.resources")))
    yield "timer-periodic", frames((A, hello(window=4096)),
                                   (A, request(2, "timer.start", {"after": 0, "every": 0.000001})),
                                   (A, request(3, "session.ack", {"bytes": 4096})),
                                   (A, request(4, "timer.reset", {"handle": 1, "after": 0})),
                                   (A, request(5, "timer.cancel", {"handle": 1})))
    yield "timer-close", frames((A, hello()), (A, request(2, "timer.start", {"after": 60})),
                                (A, request(3, "handle.close", {"handle": 1})),
                                (A, request(4, "handle.close", {"handle": 1})))
    yield "listener", frames((A, hello()),
                             (A, request(2, "tcp.listen", {"host": "127.0.0.1", "port": 0,
                                                           "name": "web"})),
                             (B, hello()), (B, request(2, "listener.join", {"name": "web"})),
                             (A, request(3, "reactor.resources")),
                             (B, request(3, "stream.write", {"handle": 1, "data": b"x"})),
                             (A, request(4, "handle.close", {"handle": 1})))
    yield "udp", frames((A, hello()), (A, request(2, "udp.bind", {"host": "127.0.0.1", "port": 0})),
                        (A, request(3, "reactor.info")), (A, request(4, "handle.close", {"handle": 1})))
    yield "two-sessions", frames((A, hello()), (B, hello()),
                                 (A, request(2, "timer.start", {"after": 60})),
                                 (B, request(2, "timer.cancel", {"handle": 1})),
                                 (B, request(3, "handle.close", {"handle": 1})))
    yield "session-cap", frames((A, hello()), (B, hello()), (C, hello()))
    yield "vanished-client", frames((C, hello()), (C, request(2, "timer.start", {"after": 0})))
    yield "handle-cap", frames((A, hello()),
                               *[(A, request(2 + i, "timer.start", {"after": 60})) for i in range(9)])
    yield "batch", frames((A, hello() + request(2, "reactor.ping") +
                           notification("session.ack", {"bytes": 1}) + request(3, "timer.start",
                                                                            {"after": 0})))
    yield "notification-fails", frames((A, hello()), (A, notification("timer.cancel", {"handle": 9})))
    yield "unknown-method", frames((A, hello()), (A, request(2, "reactor.pong")),
                                   (A, notification("no.such")))
    yield "oversized", frames((A, hello()), (A, request(2, "stream.write",
                                                        {"handle": 1, "data": b"x" * 3000})))
    yield "oversized-no-msgid", frames((A, b"\xc0" * 2100))
    yield "not-msgpack", frames((A, b"\xc1"), (A, hello()), (A, b"\xc1"))
    yield "bad-after-good", frames((A, hello()), (A, request(2, "reactor.ping") + b"\xc1"))
    yield "truncated-request", frames((A, hello()), (A, request(2, "timer.start", {"after": 1})[:-2]))
    yield "not-rpc", frames((A, hello()), (A, pack(42, [0, 5]) + pack([0, 6, "x", {}])))
    yield "client-response", frames((A, hello()), (A, pack([1, 1, None, {}])))
    yield "empty-frame", frames((A, b""), (A, hello()), (A, b""))
    yield "bye-then-more", frames((A, hello() + request(2, "session.bye") + request(3, "reactor.ping")),
                                  (A, hello(4)))


def dictionary():
    words = set()
    for m in methods():
        words.add(msgpack.packb(m))
    for p in list(VALID.values()) + [v for _, v in INVALID.values()]:
        for k in (p or {}):
            if isinstance(k, str):
                words.add(msgpack.packb(k))
    for k in ("protocol", "lease", "window", "every", "instance", "group", "interface", "env",
              "env_inherit", "cwd", "uid", "gid", "stdin", "stdout", "stderr", "pty", "rows", "cols",
              "fds", "restart", "backoff_min", "backoff_max", "restart_limit", "restart_window",
              "instances", "ready", "orphan", "reuse_port", "broadcast", "keepalive", "mode",
              "bind", "path", "127.0.0.1", "::1", "TERM", "KILL"):
        words.add(msgpack.packb(k))
    # Message heads and the msgpack type bytes that carry a length.
    words |= {b"\x94\x00", b"\x93\x02", b"\x94\x01", b"\x91\x80", b"\x90", b"\x81", b"\xc0",
              b"\xc2", b"\xc3", b"\xca", b"\xcb", b"\xcc", b"\xcd", b"\xce", b"\xcf", b"\xd0",
              b"\xd3", b"\xd9", b"\xda", b"\xdb", b"\xc4", b"\xc5", b"\xc6", b"\xdc", b"\xdd",
              b"\xde", b"\xdf", b"\xd4", b"\xc7"}
    lines = ["# libFuzzer dictionary for the reactord fuzz targets (written by gen-corpus.py):",
             "# method and param names as msgpack strings, message heads, type bytes."]
    for w in sorted(words):
        lines.append('"' + "".join("\\x%02x" % b for b in w) + '"')
    with open(os.path.join(HERE, "msgpack.dict"), "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    missing = set(methods()) - set(VALID)
    if missing:
        raise SystemExit("gen-corpus.py: no valid params for " + ", ".join(sorted(missing)))
    for target, gen in (("decoder", decoder_corpus), ("params", params_corpus),
                        ("session", session_corpus)):
        d = os.path.join(HERE, "corpus", target)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        for name, data in gen():
            write(target, name, data)
    dictionary()


if __name__ == "__main__":
    main()
