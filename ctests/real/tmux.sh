#!/usr/bin/env bash
# tmux, unmodified from Debian, on our library: a server with a session
# running a shell, a command typed with send-keys, its output read back with
# capture-pane, then the server killed. The pane output travels through a
# bufferevent on the pty, and tmux reads bev->input directly. Run by
# run-loaded, which sets LD_PRELOAD or LD_LIBRARY_PATH.
set -euo pipefail

dir=$(mktemp -d)
export TMUX_TMPDIR=$dir
t=(tmux -L bevrs-test -f /dev/null)
cleanup() {
	"${t[@]}" kill-server 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT

fail() {
	echo "tmux test: $*" >&2
	exit 1
}

"${t[@]}" new-session -d -s main -x 80 -y 20 sh
"${t[@]}" send-keys -t main 'echo pane-says-$((6*7))' Enter
out=
for _ in $(seq 100); do
	out=$("${t[@]}" capture-pane -t main -p)
	if grep -q 'pane-says-42$' <<<"$out"; then
		break
	fi
	sleep 0.05
done
grep -q 'pane-says-42$' <<<"$out" || fail "the command's output never showed: $out"

# The server must be running on our library (and, through the compat
# folder, on nothing else).
pid=$("${t[@]}" display-message -p '#{pid}')
maps=$(cat "/proc/$pid/maps")
grep -q 'libbufferevent_rs' <<<"$maps" || fail "the server did not load our library"
if [[ -z ${LD_PRELOAD:-} ]] && grep -q '/libevent[-_a-z0-9.]*so' <<<"$maps"; then
	fail "the server loaded a real libevent"
fi

# A second window and a resize exercise more of the server.
"${t[@]}" new-window -t main sh
"${t[@]}" resize-window -t main -x 100 -y 30
[[ $("${t[@]}" list-windows -t main | wc -l) -eq 2 ]] || fail "second window missing"
"${t[@]}" kill-server
trap 'rm -rf "$dir"' EXIT
echo "tmux: pane output seen, windows made, server killed cleanly"
