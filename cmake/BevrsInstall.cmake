# `cmake --install`: headers, our library under its own names and under
# libevent's, and pkg-config files with libevent's names, so that an
# existing build finds us with PKG_CONFIG_PATH=<prefix>/lib/pkgconfig. A
# program linked through those names records our soname,
# libbufferevent_rs.so.0, and loads our library at run time.

include(GNUInstallDirs)

install(DIRECTORY ${CMAKE_SOURCE_DIR}/include/
	DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
	FILES_MATCHING PATTERN "*.h")
install(FILES ${BEVRS_RS_SO} ${BEVRS_RS_A}
	DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(CODE "
	set(dir \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}\")
	foreach(name libbufferevent_rs.so.0 ${BEVRS_COMPAT_NAMES})
		file(CREATE_LINK libbufferevent_rs.so \"\${dir}/\${name}\" SYMBOLIC)
	endforeach()
")

# One .pc file per libevent library name a build may ask for. They find
# the prefix from their own place, so an install can be moved.
file(RELATIVE_PATH BEVRS_PC_UP
	${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig
	${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" BEVRS_PC_UP "${BEVRS_PC_UP}")
foreach(pc libevent libevent_core libevent_extra libevent_openssl
		libevent_pthreads)
	set(BEVRS_PC_NAME ${pc})
	string(REPLACE "lib" "" BEVRS_PC_LIB ${pc})
	set(BEVRS_PC_WHAT "${pc} of libevent 2.1.12")
	configure_file(${CMAKE_SOURCE_DIR}/cmake/pkgconfig/libevent.pc.in
		${CMAKE_BINARY_DIR}/pkgconfig/${pc}.pc @ONLY)
	install(FILES ${CMAKE_BINARY_DIR}/pkgconfig/${pc}.pc
		DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endforeach()

# The install test (label `install`): installs into a scratch prefix, builds
# a small program with `pkg-config --cflags --libs libevent` pointed there,
# and checks that it runs on our library.
add_test(NAME install_pkgconfig
	COMMAND ${CMAKE_SOURCE_DIR}/scripts/install-check ${CMAKE_BINARY_DIR})
set_tests_properties(install_pkgconfig PROPERTIES LABELS install TIMEOUT 120)
