#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Sum the Check results of `meson test` runs into one line:
#
#     tests/summary.sh BUILDDIR [LOG]
#     tests/summary.sh --logs FILE...
#
# LOG defaults to meson-logs/testlog.txt (a run with --setup=NAME writes
# testlog-NAME.txt); --logs sums several runs' log files (the plain, sanitizer
# and valgrind runs of the test command). Each suite prints "NN%: Checks: C, Failures: F, Errors: E";
# passed is C - F - E and failed is F + E, summed over all suites. The Python
# suite (unittest) prints "Ran N tests in ..." then "OK" or "FAILED (failures=F,
# errors=E)", either possibly with skipped=S: passed is N - F - E - S. A test that
# meson saw fail while Check reported no failure (a crash before the summary,
# a timeout, valgrind's error exit) counts as one failure. Skipped tests (exit
# status 77) count as neither. The last line printed is "N passed, N failed";
# the exit status is non-zero when anything failed or nothing ran.

set -euo pipefail

if [[ $# -ge 2 && $1 == --logs ]]; then
        shift
        logs=("$@")
elif [[ $# -ge 1 && $# -le 2 && $1 != --logs ]]; then
        logs=("$1/meson-logs/${2:-testlog.txt}")
else
        echo "usage: $0 BUILDDIR [LOG] | --logs FILE..." >&2
        exit 2
fi
for log in "${logs[@]}"; do
        if [[ ! -r "$log" ]]; then
                echo "$0: cannot read $log (run meson test first)" >&2
                exit 2
        fi
done

awk '
function finish() {
        if (name == "")
                return
        if (!ok && !skipped && test_failed == 0) {
                printf "%s: %s without a Check failure; counted as 1 failed\n", name, result
                test_failed = 1
        }
        passed += test_passed
        failed += test_failed
        ntests++
        name = ""
}
# A test block starts with "==== i/n ====", then "test: NAME" and "result: ...".
/^=+ [0-9]+\/[0-9]+ =+$/ { finish(); in_block = 1; next }
in_block && /^test:/ {
        name = $0
        sub(/^test:[ \t]*/, "", name)
        result = ""
        test_passed = test_failed = ok = skipped = 0
        ran = -1
        next
}
in_block && /^result:/ {
        sub(/^result:[ \t]*/, "")
        result = $0
        ok = (result == "exit status 0")
        skipped = (result == "exit status 77")
        next
}
in_block && match($0, /[0-9]+%: Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+/) {
        line = substr($0, RSTART, RLENGTH)
        gsub(/[^0-9]+/, " ", line)
        split(line, f, " ")
        test_passed += f[2] - f[3] - f[4]
        test_failed += f[3] + f[4]
        next
}
in_block && /^Ran [0-9]+ tests? in / { ran = $2; next }
in_block && ran >= 0 && /^(OK|FAILED)( \(.*\))?$/ {
        nf = ne = ns = nu = 0
        if (match($0, /\(.*\)/)) {
                n = split(substr($0, RSTART + 1, RLENGTH - 2), kv, /, */)
                for (i = 1; i <= n; i++) {
                        split(kv[i], pair, "=")
                        if (pair[1] == "failures") nf = pair[2]
                        else if (pair[1] == "errors") ne = pair[2]
                        else if (pair[1] == "skipped") ns = pair[2]
                        else if (pair[1] == "unexpected successes") nu = pair[2]
                }
        }
        test_passed += ran - nf - ne - ns - nu
        test_failed += nf + ne + nu
        ran = -1
        next
}
END {
        finish()
        if (ntests == 0)
                print "no tests in the log" > "/dev/stderr"
        printf "%d passed, %d failed\n", passed, failed
        exit (failed > 0 || ntests == 0) ? 1 : 0
}
' "${logs[@]}"
