# Shared by scripts/evbuffer-diff and scripts/bev-diff (sourced): runs a
# differential driver built against libevent 2.1.12 and against our
# library on seeds FIRST..LAST and compares the transcripts, stopping at
# the first difference with the seed and the first differing lines.
#
# The caller sets: name (the driver, ctests/diff/<name>.c), tool (its own
# script name, for messages) and ops (the default operations per seed),
# then calls diff_run "$@".

diff_run() {
	local here build ref rs first last seed usage
	here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
	build="${BUILD_DIR:-$here/build}"
	ref="$build/${name}__ref"
	rs="$build/${name}__rs"
	usage="usage: $tool [--ref BIN] [--rs BIN] [--ops N] FIRST [LAST]"
	while [[ $# -gt 0 ]]; do
		case "$1" in
		--ref) ref="$2"; shift 2 ;;
		--rs) rs="$2"; shift 2 ;;
		--ops) ops="$2"; shift 2 ;;
		-*) echo "$usage" >&2; exit 2 ;;
		*) break ;;
		esac
	done
	# Options come first: one after the seeds would be silently ignored.
	if [[ $# -lt 1 || $# -gt 2 ]]; then
		echo "$usage" >&2
		exit 2
	fi
	first="$1"
	last="${2:-$1}"
	if ! [[ $first =~ ^[0-9]+$ && $last =~ ^[0-9]+$ && $ops =~ ^[0-9]+$ ]] ||
	    ((first > last)); then
		echo "$tool: FIRST and LAST are seeds with FIRST <= LAST, N a count" >&2
		exit 2
	fi
	for b in "$ref" "$rs"; do
		if [[ ! -x "$b" ]]; then
			echo "$tool: $b is not built (run scripts/test)" >&2
			exit 2
		fi
	done
	# Global: the exit trap reads it after this function returned.
	tmp="$(mktemp -d)"
	trap 'rm -rf "$tmp"' EXIT
	for ((seed = first; seed <= last; seed++)); do
		"$ref" "$seed" "$ops" >"$tmp/ref" 2>&1 || {
			echo "seed $seed: reference driver failed ($?)"; exit 1; }
		# Our driver failing is a difference too: its status is part of
		# the transcript.
		"$rs" "$seed" "$ops" >"$tmp/rs" 2>&1 || echo "exit status $?" >>"$tmp/rs"
		if ! cmp -s "$tmp/ref" "$tmp/rs"; then
			echo "seed $seed ($ops ops): transcripts differ (--- ref, +++ ours)"
			diff -u "$tmp/ref" "$tmp/rs" | sed -n '1,40p' || true
			exit 1
		fi
	done
	echo "$tool: seeds $first..$last ($ops ops each) agree"
}
