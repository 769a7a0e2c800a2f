# cmake -DDEPFILE=<file.d> -DINCLUDE_DIR=<dir> -DWHAT=<name> -P this
# Fails when the dependency file lists a libevent header from outside
# INCLUDE_DIR (see BevrsDeps.cmake).

include(${CMAKE_CURRENT_LIST_DIR}/BevrsDeps.cmake)
bevrs_check_depfile(${DEPFILE} ${INCLUDE_DIR} ${WHAT})
