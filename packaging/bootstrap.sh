#!/usr/bin/env bash
# Set up a Debian 12 machine for reactord, build it, then run it or test it.
#
#   packaging/bootstrap.sh run    install what is needed, build, start reactord
#                                 in the foreground on its default endpoint
#   packaging/bootstrap.sh test   install what is needed, build, run the whole
#                                 test suite and print "N passed, N failed"
#
# BUILD_DIR (default: build) picks the build directory. Packages are installed
# with apt-get only when one is missing; as a normal user that needs sudo.
set -euo pipefail

cd "$(dirname "$0")/.."
mode=${1:-}
build=${BUILD_DIR:-build}

packages=(
        meson ninja-build pkg-config gcc
        libzmq3-dev libmsgpack-dev libsystemd-dev check scdoc systemd
        python3-zmq python3-msgpack python3-twisted valgrind
        clang libclang-rt-14-dev
)
# The Debian package pass (packaging/deb-test.sh) installs its own build tools.

install_packages() {
        local missing=()
        for p in "${packages[@]}"; do
                dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
                        missing+=("$p")
        done
        [ ${#missing[@]} -eq 0 ] && return 0
        local sudo=()
        [ "$(id -u)" -eq 0 ] || sudo=(sudo)
        echo "Installing: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        "${sudo[@]}" apt-get update -q
        "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
}

build_tree() {
        if [ -f "$build/build.ninja" ]; then
                meson setup --reconfigure "$build" >/dev/null
        else
                meson setup "$build"
        fi
        ninja -C "$build"
}

# The whole suite, in passes:
#   plain      every suite on the build above
#   sanitize   every suite again, built with ASan and UBSan ($build-sanitize)
#   valgrind   every suite under memcheck (--setup=valgrind; the process suites
#              are left to the sanitizers: valgrind 3.19 lacks the pidfd calls)
#   fuzz       each libFuzzer target for 20 s from the committed corpus
#              (a clang build, $build-fuzz; tests/fuzz/run.sh)
#   package    the Debian packages built, installed, used and purged
#              (packaging/deb-test.sh; root only, and it installs into the
#              system: it runs by default only in CI, CI=true)
# TEST_PASSES picks some ("plain" for a quick run). The last line is the sum
# over all passes: "N passed, N failed" (a fuzz target and the package pass
# count as one test each).
run_tests() {
        local default="plain sanitize valgrind fuzz"
        [ "${CI:-}" = true ] && [ "$(id -u)" -eq 0 ] && default="$default package"
        local passes=${TEST_PASSES:-$default} status=0 logs=() line extra_pass=0 extra_fail=0
        for pass in $passes; do
                echo "==== $pass"
                case "$pass" in
                plain)
                        meson test -C "$build" --print-errorlogs --num-processes 2 || status=1
                        logs+=("$build/meson-logs/testlog.txt")
                        ;;
                sanitize)
                        local san="$build-sanitize"
                        [ -f "$san/build.ninja" ] ||
                                meson setup "$san" -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
                        ninja -C "$san"
                        meson test -C "$san" --print-errorlogs --num-processes 2 || status=1
                        logs+=("$san/meson-logs/testlog.txt")
                        ;;
                valgrind)
                        meson test -C "$build" --setup=valgrind --print-errorlogs --num-processes 2 || status=1
                        logs+=("$build/meson-logs/testlog-valgrind.txt")
                        ;;
                fuzz)
                        local fz="$build-fuzz" out
                        [ -f "$fz/build.ninja" ] ||
                                CC=clang meson setup "$fz" -Dfuzz=true -Db_sanitize=address,undefined \
                                        -Db_lundef=false >/dev/null
                        ninja -C "$fz" tests/fuzz/fuzz-decoder tests/fuzz/fuzz-params tests/fuzz/fuzz-session
                        out=$(tests/fuzz/run.sh "$fz" 20) || status=1
                        printf '%s\n' "$out"
                        if [[ $(printf '%s\n' "$out" | tail -1) =~ ([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
                                extra_pass=$((extra_pass + BASH_REMATCH[1]))
                                extra_fail=$((extra_fail + BASH_REMATCH[2]))
                        else
                                extra_fail=$((extra_fail + 1))
                                status=1
                        fi
                        continue
                        ;;
                package)
                        if bash packaging/deb-test.sh; then
                                extra_pass=$((extra_pass + 1))
                        else
                                extra_fail=$((extra_fail + 1))
                                status=1
                        fi
                        continue
                        ;;
                *)
                        echo "unknown test pass: $pass" >&2
                        exit 2
                        ;;
                esac
                tests/summary.sh --logs "${logs[-1]}" 2>/dev/null | tail -1 |
                        sed "s/^/$pass: /" || true
        done
        echo "==== all passes"
        local passed=$extra_pass failed=$extra_fail
        if [ ${#logs[@]} -gt 0 ]; then
                line=$(tests/summary.sh --logs "${logs[@]}") || status=1
                printf '%s\n' "$line" | sed '$d'
                line=$(printf '%s\n' "$line" | tail -1)
                if [[ $line =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
                        passed=$((passed + BASH_REMATCH[1]))
                        failed=$((failed + BASH_REMATCH[2]))
                else
                        failed=$((failed + 1)) # no summary at all: something broke
                fi
        fi
        echo "$passed passed, $failed failed"
        exit $status
}

case "$mode" in
run)
        install_packages
        build_tree
        exec "$build/broker/reactord" --log-level info
        ;;
test)
        install_packages
        build_tree
        run_tests
        ;;
*)
        echo "usage: $0 run|test" >&2
        exit 2
        ;;
esac
