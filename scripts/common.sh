# Shared by scripts/test and scripts/demo (sourced, not run): finds the
# repository, checks the build dependencies, installs them when run as root,
# and configures and builds the CMake tree.

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$root/build}

# Debian packages the build and the tests need besides the Rust toolchain.
# tmux, memcached, sslsplit and openbsd-inetd are the real programs the
# tests run on our library (ctests/real/).
# zlib1g-dev: the compression filter tests (ctests/test_filter_zlib*.c).
# openssl: the command-line program, the real TLS peer of
# ctests/test_ssl_peers.c (s_server and s_client).
deps_packages=(build-essential cmake pkg-config libevent-dev libssl-dev
	valgrind tmux memcached sslsplit openbsd-inetd python3 zlib1g-dev
	openssl)

# Prints what is missing, one word per item; nothing when all is there.
deps_missing() {
	local cmd
	for cmd in cmake pkg-config valgrind cc c++ make tmux memcached python3 \
	    openssl sslsplit; do
		command -v "$cmd" >/dev/null 2>&1 || echo "$cmd"
	done
	# In /usr/sbin, which a user's PATH may lack.
	[[ -x /usr/sbin/inetd ]] || echo openbsd-inetd
	if command -v pkg-config >/dev/null 2>&1; then
		pkg-config --exists libevent libevent_core libevent_pthreads \
		    libevent_openssl || echo libevent-dev
		pkg-config --exists openssl || echo libssl-dev
		pkg-config --exists zlib || echo zlib1g-dev
	fi
}

deps_ensure() {
	local missing
	missing=$(deps_missing | tr '\n' ' ' | sed 's/ $//')
	if [[ -n $missing ]]; then
		local cmd="apt-get -q update && apt-get -q -y install"
		cmd+=" ${deps_packages[*]}"
		if [[ $(id -u) -ne 0 ]]; then
			echo "missing: $missing" >&2
			echo "install them as root with:" >&2
			echo "  $cmd" >&2
			exit 1
		fi
		echo "missing: $missing; installing: ${deps_packages[*]}"
		export DEBIAN_FRONTEND=noninteractive
		apt-get -q update
		apt-get -q -y install "${deps_packages[@]}"
	fi
	if ! command -v cargo >/dev/null 2>&1 &&
	    [[ -x $HOME/.cargo/bin/cargo ]]; then
		PATH=$HOME/.cargo/bin:$PATH
	fi
	if ! command -v cargo >/dev/null 2>&1; then
		echo "cargo not found: install the Rust toolchain" \
		    "(https://rustup.rs) first" >&2
		exit 1
	fi
}

# Configures (first time) and builds everything it can. Returns the build's
# status; with make -k, one target that fails (an rs test that does not
# link yet) does not stop the others.
build_all() {
	local keep=(-k)
	cmake -S "$root" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Debug >/dev/null
	[[ -f $BUILD_DIR/build.ninja ]] && keep=(-k 0)
	cmake --build "$BUILD_DIR" -j2 -- "${keep[@]}"
}
