#!/usr/bin/env bash
# The Debian packages end to end, on a Debian 12 machine, as root:
#
#   packaging/deb-test.sh
#
# builds them out of the tree (packaging/build-deb.sh, into a temporary
# directory), installs them with dpkg, checks the installed programs, units,
# manual pages, C library and Python module, runs the installed reactord by
# hand on the system bus (/run/reactord/bus) and checks who may reach it,
# then purges the packages and checks that the system is as it was: the
# same files in /etc, /usr, /var/lib and /run (apt's and dpkg's own state
# aside), the same users and groups. Whatever happens, the daemon is stopped,
# the packages purged and the temporary files removed on the way out.
#
# Prints one PASS or FAIL line per check and ends with "deb-test: PASS" or
# "deb-test: FAIL"; exits 1 on failure. Missing build tools are installed
# with apt-get first (the list below).
set -uo pipefail

cd "$(dirname "$0")/.."
top=$PWD

packages=(
        build-essential dpkg-dev debhelper dh-python fakeroot
        meson ninja-build pkg-config libzmq3-dev libmsgpack-dev libsystemd-dev
        python3 scdoc python3-zmq python3-msgpack systemd man-db
)
debs=(reactord libreactord0 libreactord-dev reactorctl python3-reactord)
bus_dir=/run/reactord
bus=ipc://$bus_dir/bus

n_pass=0
n_fail=0
work=
daemon_pid=
installed=false
set_aside=

say() { printf '%s\n' "$*"; }

finish() {
        local verdict=PASS
        [ "$n_fail" -eq 0 ] || verdict=FAIL
        say "deb-test: $verdict ($n_pass passed, $n_fail failed checks)"
        [ "$verdict" = PASS ]
}

abort() {
        say "FAIL: $*"
        n_fail=$((n_fail + 1))
        exit 1
}

# check WHAT COMMAND...: run it, its output kept for a failure's report.
check() {
        local what=$1 out
        shift
        if out=$("$@" 2>&1); then
                say "PASS: $what"
                n_pass=$((n_pass + 1))
        else
                say "FAIL: $what"
                [ -z "$out" ] || printf '%s\n' "$out" | tail -n 20 | sed 's/^/      /'
                n_fail=$((n_fail + 1))
        fi
}

# check_not WHAT COMMAND...: the command must fail.
check_not() {
        local what=$1
        shift
        check "$what" bash -c '! "$@"' -- "$@"
}

stop_daemon() {
        [ -n "$daemon_pid" ] || return 0
        kill -TERM "$daemon_pid" 2>/dev/null
        wait "$daemon_pid" 2>/dev/null
        local status=$?
        daemon_pid=
        return $status
}

