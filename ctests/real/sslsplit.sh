#!/usr/bin/env bash
# sslsplit, unmodified from Debian, on our library: a TLS man-in-the-middle
# proxy built on OpenSSL bufferevents, one event base per worker thread,
# with libevent's pthread locking turned on (evthread_use_pthreads). It
# forges each upstream certificate with a CA made here and relays the data
# both ways along a static `ssl` route on 127.0.0.1 to a TLS echo server.
# Clients send small messages and 1 MiB payloads, one alone and then six at
# once, check the echoes byte for byte, and check that the certificate they
# got was forged by the test CA for the upstream's name. Then SIGTERM must
# stop sslsplit and its child with status 0. Run by run-loaded, which sets
# LD_PRELOAD or LD_LIBRARY_PATH; the echo server and the clients run
# without them. The argument is sslsplit's path (default: on PATH).
#
# No plain `tcp` route: sslsplit 0.5.5 starts the upstream connection of a
# plain route from its listener thread on a worker thread's base and races
# with that worker; on the real libevent too, some of several concurrent
# connections never relay or the process exits ("readcb called when other
# end not connected").
set -euo pipefail

sslsplit=${1:-sslsplit}

dir=$(mktemp -d)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT

fail() {
	echo "sslsplit test: $*" >&2
	if [[ -f $dir/sslsplit.err ]]; then
		echo "--- sslsplit's output (last lines):" >&2
		tail -n 30 "$dir/sslsplit.err" >&2
	fi
	exit 1
}

# Everything but sslsplit runs without our library.
plain() {
	env -u LD_PRELOAD -u LD_LIBRARY_PATH "$@"
}

# The CA sslsplit signs with, and the upstream server's own certificate.
plain openssl req -x509 -newkey rsa:2048 -nodes -days 2 \
    -subj "/CN=bevrs test CA" -keyout "$dir/ca.key" -out "$dir/ca.pem" \
    2>/dev/null || fail "cannot make the CA"
plain openssl req -x509 -newkey rsa:2048 -nodes -days 2 \
    -subj "/CN=upstream.test" -addext "subjectAltName=DNS:upstream.test" \
    -keyout "$dir/up.key" -out "$dir/up.pem" 2>/dev/null ||
	fail "cannot make the upstream certificate"

cat >"$dir/helper.py" <<'PY'
"""Echo servers, port picking and clients for the sslsplit test."""
import os
import select
import socket
import ssl
import sys
import threading
import time

