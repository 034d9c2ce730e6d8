#!/usr/bin/python3
"""Write the msgpack form of the conformance exchanges.

For every ``X.jsonl`` beside this script, writes ``X.msgpack``: the same
exchange as a msgpack stream, one map per line, laid out as the README's
"The msgpack form" says. The output depends only on the ``.jsonl`` files, so
the committed ``.msgpack`` files can be checked by generating them again
(the Python suite does) and comparing bytes.

    generate.py              rewrite the .msgpack files beside this script
    generate.py --out DIR    write them into DIR instead

Needs Debian's python3-msgpack.
"""

import argparse
import base64
import json
import os
import sys

import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))


def from_json(value):
    """The JSON view to msgpack values: ``{"$bin": base64}`` becomes bin."""
    if isinstance(value, dict):
        if set(value) == {"$bin"} and isinstance(value["$bin"], str):
            return base64.b64decode(value["$bin"], validate=True)
        return {k: from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_json(v) for v in value]
    return value


def request(lineno, send):
    """A line's ``send`` as the msgpack-rpc request its runner sends."""
    params = send.get("params")
    return [0, lineno, send["method"], [] if params is None else [params]]


def convert(path):
    """The msgpack form of one ``.jsonl`` file, as bytes."""
    # One packer: the same value always gets the same, shortest encoding,
    # floats as float 64 and bytes as bin.
    packer = msgpack.Packer(use_bin_type=True)
    out = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            step = from_json(json.loads(line))
            if "send" in step:
                step["send"] = request(lineno, step["send"])
            out.append(packer.pack(step))
    return b"".join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=HERE,
                        help="directory to write into (default: beside "
                        "this script)")
    args = parser.parse_args(argv)
    names = sorted(n for n in os.listdir(HERE) if n.endswith(".jsonl"))
    if not names:
        print("%s: no .jsonl files" % HERE, file=sys.stderr)
        return 1
    for name in names:
        data = convert(os.path.join(HERE, name))
        target = os.path.join(args.out, name[:-len(".jsonl")] + ".msgpack")
        with open(target, "wb") as f:
            f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
