#!/usr/bin/env bash
# memcached, unmodified from Debian, on our library: many keys set and read
# back over a unix socket (so no port is taken), several clients at once.
# Run by run-loaded, which sets LD_PRELOAD or LD_LIBRARY_PATH.
set -euo pipefail

dir=$(mktemp -d)
sock=$dir/memcached.sock
memcached -u "$(id -un)" -s "$sock" -t 2 -c 64 &
pid=$!
cleanup() {
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT

for _ in $(seq 100); do
	[[ -S $sock ]] && break
	sleep 0.05
done
[[ -S $sock ]] || { echo "memcached did not start" >&2; exit 1; }

maps=$(cat "/proc/$pid/maps")
if ! grep -q 'libbufferevent_rs' <<<"$maps"; then
	echo "memcached did not load our library" >&2
	exit 1
fi

# The client has nothing of ours in it: only the server is under test.
env -u LD_PRELOAD -u LD_LIBRARY_PATH python3 - "$sock" <<'PY'
import socket
import sys
import threading

path = sys.argv[1]
errors = []


def client(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    f = s.makefile("rwb")
    try:
        for i in range(300):
            key = b"k%d-%d" % (n, i)
            val = (b"v%d-%d-" % (n, i)) * (1 + i % 40)
            f.write(b"set %s 0 0 %d\r\n%s\r\n" % (key, len(val), val))
            f.flush()
            if f.readline() != b"STORED\r\n":
                raise RuntimeError("set %r failed" % key)
        for i in range(300):
            key = b"k%d-%d" % (n, i)
            val = (b"v%d-%d-" % (n, i)) * (1 + i % 40)
            f.write(b"get %s\r\n" % key)
            f.flush()
            head = f.readline()
            if head != b"VALUE %s 0 %d\r\n" % (key, len(val)):
                raise RuntimeError("get %r: %r" % (key, head))
            if f.read(len(val) + 2) != val + b"\r\n" or f.readline() != b"END\r\n":
                raise RuntimeError("get %r: wrong value" % key)
    except Exception as e:  # reported below, failing the test
        errors.append(str(e))
    finally:
        s.close()


threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
if errors:
    print("memcached test:", errors[0], file=sys.stderr)
    sys.exit(1)
print("memcached: 8 clients x 300 keys set and read back")
PY
