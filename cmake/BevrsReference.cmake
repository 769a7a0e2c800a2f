# Finds the reference libevent 2.1.12 with pkg-config. Without it only the
# rs half of the tests is built, and configure says so.

find_package(PkgConfig)
set(BEVRS_HAVE_REF OFF)
if(PKG_CONFIG_FOUND)
	pkg_check_modules(BEVRS_REF IMPORTED_TARGET
		libevent libevent_core libevent_pthreads libevent_openssl)
	if(BEVRS_REF_FOUND)
		set(BEVRS_HAVE_REF ON)
	endif()
endif()

if(BEVRS_HAVE_REF)
	message(STATUS "Reference libevent ${BEVRS_REF_libevent_VERSION}: "
		"building the ref, preload and compat tests")
	if(NOT BEVRS_REF_libevent_VERSION STREQUAL "2.1.12-stable")
		message(WARNING "The contract is libevent 2.1.12-stable; the "
			"reference found is ${BEVRS_REF_libevent_VERSION}")
	endif()
else()
	message(WARNING "Reference libevent not found with pkg-config "
		"(libevent, libevent_core, libevent_pthreads, "
		"libevent_openssl): "
		"building only the rs half of the tests. On Debian: "
		"apt-get install libevent-dev pkg-config")
endif()
