# The symbol check (label `symbols`): every public function of libevent
# 2.1.12 in scope is exported by our library (implemented or stubbed), and
# COMPAT.md, the table generated from them, is up to date.
add_test(NAME compat_table
	COMMAND ${CMAKE_SOURCE_DIR}/scripts/gen-compat --check ${BEVRS_RS_SO})
set_tests_properties(compat_table PROPERTIES LABELS symbols TIMEOUT 60)
