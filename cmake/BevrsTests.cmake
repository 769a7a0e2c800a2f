# Functions that build C programs against both implementations and register
# their ctest variants. Test names follow libevent's program__variant form.

set(BEVRS_INCLUDE_DIR ${CMAKE_SOURCE_DIR}/include)
set(BEVRS_RUN_LOADED ${CMAKE_SOURCE_DIR}/cmake/run-loaded)
set(BEVRS_VALGRIND_SUPP ${CMAKE_SOURCE_DIR}/cmake/valgrind.supp)
set(BEVRS_HELGRIND_SUPP ${CMAKE_SOURCE_DIR}/cmake/helgrind.supp)
set(BEVRS_VALGRIND_ARGS
	--error-exitcode=1 --leak-check=full
	--errors-for-leak-kinds=definite --show-leak-kinds=definite
	--suppressions=${BEVRS_VALGRIND_SUPP})
# Keeps the slow valgrind runs short (read by ctests/check.h).
set(BEVRS_VALGRIND_ENV CHECK_TIME_SCALE=5 CHECK_SIZE_DIV=16)

# Libraries both variants of a program get besides libevent.
set(BEVRS_EXTRA_LIBS Threads::Threads)
if(OPENSSL_FOUND)
	list(APPEND BEVRS_EXTRA_LIBS OpenSSL::SSL OpenSSL::Crypto)
endif()

# Makes an rs build of <target> (compiled from <src>) fail before it links
# if any libevent header it used came from outside include/. The compiler
# writes the full dependency list (-M keeps system headers, unlike -MM) with
# the target's own flags; cmake/check_headers.cmake then reads it.
function(bevrs_check_rs_headers target src)
	set(depfile ${CMAKE_BINARY_DIR}/hdeps/${target}.d)
	get_target_property(dirs ${target} INCLUDE_DIRECTORIES)
	set(iflags)
	foreach(d IN LISTS dirs)
		list(APPEND iflags -I${d})
	endforeach()
	add_custom_command(TARGET ${target} PRE_LINK
		COMMAND ${CMAKE_COMMAND} -E make_directory
			${CMAKE_BINARY_DIR}/hdeps
		COMMAND ${CMAKE_C_COMPILER} ${BEVRS_C_FLAGS} ${iflags}
			-M -MF ${depfile} ${src}
		COMMAND ${CMAKE_COMMAND} -DDEPFILE=${depfile}
			-DINCLUDE_DIR=${BEVRS_INCLUDE_DIR} -DWHAT=${target}
			-P ${CMAKE_SOURCE_DIR}/cmake/check_headers.cmake
		COMMENT "Checking that ${target} used only include/event2"
		VERBATIM)
endfunction()

# The rs build of a C program: our include/ only, linked to our .so (the
# build rpath points at <build>/lib).
function(bevrs_rs_executable target src)
	add_executable(${target} ${src})
	target_compile_options(${target} PRIVATE ${BEVRS_C_FLAGS})
	target_include_directories(${target} PRIVATE
		${BEVRS_INCLUDE_DIR} ${CMAKE_SOURCE_DIR}/ctests)
	target_link_libraries(${target} PRIVATE bufferevent_rs
		${BEVRS_EXTRA_LIBS})
	bevrs_check_rs_headers(${target} ${src})
endfunction()

# The ref build: the reference's headers and libraries from pkg-config.
function(bevrs_ref_executable target src)
	add_executable(${target} ${src})
	target_compile_options(${target} PRIVATE ${BEVRS_C_FLAGS})
	target_include_directories(${target} PRIVATE ${CMAKE_SOURCE_DIR}/ctests)
	target_link_libraries(${target} PRIVATE PkgConfig::BEVRS_REF
		${BEVRS_EXTRA_LIBS})
endfunction()

# Registers a reference-built program to run on our library, twice:
#   <name>__preload   LD_PRELOAD=<our .so>
#   <name>__compat    LD_LIBRARY_PATH=<build>/compat (no real libevent)
# cmake/run-loaded first asks the loader which objects it maps and fails
# unless ours is among them (and, for compat, no real libevent is), then
# runs the command with CHECK_EXPECT_RS=1 in its environment.
#
#   bevrs_add_loaded_tests(<name> [CHECK <binary>...] COMMAND <cmd> <args>...
#       [LABELS <label>...])
# CHECK names the binaries whose loading is verified (default: the first
# word of COMMAND, which must then be an ELF program).
function(bevrs_add_loaded_tests name)
	cmake_parse_arguments(PARSE_ARGV 1 arg "" "" "CHECK;COMMAND;LABELS")
	if(NOT BEVRS_HAVE_REF)
		return()
	endif()
	if(NOT arg_CHECK)
		list(GET arg_COMMAND 0 arg_CHECK)
	endif()
	set(checks)
	foreach(c IN LISTS arg_CHECK)
		list(APPEND checks --check ${c})
	endforeach()
	foreach(mode preload compat)
		add_test(NAME ${name}__${mode}
			COMMAND ${BEVRS_RUN_LOADED} ${mode} ${BEVRS_RS_SO}
				${BEVRS_COMPAT_DIR} ${checks} -- ${arg_COMMAND})
		set_tests_properties(${name}__${mode} PROPERTIES
			LABELS "${mode};${arg_LABELS}" TIMEOUT 120)
	endforeach()
endfunction()

