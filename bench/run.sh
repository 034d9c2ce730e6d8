#!/bin/sh
# SPDX-License-Identifier: MIT
# Run reactord's benchmarks and print a table of medians and ratios.
#   bench/run.sh [--quick] [--rounds N] [--build DIR]
#                [ping|timers|idle|echo|bulk|idle-conns|spawn|pyecho|pytimers ...]
# Needs /usr/bin/python3 with python3-twisted (the idle, echo, spawn, pyecho and
# pytimers baselines), and python3-zmq and python3-msgpack for pyecho and pytimers;
# see BENCHMARKS.md.
exec /usr/bin/python3 "$(dirname "$0")/bench.py" "$@"
