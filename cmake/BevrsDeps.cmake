# bevrs_check_depfile(<depfile> <include_dir> <what>): fails with a message
# naming the header when the make-style dependency file lists a libevent
# header (anything under an event2/ folder, or one of the top-level compat
# headers) that is not inside <include_dir>. Used in script mode.

function(bevrs_check_depfile depfile include_dir what)
	if(NOT EXISTS ${depfile})
		message(FATAL_ERROR "${what}: no dependency file ${depfile}")
	endif()
	file(READ ${depfile} deps)
	# One path per list item: drop line continuations, split on blanks.
	string(REPLACE "\\\n" " " deps "${deps}")
	string(REGEX REPLACE "[ \t\r\n]+" ";" deps "${deps}")
	get_filename_component(inc ${include_dir} REALPATH)
	# The top-level compatibility headers of libevent.
	set(top "/(event|evutil|evdns|evhttp|evrpc)\\.h$")
	set(bad)
	foreach(path IN LISTS deps)
		if(path MATCHES ":$" OR path STREQUAL "")
			continue()
		endif()
		if(NOT path MATCHES "/event2/[^/]+$"
		    AND NOT path MATCHES "${top}")
			continue()
		endif()
		get_filename_component(real ${path} REALPATH)
		string(FIND "${real}" "${inc}/" at)
		if(NOT at EQUAL 0)
			list(APPEND bad ${path})
		endif()
	endforeach()
	if(bad)
		list(JOIN bad "\n  " list)
		message(FATAL_ERROR "${what} included libevent headers from "
			"outside ${include_dir}:\n  ${list}\n"
			"Every event2 header of an rs build must come from our "
			"include/ (the header is missing there, or another "
			"header includes it by a path that misses include/).")
	endif()
endfunction()
