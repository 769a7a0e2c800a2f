# Real programs from Debian that link libevent, run unmodified on our
# library through LD_PRELOAD and through the compatibility folder (label
# `real`). Each script in ctests/real/ drives one program and checks that
# the process really loaded our library.

foreach(prog tmux memcached)
	find_program(BEVRS_${prog}_PATH ${prog})
	if(BEVRS_${prog}_PATH)
		bevrs_add_loaded_tests(real_${prog}
			CHECK ${BEVRS_${prog}_PATH}
			COMMAND ${CMAKE_SOURCE_DIR}/ctests/real/${prog}.sh
			LABELS real)
	else()
		message(STATUS "${prog} not found: its real-program tests are not registered")
	endif()
endforeach()
