#!/bin/sh
# SPDX-License-Identifier: MIT
# Run reactord's benchmarks and print a table of medians and ratios.
#   bench/run.sh [--quick] [--rounds N] [--build DIR] [ping|timers|idle ...]
# Needs /usr/bin/python3 with python3-twisted (the idle baseline); see BENCHMARKS.md.
exec /usr/bin/python3 "$(dirname "$0")/bench.py" "$@"
