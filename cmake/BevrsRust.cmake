# Builds the Rust library with cargo and exposes it as the imported target
# bufferevent_rs, plus the folders of names programs load it by.
#
#   <build>/cargo/release/libbufferevent_rs.{so,a}   cargo's output
#   <build>/lib/libbufferevent_rs.so{,.0}             what our tests link to
#   <build>/compat/libevent*.so*                      libevent's names

find_program(CARGO cargo HINTS $ENV{HOME}/.cargo/bin REQUIRED)

set(BEVRS_CARGO_DIR ${CMAKE_BINARY_DIR}/cargo)
set(BEVRS_RS_SO ${BEVRS_CARGO_DIR}/release/libbufferevent_rs.so)
set(BEVRS_RS_A ${BEVRS_CARGO_DIR}/release/libbufferevent_rs.a)
set(BEVRS_LIB_DIR ${CMAKE_BINARY_DIR}/lib)
set(BEVRS_COMPAT_DIR ${CMAKE_BINARY_DIR}/compat)

# A custom target is always out of date, so cargo runs on every build and
# decides itself (incrementally) whether anything changed. BYPRODUCTS tells
# the generator which files it refreshes.
add_custom_target(cargo_build ALL
	COMMAND ${CMAKE_COMMAND} -E env CARGO_TARGET_DIR=${BEVRS_CARGO_DIR}
		${CARGO} build --release
	WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}
	BYPRODUCTS ${BEVRS_RS_SO} ${BEVRS_RS_A}
	COMMENT "cargo build --release"
	USES_TERMINAL)

# cargo names the file libbufferevent_rs.so while its DT_SONAME says
# libbufferevent_rs.so.0, so a linked program looks for the latter at run
# time. lib/ holds both names; tests link there and get it as their rpath.
# The links are made at configure time and dangle until cargo has run.
file(MAKE_DIRECTORY ${BEVRS_LIB_DIR} ${BEVRS_COMPAT_DIR})
foreach(link libbufferevent_rs.so libbufferevent_rs.so.0)
	file(CREATE_LINK ../cargo/release/libbufferevent_rs.so
		${BEVRS_LIB_DIR}/${link} SYMBOLIC)
endforeach()

# libevent's names (versioned sonames and unversioned link names), all
# pointing at the one file: the loader identifies a library by its inode,
# so a program that needs two of these names still loads one copy.
set(BEVRS_COMPAT_NAMES
	libevent-2.1.so.7 libevent_core-2.1.so.7 libevent_extra-2.1.so.7
	libevent_openssl-2.1.so.7 libevent_pthreads-2.1.so.7
	libevent.so libevent_core.so libevent_extra.so
	libevent_openssl.so libevent_pthreads.so)
foreach(link IN LISTS BEVRS_COMPAT_NAMES)
	file(CREATE_LINK ../cargo/release/libbufferevent_rs.so
		${BEVRS_COMPAT_DIR}/${link} SYMBOLIC)
endforeach()

add_library(bufferevent_rs SHARED IMPORTED GLOBAL)
set_target_properties(bufferevent_rs PROPERTIES
	IMPORTED_LOCATION ${BEVRS_LIB_DIR}/libbufferevent_rs.so
	IMPORTED_SONAME libbufferevent_rs.so.0)
add_dependencies(bufferevent_rs cargo_build)
