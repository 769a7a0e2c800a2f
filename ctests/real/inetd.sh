#!/usr/bin/env bash
# openbsd-inetd, unmodified from Debian, on our library: libevent's plain
# event API (listening sockets as persistent read events, SIGHUP, SIGCHLD
# and SIGTERM as signal events). A configuration made here runs an echo
# service (/bin/cat) on 127.0.0.1 and on a unix socket, and a daytime
# service (/bin/date) on 127.0.0.1; several clients at once use them, inetd
# forking a server per connection and reaping it on SIGCHLD. Then SIGHUP
# with a changed configuration: the TCP daytime service goes, a unix one
# comes, echo stays. Then SIGTERM must stop inetd with status 0. Run by
# run-loaded, which sets LD_PRELOAD or LD_LIBRARY_PATH; the clients run
# without them. The argument is inetd's path (default: inetd on PATH).
#
# inetd's internal echo and daytime services take their port from
# /etc/services only (a numeric port is refused as an unknown internal
# service), and fixed ports are not for tests: external programs stand in.
set -euo pipefail

inetd=${1:-inetd}

dir=$(mktemp -d)
pid=
cleanup() {
	if [[ -n $pid ]]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$dir"
}
trap cleanup EXIT

fail() {
	echo "inetd test: $*" >&2
	if [[ -f $dir/inetd.err ]]; then
		echo "--- inetd's output (last lines):" >&2
		tail -n 20 "$dir/inetd.err" >&2
	fi
	exit 1
}

cat >"$dir/client.py" <<'PY'
"""Clients for the inetd test: echo and daytime, several at once."""
import socket
import sys
import threading
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def connect(where):
    """A connection to 'PORT' on 127.0.0.1 or to a unix socket path."""
    if where.isdigit():
        return socket.create_connection(("127.0.0.1", int(where)), timeout=10)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(where)
    return s


def read_all(s):
    got = bytearray()
    while True:
        d = s.recv(65536)
        if not d:
            return bytes(got)
        got += d


def echo(where, n, errors):
    try:
        s = connect(where)
        sent = bytearray()
        for i in range(20):
            msg = b"line %d of client %d\n" % (i, n) * (1 + i * 50)
            s.sendall(msg)
            sent += msg
        s.shutdown(socket.SHUT_WR)
        if read_all(s) != bytes(sent):
            raise RuntimeError("the echo differs")
        s.close()
    except Exception as e:  # reported by the caller, failing the test
        errors.append("echo %s client %d: %r" % (where, n, e))


def daytime(where, errors):
    try:
        s = connect(where)
        line = read_all(s)
        s.close()
        year = time.strftime("%Y", time.gmtime()).encode()
        if not line.endswith(b"\n") or year not in line:
            raise RuntimeError("odd daytime %r" % line)
    except Exception as e:
        errors.append("daytime %s: %r" % (where, e))


def refused(where):
    try:
        connect(where).close()
    except (ConnectionRefusedError, FileNotFoundError):
        return True
    return False


def main():
    what = sys.argv[1]
    if what == "port":
        print(free_port())
        return
    if what == "refused":
        sys.exit(0 if refused(sys.argv[2]) else 1)
    # use ECHO... DAYTIME...: all at once
    echoes, days = sys.argv[2].split(","), sys.argv[3].split(",")
    errors = []
    ts = []
    for n in range(8):
        for where in echoes:
            ts.append(threading.Thread(target=echo, args=(where, n, errors)))
    for where in days:
        for _ in range(3):
            ts.append(threading.Thread(target=daytime, args=(where, errors)))
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        print("inetd test:", "; ".join(errors), file=sys.stderr)
        sys.exit(1)
    print("%d clients served" % len(ts))


main()
PY

py() {
	env -u LD_PRELOAD -u LD_LIBRARY_PATH python3 "$dir/client.py" "$@"
}

echo_port=$(py port)
day_port=$(py port)
user=$(id -un)
cat >"$dir/inetd.conf" <<EOF
127.0.0.1:$echo_port stream tcp nowait $user /bin/cat cat
127.0.0.1:$day_port stream tcp nowait $user /bin/date date -u
$dir/echo.sock stream unix nowait $user /bin/cat cat
EOF

# -d: debugging, in the foreground, notes on stderr.
"$inetd" -d "$dir/inetd.conf" >"$dir/inetd.err" 2>&1 &
pid=$!

# Waits until inetd's notes show $1 (a fixed string) $2 times.
wait_note() {
	local want=$2 n
	for _ in $(seq 200); do
		n=$(grep -c -F -- "$1" "$dir/inetd.err" 2>/dev/null || true)
		[[ ${n:-0} -ge $want ]] && return 0
		kill -0 "$pid" 2>/dev/null || fail "inetd exited"
		sleep 0.05
	done
	fail "inetd never noted '$1' $want times"
}
wait_note "ADD: $dir/echo.sock" 1
for _ in $(seq 100); do
	[[ -S $dir/echo.sock ]] && break
	sleep 0.05
done

maps=$(cat "/proc/$pid/maps") || fail "inetd is gone"
grep -q 'libbufferevent_rs' <<<"$maps" || fail "inetd did not load our library"
if [[ -z ${LD_PRELOAD:-} ]] && grep -q '/libevent[-_a-z0-9.]*so' <<<"$maps"; then
	fail "inetd loaded a real libevent"
fi

py use "$echo_port,$dir/echo.sock" "$day_port" || fail "first round failed"

# SIGHUP: inetd reads the configuration again from its signal event.
cat >"$dir/inetd.conf" <<EOF
127.0.0.1:$echo_port stream tcp nowait $user /bin/cat cat
$dir/echo.sock stream unix nowait $user /bin/cat cat
$dir/daytime.sock stream unix nowait $user /bin/date date -u
EOF
kill -HUP "$pid"
wait_note "ADD: $dir/daytime.sock" 1
for _ in $(seq 100); do
	[[ -S $dir/daytime.sock ]] && break
	sleep 0.05
done
py use "$echo_port,$dir/echo.sock" "$dir/daytime.sock" ||
	fail "the round after SIGHUP failed"
py refused "$day_port" || fail "the removed daytime port still answers"

kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=
[[ $rc -eq 0 ]] || fail "inetd exited with status $rc after SIGTERM"
echo "inetd: echo and daytime served before and after SIGHUP, stopped cleanly"