MIB = 1 << 20


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def echo_server(cert, key):
    """Prints its port, then echoes every TLS connection until killed."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)
    print(ls.getsockname()[1], flush=True)

    def serve(c):
        try:
            c = ctx.wrap_socket(c, server_side=True)
            while True:
                d = c.recv(65536)
                if not d:
                    break
                c.sendall(d)
        except (OSError, ssl.SSLError):
            pass
        finally:
            c.close()

    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def connect(port, ca, up_der):
    """A connection through the proxy; retried while it is starting up."""
    deadline = time.monotonic() + 10
    while True:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            break
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(ca)  # verification fails unless the CA signed
    s = ctx.wrap_socket(s, server_hostname="upstream.test")
    issuer = dict(x[0] for x in s.getpeercert()["issuer"])
    if issuer.get("commonName") != "bevrs test CA":
        raise RuntimeError("issuer is %r" % issuer)
    if s.getpeercert(binary_form=True) == up_der:
        raise RuntimeError("got the upstream's own certificate, not a forged one")
    return s


def recv_exact(s, n):
    got = bytearray()
    while len(got) < n:
        d = s.recv(min(65536, n - len(got)))
        if not d:
            raise RuntimeError("closed after %d of %d bytes" % (len(got), n))
        got += d
    return bytes(got)


def exchange(s, data):
    """Sends data while reading its echo back, in one thread: an SSL
    object must not be read and written from two threads at once."""
    s.setblocking(False)
    busy = (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError)
    sent = 0
    back = bytearray()
    while len(back) < len(data):
        wr = [s] if sent < len(data) else []
        r, w, _ = select.select([s], wr, [], 10)
        if not r and not w:
            raise RuntimeError("stalled after %d of %d bytes echoed"
                               % (len(back), len(data)))
        if w:
            try:
                sent += s.send(data[sent:sent + 16384])
            except busy:
                pass
        while True:
            try:
                d = s.recv(65536)
            except busy:
                break
            if not d:
                raise RuntimeError("closed after %d of %d bytes echoed"
                                   % (len(back), len(data)))
            back += d
    s.setblocking(True)
    if back != data:
        raise RuntimeError("a %d-byte echo differs" % len(data))


def client(port, ca, up_der, n, big, errors):
    try:
        s = connect(port, ca, up_der)
        for i in range(20):
            msg = b"message %d of client %d\n" % (i, n)
            s.sendall(msg)
            if recv_exact(s, len(msg)) != msg:
                raise RuntimeError("message %d came back wrong" % i)
        exchange(s, os.urandom(big))
        exchange(s, bytes(range(256)) * 64)
        s.close()
    except Exception as e:  # reported by the caller, failing the test
        errors.append("client %d: %r" % (n, e))


def clients(port, ca, up):
    with open(up) as f:
        up_der = ssl.PEM_cert_to_DER_cert(f.read())
    errors = []
    # One client alone first, then six at once.
    client(port, ca, up_der, 0, MIB, errors)
    ts = [threading.Thread(target=client,
                           args=(port, ca, up_der, n,
                                 MIB if n % 2 else 100000 + n, errors))
          for n in range(1, 7)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        print("sslsplit test:", "; ".join(errors), file=sys.stderr)
        sys.exit(1)
    print("7 clients, 20 messages and up to 1 MiB each, echoed intact")


if __name__ == "__main__":
    what = sys.argv[1]
    if what == "port":
        print(free_port())
    elif what == "server":
        echo_server(*sys.argv[2:4])
    elif what == "clients":
        clients(int(sys.argv[2]), *sys.argv[3:5])
PY

py() {
	plain python3 "$dir/helper.py" "$@"
}

# The echo server prints its port once it listens.
env -u LD_PRELOAD -u LD_LIBRARY_PATH python3 "$dir/helper.py" server \
    "$dir/up.pem" "$dir/up.key" >"$dir/up.port" &
pids+=($!)
for _ in $(seq 100); do
	[[ -s $dir/up.port ]] && break
	sleep 0.05
done
[[ -s $dir/up.port ]] || fail "the echo server did not start"
up_port=$(cat "$dir/up.port")
ssl_port=$(py port)

# -D keeps it in the foreground with debug output on stderr; -u keeps the
# current user (as root it would switch to nobody).
"$sslsplit" -D -u "$(id -un)" -k "$dir/ca.key" -c "$dir/ca.pem" \
    ssl 127.0.0.1 "$ssl_port" 127.0.0.1 "$up_port" \
    >"$dir/sslsplit.err" 2>&1 &
pid=$!
pids+=("$pid")

# sslsplit forks a privilege-separation child; the debug output names it.
child=
for _ in $(seq 200); do
	child=$(sed -n 's/^Privsep child pid \([0-9]*\)$/\1/p' \
	    "$dir/sslsplit.err" 2>/dev/null || true)
	[[ -n $child ]] && break
	kill -0 "$pid" 2>/dev/null || fail "sslsplit exited at start"
	sleep 0.05
done
[[ -n $child ]] || fail "sslsplit did not start its child"
for p in "$pid" "$child"; do
	maps=$(cat "/proc/$p/maps") || fail "process $p is gone"
	grep -q 'libbufferevent_rs' <<<"$maps" ||
		fail "process $p did not load our library"
	if [[ -z ${LD_PRELOAD:-} ]] &&
	    grep -q '/libevent[-_a-z0-9.]*so' <<<"$maps"; then
		fail "process $p loaded a real libevent"
	fi
done

py clients "$ssl_port" "$dir/ca.pem" "$dir/up.pem" ||
	fail "the clients failed"

# SIGTERM: the event loop's signal event stops the loop; both processes
# must then exit with status 0.
kill -TERM "$pid"
stopped=0
for _ in $(seq 200); do
	if ! kill -0 "$pid" 2>/dev/null; then
		stopped=1
		break
	fi
	sleep 0.05
done
[[ $stopped -eq 1 ]] || fail "sslsplit did not stop on SIGTERM"
rc=0
wait "$pid" || rc=$?
[[ $rc -eq 0 ]] || fail "sslsplit exited with status $rc after SIGTERM"
grep -q "^Child pid $child exited with status 0$" "$dir/sslsplit.err" ||
	fail "sslsplit's child did not exit cleanly"
echo "sslsplit: TLS relayed intact, stopped cleanly"
