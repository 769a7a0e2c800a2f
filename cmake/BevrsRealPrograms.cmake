# Real programs from Debian that link libevent, run unmodified on our
# library through LD_PRELOAD and through the compatibility folder (label
# `real`). Each script in ctests/real/ drives one program, given its path,
# and checks that the program's processes really loaded our library.

# Each entry: test name, program, script in ctests/real/.
set(BEVRS_REAL_PROGRAMS
	"tmux tmux tmux.sh"
	"tmux_attach tmux tmux_attach.sh"
	"memcached memcached memcached.sh"
	"sslsplit sslsplit sslsplit.sh"
	"inetd inetd inetd.sh")

foreach(entry IN LISTS BEVRS_REAL_PROGRAMS)
	separate_arguments(entry)
	list(GET entry 0 name)
	list(GET entry 1 prog)
	list(GET entry 2 script)
	# inetd lives in /usr/sbin, which a user's PATH may lack.
	find_program(BEVRS_${prog}_PATH ${prog} PATHS /usr/sbin /sbin)
	if(BEVRS_${prog}_PATH)
		bevrs_add_loaded_tests(real_${name}
			CHECK ${BEVRS_${prog}_PATH}
			COMMAND ${CMAKE_SOURCE_DIR}/ctests/real/${script}
				${BEVRS_${prog}_PATH}
			LABELS real)
	else()
		message(STATUS "${prog} not found: real_${name} is not registered")
	endif()
endforeach()
