/*
 * test_evbuffer_reentry.c: an evbuffer callback that looks at the buffer
 * data is being moved out of, found by the bufferevent differential
 * driver (ctests/diff/bev_diff.c) through a filter that handed the same
 * bytes on twice under 2.1.12.
 */
#include <event2/buffer.h>

#include "check.h"

static struct evbuffer *moved_from;
static size_t src_len_in_cb;

static void
dst_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	(void)buf;
	(void)info;
	(void)arg;
	src_len_in_cb = evbuffer_get_length(moved_from);
}

/*
 * evbuffer_remove_buffer moving part of a chain: 2.1.12 runs the
 * destination's callbacks before it takes the bytes off the source, so a
 * callback that reads the source again (a filter's input callback does)
 * sees them twice and can hand them on twice. We take them off first.
 */
static void
remove_buffer_callback_sees_source_drained(void)
{
	struct evbuffer *dst = evbuffer_new();

	moved_from = evbuffer_new();
	check(dst != NULL && moved_from != NULL);
	CHECK_REF_DIFFERS("2.1.12 calls back with the bytes still in the "
	    "source (duplicates data through filters)");
	check_int(evbuffer_add(moved_from, "abcdef", 6), ==, 0);
	check(evbuffer_add_cb(dst, dst_cb, NULL) != NULL);
	check_int(evbuffer_remove_buffer(moved_from, dst, 3), ==, 3);
	check_int(src_len_in_cb, ==, 3);
	check_int(evbuffer_get_length(moved_from), ==, 3);
	check_int(evbuffer_get_length(dst), ==, 3);
end:
	if (dst)
		evbuffer_free(dst);
	if (moved_from)
		evbuffer_free(moved_from);
}

static const struct check_case cases[] = {
	{ "remove_buffer_callback_sees_source_drained",
	    remove_buffer_callback_sees_source_drained },
	{ NULL, NULL }
};

int
main(int argc, char **argv)
{
	return check_main(cases, argc, argv);
}