# One ctests/test_*.c: <name>__ref, <name>__rs, <name>__valgrind, and the
# reference build run on ours as <name>__preload and <name>__compat.
function(bevrs_add_ctest name src)
	bevrs_rs_executable(${name}__rs ${src})
	# The compression filter tests deflate and inflate with the system zlib.
	set(zlib)
	if(name MATCHES "^test_filter_zlib")
		set(zlib z)
		target_link_libraries(${name}__rs PRIVATE z)
	endif()
	add_test(NAME ${name}__rs COMMAND ${name}__rs)
	set_tests_properties(${name}__rs PROPERTIES LABELS rs TIMEOUT 60)

	if(VALGRIND)
		add_test(NAME ${name}__valgrind
			COMMAND ${VALGRIND} ${BEVRS_VALGRIND_ARGS}
				$<TARGET_FILE:${name}__rs>)
		set_tests_properties(${name}__valgrind PROPERTIES
			LABELS valgrind TIMEOUT 600
			ENVIRONMENT "${BEVRS_VALGRIND_ENV}")
	endif()

	# Programs that share objects between threads also run under helgrind,
	# which must report no data race (label helgrind).
	if(VALGRIND AND name MATCHES "^test_thread")
		add_test(NAME ${name}__helgrind
			COMMAND ${VALGRIND} --tool=helgrind --error-exitcode=1
				--suppressions=${BEVRS_HELGRIND_SUPP}
				$<TARGET_FILE:${name}__rs>)
		set_tests_properties(${name}__helgrind PROPERTIES
			LABELS helgrind TIMEOUT 600
			ENVIRONMENT "${BEVRS_VALGRIND_ENV}")
	endif()

	if(BEVRS_HAVE_REF)
		bevrs_ref_executable(${name}__ref ${src})
		target_link_libraries(${name}__ref PRIVATE ${zlib})
		add_test(NAME ${name}__ref COMMAND ${name}__ref)
		# 77: a deliberate difference, skipped on the reference only
		# (DESIGN.md section 3). On every other variant 77 fails.
		set_tests_properties(${name}__ref PROPERTIES
			LABELS ref TIMEOUT 60 SKIP_RETURN_CODE 77)
		bevrs_add_loaded_tests(${name}
			COMMAND $<TARGET_FILE:${name}__ref>)
	endif()
endfunction()

# One examples/<name>.c: example_<name> (ours) as <build>/examples/<name>
# and example_<name>__ref as <build>/examples/ref/<name>.
function(bevrs_add_example name src)
	bevrs_rs_executable(example_${name} ${src})
	set_target_properties(example_${name} PROPERTIES
		OUTPUT_NAME ${name}
		RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/examples)
	if(BEVRS_HAVE_REF)
		bevrs_ref_executable(example_${name}__ref ${src})
		set_target_properties(example_${name}__ref PROPERTIES
			OUTPUT_NAME ${name}
			RUNTIME_OUTPUT_DIRECTORY
				${CMAKE_BINARY_DIR}/examples/ref)
	endif()
endfunction()

# The echo round trip of scripts/echo-run (the demo's workload) on every
# implementation: echo__rs, echo__ref, echo__preload, echo__compat.
# BEVRS_ECHO_ARGS is what follows the two program paths on echo-run's
# command line; scripts/demo uses the same defaults.
set(BEVRS_ECHO_ARGS 16 1048576 CACHE STRING
	"Connections and bytes per connection of the echo tests")
function(bevrs_add_echo_tests)
	set(run ${CMAKE_SOURCE_DIR}/scripts/echo-run)
	add_test(NAME echo__rs COMMAND ${run}
		$<TARGET_FILE:example_echo_server>
		$<TARGET_FILE:example_echo_client> ${BEVRS_ECHO_ARGS})
	set_tests_properties(echo__rs PROPERTIES LABELS "rs;echo" TIMEOUT 120)
	if(BEVRS_HAVE_REF)
		set(server $<TARGET_FILE:example_echo_server__ref>)
		set(client $<TARGET_FILE:example_echo_client__ref>)
		add_test(NAME echo__ref COMMAND ${run} ${server} ${client}
			${BEVRS_ECHO_ARGS})
		set_tests_properties(echo__ref PROPERTIES
			LABELS "ref;echo" TIMEOUT 120)
		bevrs_add_loaded_tests(echo CHECK ${server} ${client}
			COMMAND ${run} ${server} ${client} ${BEVRS_ECHO_ARGS}
			LABELS echo)
	endif()
endfunction()

# Every header under include/ compiled alone, one test per language mode.
# The script globs when the test runs, so headers added after configure are
# checked too, and an empty include/ passes.
function(bevrs_add_header_tests)
	set(work ${CMAKE_BINARY_DIR}/header-check)
	set(script ${CMAKE_SOURCE_DIR}/cmake/check_header_alone.cmake)
	foreach(std c99 c11 c++11 c++17)
		if(std MATCHES "^c\\+\\+")
			set(compiler ${CMAKE_CXX_COMPILER})
		else()
			set(compiler ${CMAKE_C_COMPILER})
		endif()
		add_test(NAME headers__${std}
			COMMAND ${CMAKE_COMMAND}
				-DCOMPILER=${compiler} -DSTD=${std}
				-DINCLUDE_DIR=${BEVRS_INCLUDE_DIR}
				-DWORK_DIR=${work}/${std}
				-P ${script})
		set_tests_properties(headers__${std} PROPERTIES
			LABELS headers TIMEOUT 300)
	endforeach()
endfunction()

# cargo test --release, so that one ctest run covers the Rust tests too.
function(bevrs_add_cargo_test)
	add_test(NAME cargo_test
		COMMAND ${CMAKE_COMMAND} -E env
			CARGO_TARGET_DIR=${BEVRS_CARGO_DIR}
			${CARGO} test --release
		WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
	# High cost: ctest starts the longest test first.
	set_tests_properties(cargo_test PROPERTIES
		LABELS cargo TIMEOUT 3600 COST 1000)
endfunction()
