#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Supervise a flaky command through `reactorctl gateway`, with jq for JSON:
# reactord restarts it on failure until the restart limit is reached, and we
# print its output as it arrives and stop at process.gave_up.
#
#   examples/shell/supervise.sh [REACTORCTL]
#
# REACTORCTL (default: reactorctl from PATH) may carry options, e.g.
# "reactorctl --endpoint ipc:///run/reactord/bus".
set -eu

ctl=${1:-reactorctl}

# The gateway runs as a coprocess: we write requests to ${gw[1]} and read
# replies and events, one JSON object per line, from ${gw[0]}. --text shows
# the output bytes as plain strings.
coproc gw { $ctl --text gateway; }

jq -cn '{id: 1, method: "process.spawn", params: {
        argv: ["sh", "-c", "echo tick; sleep 0.2; echo tick; exit 1"],
        restart: "on-failure", restart_limit: 2, backoff_min: 0.1}}' >&"${gw[1]}"

while IFS= read -r line <&"${gw[0]}"; do
        case $(jq -r '.event // (if .error then "error" else "reply" end)' <<<"$line") in
        error)
                echo "error: $(jq -r '.error.code + ": " + .error.message' <<<"$line")" >&2
                exit 1 ;;
        reply)
                echo "spawned: handle $(jq -r .result.handle <<<"$line")" ;;
        process.output)
                jq -j .payload.data <<<"$line" | sed 's/^/output: /' ;;
        process.restarting)
                echo "restarting in $(jq -r .payload.delay <<<"$line") s" ;;
        process.exited)
                echo "exited with $(jq -r '.payload.code // "signal \(.payload.signal)"' <<<"$line")" ;;
        process.gave_up)
                echo "gave up after $(jq -r .payload.restarts <<<"$line") restarts"
                break ;;
        esac
done

# Closing the gateway's stdin ends our session, and with it the process handle.
fd=${gw[1]}
exec {fd}>&-
# shellcheck disable=SC2154 # gw_PID is set by coproc
wait "$gw_PID" || true