purge() {
        local present=()
        # With their debug symbols, should a build have made and installed them.
        for p in "${debs[@]}" "${debs[@]/%/-dbgsym}"; do
                dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -qv 'not-installed' &&
                        present+=("$p")
        done
        [ ${#present[@]} -eq 0 ] || dpkg --purge "${present[@]}"
}

restore_aside() {
        [ -n "$set_aside" ] || return 0
        rm -rf "$bus_dir"
        mv "$set_aside" "$bus_dir"
        set_aside=
}

cleanup() {
        local status=$?
        trap - EXIT INT TERM
        stop_daemon
        if $installed; then
                purge >/dev/null 2>&1 || say "cleanup: dpkg --purge ${debs[*]} failed"
                # Only this run made the group (it did not exist at the start).
                getent group reactord >/dev/null && groupdel reactord
        fi
        restore_aside
        [ -z "$work" ] || rm -rf "$work"
        if [ $status -ne 0 ] && [ "$n_fail" -eq 0 ]; then
                say "FAIL: interrupted"
                n_fail=1
        fi
        finish
        exit $?
}

# Every file under the trees a package may touch, with its type, mode and
# owner; the account databases (of the shadow files, the names only).
snapshot() {
        find /etc /usr /var/lib /run -xdev \
                \( -path /var/lib/dpkg -o -path /var/lib/apt -o -path /run/user \) -prune -o \
                -printf '%p %y %m %u:%g\n' 2>/dev/null | LC_ALL=C sort
        cat /etc/passwd /etc/group
        cut -d: -f1 /etc/shadow | sed 's/^/shadow: /'
        cut -d: -f1 /etc/gshadow | sed 's/^/gshadow: /'
}

# ---- preconditions --------------------------------------------------------

trap cleanup EXIT
trap 'exit 130' INT TERM

[ "$(id -u)" -eq 0 ] || abort "must run as root (it installs packages)"
for p in "${debs[@]}"; do
        if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -qv 'not-installed'; then
                abort "$p is already installed; remove it first: dpkg --purge ${debs[*]}"
        fi
done
getent group reactord >/dev/null &&
        abort "a group reactord exists without the packages; remove it first: groupdel reactord"
if [ -e "$bus_dir" ]; then
        # A root reactord started by hand leaves its lock file there.
        if [ -e "$bus_dir/bus.lock" ] && ! flock -n "$bus_dir/bus.lock" true; then
                abort "a reactord serves $bus; stop it first"
        fi
fi

missing=()
for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
                missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
        say "Installing: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; } \
                >/dev/null || abort "apt-get install ${missing[*]}"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/reactord-deb-test.XXXXXX")
# nobody runs a program from here; it may enter, not list.
chmod 0711 "$work"
if [ -e "$bus_dir" ]; then
        # Left by an earlier root reactord: kept aside, put back at the end.
        set_aside=$work/run-reactord
        mv "$bus_dir" "$set_aside"
fi
(umask 077 && snapshot >"$work/before")

# ---- build and install ----------------------------------------------------

say "Building the packages (packaging/build-deb.sh, DEB_BUILD_OPTIONS=nocheck)"
if ! DEB_BUILD_OPTIONS="nocheck noautodbgsym parallel=$(nproc)" \
        packaging/build-deb.sh "$work/debs" \
        >"$work/build.log" 2>&1; then
        tail -n 40 "$work/build.log" | sed 's/^/      /'
        abort "packaging/build-deb.sh"
fi
say "PASS: packages built: $(cd "$work/debs" && echo *.deb)"
n_pass=$((n_pass + 1))

installed=true
files=()
for p in "${debs[@]}"; do
        files+=("$work/debs/${p}_"*.deb)
done
if ! dpkg -i "${files[@]}" >"$work/install.log" 2>&1; then
        # Missing dependencies: let apt bring them (they stay after the purge).
        apt-get install -y -q -f >>"$work/install.log" 2>&1
fi
for p in "${debs[@]}"; do
        check "$p is installed" bash -c "dpkg-query -W -f='\${Status}' $p |
                grep -qx 'install ok installed' || { cat '$work/install.log'; false; }"
done

# ---- what the packages hold -----------------------------------------------

version=$(dpkg-query -W -f='${Version}' reactord)
version=${version%-*}
check "reactord --version is $version, from /usr/sbin" \
        bash -c "[ \"\$(command -v reactord)\" = /usr/sbin/reactord ] &&
                 reactord --version | grep -qx 'reactord $version (protocol [0-9]*)'"
check "reactorctl --version is $version, from /usr/bin" \
        bash -c "[ \"\$(command -v reactorctl)\" = /usr/bin/reactorctl ] &&
                 reactorctl --version | grep -qx 'reactorctl $version (protocol [0-9]*)'"
check "system group reactord made (systemd-sysusers)" \
        bash -c 'gid=$(getent group reactord | cut -d: -f3) && [ "$gid" -lt 1000 ]'
check "/etc/reactord/reactord.conf is a conffile" \
        bash -c "dpkg-query -W -f='\${Conffiles}' reactord | grep -q ' /etc/reactord/reactord.conf '"
check "man -w finds reactorctl(1), reactord(8), reactord-protocol(7)" \
        bash -c 'man -w 1 reactorctl && man -w 8 reactord && man -w 7 reactord-protocol'
check "the units' Documentation= file is there" test -f /usr/share/doc/reactord/README.md
system_units=(/lib/systemd/system/reactord.service)
user_units=(/usr/lib/systemd/user/reactord.service)
[ ! -e /lib/systemd/system/reactord.socket ] || system_units+=(/lib/systemd/system/reactord.socket)
[ ! -e /usr/lib/systemd/user/reactord.socket ] || user_units+=(/usr/lib/systemd/user/reactord.socket)
check "systemd-analyze verify ${system_units[*]##*/} (system)" \
        systemd-analyze verify "${system_units[@]}"
mkdir -m 0700 "$work/xdg"
check "systemd-analyze verify ${user_units[*]##*/} (user)" \
        env XDG_RUNTIME_DIR="$work/xdg" systemd-analyze verify --user "${user_units[@]}"
say "      $(systemd-analyze security --offline=true /lib/systemd/system/reactord.service 2>&1 |
        tail -n 1)"
check "python3 imports reactord from /usr/lib/python3/dist-packages" \
        env -u PYTHONPATH -C / /usr/bin/python3 -c \
        'import reactord; assert reactord.__file__.startswith("/usr/lib/python3/dist-packages/")'
cat >"$work/ping.c" <<'EOF'
#include <stdio.h>
#include <reactord/client.h>

