#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Run the libFuzzer targets of a -Dfuzz=true build for a while each:
#
#     tests/fuzz/run.sh BUILDDIR SECONDS_PER_TARGET [TARGET...]
#
# TARGET is decoder, params or session (default: all three, one after the
# other). Each target starts from a copy of its committed corpus and of its
# past crashes (tests/fuzz/corpus/T, tests/fuzz/regressions/T), which are never
# modified, with the dictionary tests/fuzz/msgpack.dict. Its work goes to
# $FUZZ_OUT/T (default BUILDDIR/fuzz-run/T): corpus/ the corpus reached, log
# libFuzzer's output, crashes/ any input that crashed, leaked, timed out or ran
# out of memory. Each target's line gives executions, exec/s, coverage (cov:
# edges, ft: features, from libFuzzer's final stats), the corpus reached and
# the crashes; the last line is "fuzz: N passed, N failed". The exit status is
# non-zero when any target crashed, leaked or timed out.
#
# A crash becomes a regression test as tests/fuzz/README.md says.

set -uo pipefail

if [[ $# -lt 2 ]] || ! [[ $2 =~ ^[0-9]+$ ]] || [[ $2 -lt 1 ]]; then
        echo "usage: $0 BUILDDIR SECONDS_PER_TARGET [decoder|params|session ...]" >&2
        exit 2
fi
build=$(cd "$1" && pwd) || exit 2
seconds=$2
shift 2
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(decoder params session)

here=$(cd "$(dirname "$0")" && pwd)
out=${FUZZ_OUT:-$build/fuzz-run}
passed=0
failed=0

# A UBSan report aborts (the build has -fno-sanitize-recover); show where.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

for t in "${targets[@]}"; do
        exe=$build/tests/fuzz/fuzz-$t
        if [[ ! -x $exe ]]; then
                echo "fuzz-$t: $exe not found (configure with -Dfuzz=true, then ninja -C $build)" >&2
                failed=$((failed + 1))
                continue
        fi
        dir=$out/$t
        rm -rf "$dir"
        mkdir -p "$dir/corpus" "$dir/crashes"
        for seeds in "$here/corpus/$t" "$here/regressions/$t"; do
                [[ -d $seeds ]] && find "$seeds" -maxdepth 1 -type f ! -name '.*' \
                        -exec cp {} "$dir/corpus/" \;
        done

        # -timeout: one input taking seconds is a hang (the targets run in
        # microseconds); -rss_limit_mb: leave the machine room.
        status=0
        start=$SECONDS
        "$exe" "$dir/corpus" \
                -dict="$here/msgpack.dict" \
                -max_total_time="$seconds" \
                -max_len=4096 \
                -timeout=10 \
                -rss_limit_mb=2048 \
                -detect_leaks=1 \
                -print_final_stats=1 \
                -artifact_prefix="$dir/crashes/" \
                >"$dir/log" 2>&1 || status=$?
        elapsed=$((SECONDS - start))

        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -n 1)
        rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log" | tail -n 1)
        # The last status line: "#N DONE cov: C ft: F corp: U/SIZE ..." (or the line before a crash).
        last=$(grep -E '^#[0-9]+.*cov: [0-9]+ ft: [0-9]+' "$dir/log" | tail -n 1)
        cov=$(sed -E 's/.* cov: ([0-9]+).*/\1/' <<<"$last")
        ft=$(sed -E 's/.* ft: ([0-9]+).*/\1/' <<<"$last")
        corp=$(sed -E 's/.* corp: ([0-9]+\/[0-9]+[a-zA-Z]*).*/\1/' <<<"$last")
        crashes=$(find "$dir/crashes" -type f | wc -l)

        printf 'fuzz-%s: %s s, %s executions, %s exec/s, cov %s, ft %s, corpus %s, crashes %s\n' \
                "$t" "$elapsed" "${runs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" \
                "$crashes"
        if [[ $status -ne 0 || $crashes -ne 0 ]]; then
                failed=$((failed + 1))
                echo "fuzz-$t: FAILED (exit status $status); inputs in $dir/crashes/, log in $dir/log:"
                grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error|.*invariant broken)' "$dir/log" |
                        head -n 5 | sed 's/^/    /'
                find "$dir/crashes" -type f | sed 's/^/    /'
        else
                passed=$((passed + 1))
        fi
done

echo "fuzz: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
