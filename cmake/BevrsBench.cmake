# The benchmark programs of bench/ (see the "Benchmarks" section of
# README.md and scripts/bench). Each bench/<name>.c is built once, against
# the reference libevent's headers and library, as <build>/bench/<name>;
# scripts/bench runs that one binary natively, with LD_PRELOAD of our
# library and through <build>/compat, so both sides run the same code.
#
# Benchmarks are never a pass/fail gate. The only tests registered here
# are bench_<name>__smoke (label bench-smoke): one run per program with
# tiny sizes on the reference, which passes when the program checked all
# the data it moved and printed its RESULT line.

if(NOT BEVRS_HAVE_REF)
	message(STATUS "Benchmarks not built: they need the reference "
		"libevent")
	return()
endif()

# Tiny sizes for the smoke runs (well under a second each), by program; a
# program missing here runs without arguments, i.e. at full size. The
# programs exit non-zero, without a RESULT line, on any wrong byte, lost
# message or unexpected event, so the exit status is the check.
set(BEVRS_BENCH_SMOKE_ARGS_sockpair_echo
	pairs=4 size=4096 msgs=20 timeout=5)
set(BEVRS_BENCH_SMOKE_ARGS_tcp_rr conns=4 size=512 reqs=20 timeout=5)
set(BEVRS_BENCH_SMOKE_ARGS_churn total=40 conc=4 timeout=5)
set(BEVRS_BENCH_SMOKE_ARGS_evbuffer_ops op=all n=50)
set(BEVRS_BENCH_SMOKE_ARGS_timers n=2000 spread_ms=5)
set(BEVRS_BENCH_SMOKE_ARGS_idle_memory conns=100 timeout=5)
set(BEVRS_BENCH_SMOKE_ARGS_pair_pingpong pairs=4 size=64 msgs=50 timeout=5)
set(BEVRS_BENCH_SMOKE_ARGS_ratelimit seconds=1 members=4)
set(BEVRS_BENCH_SMOKE_ARGS_tls_echo conns=4 size=4096 msgs=20 timeout=5)

file(GLOB BEVRS_BENCH_SOURCES CONFIGURE_DEPENDS
	${CMAKE_SOURCE_DIR}/bench/*.c)
foreach(src IN LISTS BEVRS_BENCH_SOURCES)
	get_filename_component(name ${src} NAME_WE)
	bevrs_ref_executable(bench_${name} ${src})
	set_target_properties(bench_${name} PROPERTIES
		OUTPUT_NAME ${name}
		RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
	add_test(NAME bench_${name}__smoke
		COMMAND bench_${name} ${BEVRS_BENCH_SMOKE_ARGS_${name}})
	set_tests_properties(bench_${name}__smoke PROPERTIES
		LABELS bench-smoke TIMEOUT 20)
endforeach()