int main(void)
{
        rd_client *c;
        int k = rd_client_new(NULL, NULL, &c);

        if (k < 0)
                return fprintf(stderr, "connect: %d\n", k), 1;
        k = rd_client_call(c, "reactor.ping", NULL, 0, NULL);
        rd_client_free(c);
        return k < 0;
}
EOF
check "a C client builds with pkg-config reactord" \
        bash -c "cc -Wall -Werror -o '$work/ping' '$work/ping.c' \$(pkg-config --cflags --libs reactord) &&
                 chmod 0755 '$work/ping'"

# ---- the system bus, served by hand ---------------------------------------

# No systemd as PID 1 here: reactord runs as root on its default endpoint,
# which for root without XDG_RUNTIME_DIR is the system bus.
as_root=(env -C / -u XDG_RUNTIME_DIR -u REACTORD_ENDPOINT -u NOTIFY_SOCKET -u WATCHDOG_USEC)
member=(setpriv --reuid=nobody --regid=nogroup --groups=reactord
        env -C / -u XDG_RUNTIME_DIR REACTORD_ENDPOINT=$bus)
stranger=(setpriv --reuid=nobody --regid=nogroup --clear-groups
          env -C / -u XDG_RUNTIME_DIR REACTORD_ENDPOINT=$bus)

# start_daemon [VAR=VALUE]...: reactord in the background, until its socket is there.
start_daemon() {
        "${as_root[@]}" "$@" /usr/sbin/reactord --log-level info >"$work/reactord.log" 2>&1 &
        daemon_pid=$!
        for _ in $(seq 100); do
                [ -S "$bus_dir/bus" ] && break
                sleep 0.1
        done
}

# stopped WHAT: stop the daemon (not through check: it is this shell's child).
stopped() {
        if stop_daemon; then
                say "PASS: $1"
                n_pass=$((n_pass + 1))
        else
                say "FAIL: $1"
                sed 's/^/      /' "$work/reactord.log"
                n_fail=$((n_fail + 1))
        fi
}

# mode_is PATH "MODE USER:GROUP"
mode_is() {
        [ "$(stat -c '%a %U:%G' "$1")" = "$2" ] || { stat -c '%n is %a %U:%G' "$1"; false; }
}

start_daemon
check "reactord serves $bus" test -S "$bus_dir/bus"
check "$bus_dir (made by reactord) is 0750 root:reactord" mode_is "$bus_dir" "750 root:reactord"
check "$bus_dir/bus is 0660 root:reactord" mode_is "$bus_dir/bus" "660 root:reactord"
check "reactorctl ping as root" "${as_root[@]}" reactorctl ping
check "reactorctl ping as nobody in group reactord" "${member[@]}" reactorctl ping
check "the C client's ping as nobody in group reactord" "${member[@]}" "$work/ping"
check "python3 reactord.Session ping as nobody in group reactord" \
        "${member[@]}" /usr/bin/python3 -c \
        'import reactord, os; s = reactord.Session(os.environ["REACTORD_ENDPOINT"]); s.call("reactor.ping")'
check_not "nobody outside group reactord cannot enter $bus_dir" "${stranger[@]}" ls "$bus_dir"
check_not "reactorctl ping as nobody outside group reactord fails" \
        "${stranger[@]}" reactorctl --timeout 2 ping
stopped "reactord stops on SIGTERM, exit status 0"
check "reactord removed its socket" test ! -e "$bus_dir/bus"

# A directory reactord did not make (here as reactord.socket makes it,
# DirectoryMode=0755) is left alone; the socket is what keeps others out.
rm -rf "$bus_dir"
mkdir -m 0755 "$bus_dir"
start_daemon
check "an existing $bus_dir is left alone (0755 root:root)" mode_is "$bus_dir" "755 root:root"
check "$bus_dir/bus in it is 0660 root:reactord" mode_is "$bus_dir/bus" "660 root:reactord"
check "reactorctl ping as nobody in group reactord there" "${member[@]}" reactorctl ping
check_not "reactorctl ping as nobody outside group reactord fails there" \
        "${stranger[@]}" reactorctl --timeout 2 ping
stopped "reactord stops (existing directory)"

# ---- purge: nothing left --------------------------------------------------

check "dpkg --purge ${debs[*]}" purge
installed=false
check "no reactord package is known to dpkg" \
        bash -c "! dpkg -l ${debs[*]} 2>/dev/null | grep -q '^[a-z][a-z] '"
check "group reactord removed on purge" bash -c '! getent group reactord'
(umask 077 && snapshot >"$work/after")
check "the system is as before (/etc /usr /var/lib /run, accounts)" \
        diff -u "$work/before" "$work/after"
restore_aside
