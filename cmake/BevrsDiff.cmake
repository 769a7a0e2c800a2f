# Differential tests: a driver program built against the reference and
# against our library, run on the same seeds, transcripts compared by its
# script. Label: diff. One for evbuffers (ctests/diff/evbuffer_diff.c,
# scripts/evbuffer-diff) and one for bufferevents over pairs, sockets and
# filters (ctests/diff/bev_diff.c, scripts/bev-diff).

set(BEVRS_DIFF_SEEDS 200 CACHE STRING
	"How many seeds the evbuffer differential test runs")
set(BEVRS_DIFF_OPS 300 CACHE STRING
	"Operations per seed of the evbuffer differential test")
set(BEVRS_BEV_DIFF_SEEDS 30 CACHE STRING
	"How many seeds the bufferevent differential test runs")
set(BEVRS_BEV_DIFF_OPS 200 CACHE STRING
	"Operations per seed of the bufferevent differential test")

# <name>__rs and <name>__ref from ctests/diff/<name>.c; <name> compares
# them over seeds 1..<seeds> with <ops> operations each, through
# scripts/<script>; <name>__valgrind runs our build alone under memcheck
# for one long seed (<vg_seed>, <vg_ops> operations): shared chunks, kept
# buffers, file mappings and freed bufferevents must neither leak nor be
# misused.
function(bevrs_add_diff name script seeds ops vg_seed vg_ops)
	set(src ${CMAKE_SOURCE_DIR}/ctests/diff/${name}.c)
	bevrs_rs_executable(${name}__rs ${src})
	if(VALGRIND)
		add_test(NAME ${name}__valgrind
			COMMAND ${VALGRIND} ${BEVRS_VALGRIND_ARGS}
				$<TARGET_FILE:${name}__rs> ${vg_seed} ${vg_ops})
		set_tests_properties(${name}__valgrind PROPERTIES
			LABELS "diff;valgrind" TIMEOUT 600)
	endif()
	if(NOT BEVRS_HAVE_REF)
		return()
	endif()
	bevrs_ref_executable(${name}__ref ${src})
	add_test(NAME ${name}
		COMMAND ${CMAKE_SOURCE_DIR}/scripts/${script}
			--ref $<TARGET_FILE:${name}__ref>
			--rs $<TARGET_FILE:${name}__rs>
			--ops ${ops} 1 ${seeds})
	set_tests_properties(${name} PROPERTIES LABELS diff TIMEOUT 300)
endfunction()

bevrs_add_diff(evbuffer_diff evbuffer-diff
	${BEVRS_DIFF_SEEDS} ${BEVRS_DIFF_OPS} 11 1000)
bevrs_add_diff(bev_diff bev-diff
	${BEVRS_BEV_DIFF_SEEDS} ${BEVRS_BEV_DIFF_OPS} 7 2000)
