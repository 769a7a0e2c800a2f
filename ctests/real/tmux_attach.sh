#!/usr/bin/env bash
# tmux, unmodified from Debian, on our library, with a client attached: the
# server and the attaching client both run on our library, the client in a
# pseudo-terminal driven from python. Keys typed on the client's terminal
# reach the pane's shell, whose output shows in capture-pane and on the
# client's terminal; a resize of that terminal (SIGWINCH in the client)
# reaches the server; detach-client makes the client print "[detached" and
# exit with status 0 while the server lives on; then the server is killed.
# Run by run-loaded, which sets LD_PRELOAD or LD_LIBRARY_PATH; python runs
# without them and hands them to the client it starts.
set -euo pipefail

dir=$(mktemp -d)
export TMUX_TMPDIR=$dir
t=(tmux -L bevrs-attach -f /dev/null)
cleanup() {
	"${t[@]}" kill-server 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT

fail() {
	echo "tmux attach test: $*" >&2
	exit 1
}

"${t[@]}" new-session -d -s main -x 80 -y 20 sh
pid=$("${t[@]}" display-message -p '#{pid}')
maps=$(cat "/proc/$pid/maps")
grep -q 'libbufferevent_rs' <<<"$maps" || fail "the server did not load our library"
if [[ -z ${LD_PRELOAD:-} ]] && grep -q '/libevent[-_a-z0-9.]*so' <<<"$maps"; then
	fail "the server loaded a real libevent"
fi

# The environment the client (and the tmux commands python runs) gets.
loaded=(env TMUX_TMPDIR="$dir")
if [[ -n ${LD_PRELOAD:-} ]]; then
	loaded+=(LD_PRELOAD="$LD_PRELOAD")
	mode=preload
else
	loaded+=(LD_LIBRARY_PATH="${LD_LIBRARY_PATH:-}")
	mode=compat
fi

cat >"$dir/attach.py" <<'PY'
"""Attaches a tmux client in a pseudo-terminal and drives it."""
import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time

mode = sys.argv[1]
tmux = sys.argv[2:]  # env ... tmux -L NAME -f /dev/null
screen = bytearray()


def fail(msg):
    print("tmux attach test:", msg, file=sys.stderr)
    sys.exit(1)


def run(*args):
    return subprocess.run(tmux + list(args), check=True, capture_output=True,
                          text=True).stdout


def winsize(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


pid, master = pty.fork()
if pid == 0:
    winsize(0, 30, 100)
    os.environ["TERM"] = "xterm"
    os.execvp(tmux[0], tmux + ["attach-session", "-t", "main"])


def pump(secs):
    """Collects the client's terminal output for up to secs; False at EOF."""
    end = time.monotonic() + secs
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return True
        r, _, _ = select.select([master], [], [], left)
        if r:
            try:
                d = os.read(master, 65536)
            except OSError:  # EIO: the client has gone
                return False
            if not d:
                return False
            screen.extend(d)


def wait_for(pred, what):
    end = time.monotonic() + 10
    while time.monotonic() < end:
        if pred():
            return
        pump(0.05)
    fail("timed out waiting for " + what)


def clients():
    return run("list-clients", "-F", "#{client_pid} #{client_width}x#{client_height}")


wait_for(lambda: clients().strip() != "", "the client to attach")
cpid, size = clients().split()
if int(cpid) != pid:
    fail("the attached client is pid %s, not the one started (%d)" % (cpid, pid))
if size != "100x30":
    fail("the client's size is %s, not 100x30" % size)
maps = open("/proc/%d/maps" % pid).read()
if "libbufferevent_rs" not in maps:
    fail("the client did not load our library")
if mode == "compat" and "/libevent" in maps:
    fail("the client loaded a real libevent")

os.write(master, b"echo typed-$((6*7))\r")
wait_for(lambda: "typed-42" in run("capture-pane", "-t", "main", "-p").split("\n"),
         "the typed command's output in the pane")
wait_for(lambda: b"typed-42\r\n" in screen, "the output on the client's terminal")

winsize(master, 25, 90)
wait_for(lambda: clients().split()[1] == "90x25", "the resize to reach the server")

run("detach-client", "-t", run("list-clients", "-F", "#{client_tty}").split()[0])
end = time.monotonic() + 10
while pump(0.2) and time.monotonic() < end:
    pass
_, status = os.waitpid(pid, 0)
if b"[detached" not in screen:
    fail("no [detached message; the terminal ends with %r" % bytes(screen[-200:]))
if os.waitstatus_to_exitcode(status) != 0:
    fail("the client exited with status %d" % os.waitstatus_to_exitcode(status))
if run("list-sessions", "-F", "#{session_name}").split() != ["main"]:
    fail("the session is gone after the detach")
print("tmux attach: typed, resized and detached; the client exited cleanly")
PY

env -u LD_PRELOAD -u LD_LIBRARY_PATH python3 "$dir/attach.py" "$mode" \
    "${loaded[@]}" "${t[@]}" || fail "the attached client failed"
"${t[@]}" kill-server
trap 'rm -rf "$dir"' EXIT
