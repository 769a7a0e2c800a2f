# Differential tests: one driver program built against the reference and
# against our library, run on the same seeds, transcripts compared by
# scripts/evbuffer-diff. Label: diff.

set(BEVRS_DIFF_SEEDS 200 CACHE STRING
	"How many seeds the evbuffer differential test runs")
set(BEVRS_DIFF_OPS 300 CACHE STRING
	"Operations per seed of the evbuffer differential test")

function(bevrs_add_diff_tests)
	set(src ${CMAKE_SOURCE_DIR}/ctests/diff/evbuffer_diff.c)
	bevrs_rs_executable(evbuffer_diff__rs ${src})
	# One long run of our build under memcheck: shared chunks, kept
	# buffers and file mappings must neither leak nor be misused.
	if(VALGRIND)
		add_test(NAME evbuffer_diff__valgrind
			COMMAND ${VALGRIND} ${BEVRS_VALGRIND_ARGS}
				$<TARGET_FILE:evbuffer_diff__rs> 11 1000)
		set_tests_properties(evbuffer_diff__valgrind PROPERTIES
			LABELS "diff;valgrind" TIMEOUT 600)
	endif()
	if(NOT BEVRS_HAVE_REF)
		return()
	endif()
	bevrs_ref_executable(evbuffer_diff__ref ${src})
	add_test(NAME evbuffer_diff
		COMMAND ${CMAKE_SOURCE_DIR}/scripts/evbuffer-diff
			--ref $<TARGET_FILE:evbuffer_diff__ref>
			--rs $<TARGET_FILE:evbuffer_diff__rs>
			--ops ${BEVRS_DIFF_OPS} 1 ${BEVRS_DIFF_SEEDS})
	set_tests_properties(evbuffer_diff PROPERTIES
		LABELS diff TIMEOUT 300)
endfunction()

set(BEVRS_BEV_DIFF_SEEDS 30 CACHE STRING
	"How many seeds the bufferevent differential test runs")
set(BEVRS_BEV_DIFF_OPS 200 CACHE STRING
	"Operations per seed of the bufferevent differential test")

# The same for bufferevents: pairs, sockets and filters driven by one random
# program (ctests/diff/bev_diff.c), compared by scripts/bev-diff.
function(bevrs_add_bev_diff_tests)
	set(src ${CMAKE_SOURCE_DIR}/ctests/diff/bev_diff.c)
	bevrs_rs_executable(bev_diff__rs ${src})
	if(VALGRIND)
		add_test(NAME bev_diff__valgrind
			COMMAND ${VALGRIND} ${BEVRS_VALGRIND_ARGS}
				$<TARGET_FILE:bev_diff__rs> 7 2000)
		set_tests_properties(bev_diff__valgrind PROPERTIES
			LABELS "diff;valgrind" TIMEOUT 600)
	endif()
	if(NOT BEVRS_HAVE_REF)
		return()
	endif()
	bevrs_ref_executable(bev_diff__ref ${src})
	add_test(NAME bev_diff
		COMMAND ${CMAKE_SOURCE_DIR}/scripts/bev-diff
			--ref $<TARGET_FILE:bev_diff__ref>
			--rs $<TARGET_FILE:bev_diff__rs>
			--ops ${BEVRS_BEV_DIFF_OPS} 1 ${BEVRS_BEV_DIFF_SEEDS})
	set_tests_properties(bev_diff PROPERTIES
		LABELS diff TIMEOUT 300)
endfunction()

bevrs_add_diff_tests()
bevrs_add_bev_diff_tests()
