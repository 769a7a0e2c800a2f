/*
 * test_evbuffer_defer.c: evbuffer_defer_callbacks (BUF-24, BUF-39). After
 * it, a buffer's callbacks run from the loop, once for a batch of changes,
 * with the counts added up since they last ran; a buffer freed before they
 * ran stays allocated for them.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "check.h"

struct seen {
	int calls;
	size_t orig, added, deleted, len_then;
};

static void
record(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct seen *s = arg;

	s->calls++;
	s->orig = info->orig_size;
	s->added = info->n_added;
	s->deleted = info->n_deleted;
	s->len_then = evbuffer_get_length(buf);
}

static void
batch_runs_once_from_loop(void)
{
	struct event_base *base = event_base_new();
	struct evbuffer *buf = evbuffer_new();
	struct seen s;

	memset(&s, 0, sizeof(s));
	check(base && buf);
	check_int(evbuffer_add(buf, "0123", 4), ==, 0);
	check(evbuffer_add_cb(buf, record, &s) != NULL);
	check_int(evbuffer_defer_callbacks(buf, base), ==, 0);
	check_int(evbuffer_add(buf, "abc", 3), ==, 0);
	check_int(evbuffer_add(buf, "defg", 4), ==, 0);
	check_int(evbuffer_drain(buf, 2), ==, 0);
	check_int(s.calls, ==, 0);
	check_int(event_base_loop(base, EVLOOP_NONBLOCK), >=, 0);
	check_int(s.calls, ==, 1);
	check_int(s.orig, ==, 4);
	check_int(s.added, ==, 7);
	check_int(s.deleted, ==, 2);
	check_int(s.len_then, ==, 9);
	/* Nothing changed since: the next pass calls nothing. */
	check_int(event_base_loop(base, EVLOOP_NONBLOCK), >=, 0);
	check_int(s.calls, ==, 1);
	/* A new batch gets its own report. */
	check_int(evbuffer_drain(buf, 9), ==, 0);
	check_int(event_base_loop(base, EVLOOP_NONBLOCK), >=, 0);
	check_int(s.calls, ==, 2);
	check_int(s.orig, ==, 9);
	check_int(s.added, ==, 0);
	check_int(s.deleted, ==, 9);
end:
	if (buf)
		evbuffer_free(buf);
	if (base)
		event_base_free(base);
}

static void
disabled_callback_is_skipped(void)
{
	struct event_base *base = event_base_new();
	struct evbuffer *buf = evbuffer_new();
	struct evbuffer_cb_entry *e1, *e2;
	struct seen s1, s2;

	memset(&s1, 0, sizeof(s1));
	memset(&s2, 0, sizeof(s2));
	check(base && buf);
	e1 = evbuffer_add_cb(buf, record, &s1);
	e2 = evbuffer_add_cb(buf, record, &s2);
	check(e1 && e2);
	check_int(evbuffer_defer_callbacks(buf, base), ==, 0);
	check_int(evbuffer_cb_clear_flags(buf, e2, EVBUFFER_CB_ENABLED), ==, 0);
	check_int(evbuffer_add(buf, "xy", 2), ==, 0);
	check_int(event_base_loop(base, EVLOOP_NONBLOCK), >=, 0);
	check_int(s1.calls, ==, 1);
	check_int(s2.calls, ==, 0);
	check_int(s1.added, ==, 2);
end:
	if (buf)
		evbuffer_free(buf);
	if (base)
		event_base_free(base);
}

/* BUF-39: freed with a report pending, the buffer lives until the report
 * has been made (valgrind checks that nothing is used after its release
 * and that nothing leaks). */
static void
free_before_loop_keeps_buffer(void)
{
	struct event_base *base = event_base_new();
	struct evbuffer *buf = evbuffer_new();
	struct seen s;

	memset(&s, 0, sizeof(s));
	check(base && buf);
	check(evbuffer_add_cb(buf, record, &s) != NULL);
	check_int(evbuffer_defer_callbacks(buf, base), ==, 0);
	check_int(evbuffer_add(buf, "hello", 5), ==, 0);
	evbuffer_free(buf);
	buf = NULL;
	check_int(s.calls, ==, 0);
	check_int(event_base_loop(base, EVLOOP_NONBLOCK), >=, 0);
	check_int(s.calls, ==, 1);
	check_int(s.added, ==, 5);
	check_int(s.len_then, ==, 5);
end:
	if (buf)
		evbuffer_free(buf);
	if (base)
		event_base_free(base);
}

/* A callback run from the loop may change the buffer: that change is the
 * next batch, reported on a later pass. */
static void
drain_once(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct seen *s = arg;

	record(buf, info, arg);
	if (s->calls == 1)
		evbuffer_drain(buf, 1);
}

static void
change_from_deferred(void)
{
	struct event_base *base = event_base_new();
	struct evbuffer *buf = evbuffer_new();
	struct seen s;

	memset(&s, 0, sizeof(s));
	check(base && buf);
	check(evbuffer_add_cb(buf, drain_once, &s) != NULL);
	check_int(evbuffer_defer_callbacks(buf, base), ==, 0);
	check_int(evbuffer_add(buf, "abc", 3), ==, 0);
	check_int(event_base_loop(base, EVLOOP_NONBLOCK), >=, 0);
	check_int(event_base_loop(base, EVLOOP_NONBLOCK), >=, 0);
	check_int(s.calls, ==, 2);
	check_int(s.orig, ==, 3);
	check_int(s.added, ==, 0);
	check_int(s.deleted, ==, 1);
	check_int(evbuffer_get_length(buf), ==, 2);
end:
	if (buf)
		evbuffer_free(buf);
	if (base)
		event_base_free(base);
}

static const struct check_case cases[] = {
	{ "batch_runs_once_from_loop", batch_runs_once_from_loop },
	{ "disabled_callback_is_skipped", disabled_callback_is_skipped },
	{ "free_before_loop_keeps_buffer", free_before_loop_keeps_buffer },
	{ "change_from_deferred", change_from_deferred },
	{ NULL, NULL }
};

int
main(int argc, char **argv)
{
	return check_main(cases, argc, argv);
}
