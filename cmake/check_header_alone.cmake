# cmake -DCOMPILER=<cc or c++> -DSTD=<c99|c11|c++11|c++17>
#       -DINCLUDE_DIR=<include/> -DWORK_DIR=<scratch dir> -P this
#
# Compiles every include/event2/*.h and include/*.h alone, in one language
# mode, with warnings as errors, and checks that whatever libevent header it
# pulls in comes from INCLUDE_DIR too. No headers at all is a pass.

include(${CMAKE_CURRENT_LIST_DIR}/BevrsDeps.cmake)

file(GLOB headers ${INCLUDE_DIR}/event2/*.h ${INCLUDE_DIR}/*.h)
list(SORT headers)
if(NOT headers)
	message(STATUS "${STD}: no headers under ${INCLUDE_DIR} yet")
	return()
endif()

if(STD MATCHES "^c\\+\\+")
	set(ext cpp)
else()
	set(ext c)
endif()
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

set(failed)
foreach(h IN LISTS headers)
	file(RELATIVE_PATH rel ${INCLUDE_DIR} ${h})
	string(MAKE_C_IDENTIFIER ${rel} id)
	set(src ${WORK_DIR}/${id}.${ext})
	# The header first, then one declaration so that ISO C never sees an
	# empty translation unit.
	file(WRITE ${src} "#include <${rel}>\nint bevrs_header_check_${id};\n")
	execute_process(
		COMMAND ${COMPILER} -std=${STD} -Wall -Wextra -Wpedantic -Werror
			-I${INCLUDE_DIR} -c ${src} -o ${WORK_DIR}/${id}.o
			-MD -MF ${WORK_DIR}/${id}.d
		RESULT_VARIABLE rc
		OUTPUT_VARIABLE out
		ERROR_VARIABLE out)
	if(NOT rc EQUAL 0)
		message("FAIL ${rel} (${STD}):\n${out}")
		list(APPEND failed ${rel})
		continue()
	endif()
	bevrs_check_depfile(${WORK_DIR}/${id}.d ${INCLUDE_DIR}
		"${rel} (${STD})")
	message("ok ${rel} (${STD})")
endforeach()

if(failed)
	list(JOIN failed " " list)
	message(FATAL_ERROR
		"${STD}: headers that do not compile alone: ${list}")
endif()
