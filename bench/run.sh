#!/bin/sh
# SPDX-License-Identifier: MIT
# Run reactord's benchmarks and print a table of medians and ratios.
#   bench/run.sh [--quick] [--rounds N] [--build DIR]
#                [ping|timers|idle|echo|bulk|idle-conns|spawn ...]
# Needs /usr/bin/python3 with python3-twisted (the idle, echo and spawn baselines);
# see BENCHMARKS.md.
exec /usr/bin/python3 "$(dirname "$0")/bench.py" "$@"
