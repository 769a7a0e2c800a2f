/*
 * Filtering bufferevents over a pair and over a socketpair: the filter
 * takes over the underlying, transforms data both ways, honours
 * BEV_NEED_MORE and the watermarks, flushes, and hands the underlying back
 * (or frees it) when freed.
 */
#include <ctype.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>

#include "check.h"
#include "pair_util.h"

struct seen {
	int reads;
	int writes;
	int events;
	short what;
	int in_calls;
	int out_calls;
	ev_ssize_t last_limit;
	int last_mode;
	int freed;
};

static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct seen *s = arg;

	(void)bev;
	s->reads++;
}

static void
write_cb(struct bufferevent *bev, void *arg)
{
	struct seen *s = arg;

	(void)bev;
	s->writes++;
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct seen *s = arg;

	(void)bev;
	s->events++;
	s->what |= what;
}

/* Upper-cases everything it moves. */
static enum bufferevent_filter_result
upper_in(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
    enum bufferevent_flush_mode mode, void *ctx)
{
	struct seen *s = ctx;
	unsigned char c;

	s->in_calls++;
	s->last_limit = limit;
	s->last_mode = (int)mode;
	while (evbuffer_remove(src, &c, 1) == 1) {
		c = (unsigned char)toupper(c);
		evbuffer_add(dst, &c, 1);
	}
	return BEV_OK;
}

/* Adds a '>' in front of every chunk it moves. */
static enum bufferevent_filter_result
mark_out(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
    enum bufferevent_flush_mode mode, void *ctx)
{
	struct seen *s = ctx;

	(void)limit;
	s->out_calls++;
	s->last_mode = (int)mode;
	if (evbuffer_get_length(src) == 0)
		return BEV_OK;
	evbuffer_add(dst, ">", 1);
	evbuffer_add_buffer(dst, src);
	return BEV_OK;
}

/* Only passes whole 4-byte records. */
static enum bufferevent_filter_result
records_in(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
    enum bufferevent_flush_mode mode, void *ctx)
{
	struct seen *s = ctx;

	(void)limit;
	(void)mode;
	s->in_calls++;
	if (evbuffer_get_length(src) < 4)
		return BEV_NEED_MORE;
	while (evbuffer_get_length(src) >= 4)
		evbuffer_remove_buffer(src, dst, 4);
	return BEV_OK;
}

static void
free_ctx(void *ctx)
{
	struct seen *s = ctx;

	s->freed++;
}

static void
null_underlying(void)
{
	/* FILT-1 */
	check_ptr(bufferevent_filter_new(NULL, NULL, NULL, 0, NULL, NULL),
	    ==, NULL);
end:
	;
}

/* FILT-2, FILT-3, FILT-4, BEV-30. */
static void
takes_over_underlying(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *pair[2] = { NULL, NULL };
	struct bufferevent *filt = NULL;
	struct seen u = { 0 }, f = { 0 };
	char buf[16];

	check(base != NULL);
	check_int(bufferevent_pair_new(base, 0, pair), ==, 0);
	bufferevent_setcb(pair[0], read_cb, write_cb, event_cb, &u);
	filt = bufferevent_filter_new(pair[0], NULL, NULL, 0, NULL, NULL);
	check(filt != NULL);
	check_ptr(bufferevent_get_underlying(filt), ==, pair[0]);
	check_ptr(bufferevent_get_underlying(pair[0]), ==, NULL);
	check_int(bufferevent_getfd(filt), ==, -1);
	check_int(bufferevent_get_enabled(filt), ==, EV_WRITE);
	check_int(bufferevent_get_enabled(pair[0]), ==, EV_READ | EV_WRITE);
	bufferevent_setcb(filt, read_cb, NULL, event_cb, &f);
	check_int(bufferevent_enable(filt, EV_READ), ==, 0);
	check_int(bufferevent_enable(pair[1], EV_READ), ==, 0);
	/* Pass-through both ways. */
	check_int(bufferevent_write(filt, "down", 4), ==, 0);
	check_int(bufferevent_write(pair[1], "up", 2), ==, 0);
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_int(in_len(pair[1]), ==, 4);
	check_int(bufferevent_read(pair[1], buf, sizeof(buf)), ==, 4);
	check_mem(buf, "down", 4);
	check_int(f.reads, >=, 1);
	check_int(bufferevent_read(filt, buf, sizeof(buf)), ==, 2);
	check_mem(buf, "up", 2);
	/* The user callbacks once set on the underlying are gone. */
	check_int(u.reads + u.writes + u.events, ==, 0);
	/* BEV-30: neither buffer of a filter is frozen. */
	check_int(evbuffer_add(bufferevent_get_input(filt), "x", 1), ==, 0);
	check_int(evbuffer_drain(bufferevent_get_output(filt), 0), ==, 0);
end:
	pair_case_free(base, filt, pair);
}

/* FILT-5, FILT-8: filters run with their limits; output synchronously. */
static void
filters_transform(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *pair[2] = { NULL, NULL };
	struct bufferevent *filt = NULL;
	struct seen f = { 0 };
	char buf[32];

	check(base != NULL);
	check_int(bufferevent_pair_new(base, 0, pair), ==, 0);
	filt = bufferevent_filter_new(pair[0], upper_in, mark_out, 0,
	    free_ctx, &f);
	check(filt != NULL);
	bufferevent_setcb(filt, read_cb, write_cb, event_cb, &f);
	check_int(bufferevent_enable(filt, EV_READ), ==, 0);
	check_int(bufferevent_enable(pair[1], EV_READ), ==, 0);
	check_int(bufferevent_write(filt, "abc", 3), ==, 0);
	/* Filtered inside bufferevent_write, into the pair, to its partner. */
	check_int(f.out_calls, >=, 1);
	check_int(in_len(pair[1]), ==, 4);
	check_int(bufferevent_read(pair[1], buf, sizeof(buf)), ==, 4);
	check_mem(buf, ">abc", 4);
	bufferevent_setwatermark(filt, EV_READ, 0, 100);
	check_int(bufferevent_write(pair[1], "hello", 5), ==, 0);
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_int(f.in_calls, >=, 1);
	check_int(f.last_limit, ==, 100);
	check_int(f.last_mode, ==, BEV_NORMAL);
	check_int(bufferevent_read(filt, buf, sizeof(buf)), ==, 5);
	check_mem(buf, "HELLO", 5);
	bufferevent_free(filt);
	filt = NULL;
	event_base_loop(base, EVLOOP_NONBLOCK);
	/* FILT-13 */
	check_int(f.freed, ==, 1);
end:
	pair_case_free(base, filt, pair);
}

/* FILT-6: BEV_NEED_MORE leaves the bytes below until more arrive. */
static void
need_more_waits(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *pair[2] = { NULL, NULL };
	struct bufferevent *filt = NULL;
	struct seen f = { 0 };

	check(base != NULL);
	check_int(bufferevent_pair_new(base, 0, pair), ==, 0);
	filt = bufferevent_filter_new(pair[0], records_in, NULL, 0, NULL, &f);
	check(filt != NULL);
	bufferevent_setcb(filt, read_cb, NULL, NULL, &f);
	check_int(bufferevent_enable(filt, EV_READ), ==, 0);
	check_int(bufferevent_enable(pair[1], EV_READ), ==, 0);
	check_int(bufferevent_write(pair[1], "ab", 2), ==, 0);
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_int(in_len(filt), ==, 0);
	check_int(in_len(pair[0]), ==, 2);
	check_int(f.reads, ==, 0);
	check_int(bufferevent_write(pair[1], "cdef", 4), ==, 0);
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_int(in_len(filt), ==, 4);
	check_int(in_len(pair[0]), ==, 2);
	check_int(f.reads, ==, 1);
end:
	pair_case_free(base, filt, pair);
}

/* FILT-9, FILT-10, BEV-31: flush with EV_WRITE disabled. */
static void
flush_moves_held_output(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *pair[2] = { NULL, NULL };
	struct bufferevent *filt = NULL;
	struct seen f = { 0 };

	check(base != NULL);
	check_int(bufferevent_pair_new(base, 0, pair), ==, 0);
	filt = bufferevent_filter_new(pair[0], NULL, mark_out, 0, NULL, &f);
	check(filt != NULL);
	check_int(bufferevent_disable(filt, EV_WRITE), ==, 0);
	check_int(bufferevent_write(filt, "held", 4), ==, 0);
	check_int(f.out_calls, ==, 0);
	/* Nothing queued for BEV_NORMAL reading: 0. */
	check_int(bufferevent_flush(filt, EV_READ, BEV_NORMAL), ==, 0);
	check_int(bufferevent_flush(filt, EV_WRITE, BEV_FLUSH), ==, 1);
	check_int(f.last_mode, ==, BEV_FLUSH);
	/* The pair underneath pushed it to its partner (FILT-10). */
	check_int(in_len(pair[1]), ==, 5);
end:
	pair_case_free(base, filt, pair);
}

/* FILT-11: events of a socket underneath reach the filter unchanged. */
static void
eof_passes_up(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *under = NULL, *filt = NULL;
	struct seen f = { 0 };
	int fds[2] = { -1, -1 };

	check(base != NULL);
	check_int(evutil_socketpair(AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
	evutil_make_socket_nonblocking(fds[0]);
	under = bufferevent_socket_new(base, fds[0], BEV_OPT_CLOSE_ON_FREE);
	check(under != NULL);
	filt = bufferevent_filter_new(under, NULL, NULL, BEV_OPT_CLOSE_ON_FREE,
	    NULL, NULL);
	check(filt != NULL);
	under = NULL;
	fds[0] = -1;
	bufferevent_setcb(filt, read_cb, NULL, event_cb, &f);
	check_int(bufferevent_enable(filt, EV_READ), ==, 0);
	check_int(write(fds[1], "last words", 10), ==, 10);
	close(fds[1]);
	fds[1] = -1;
	check_int(event_base_dispatch(base), ==, 1);
	check_int(f.events, ==, 1);
	check_int(f.what, ==, BEV_EVENT_EOF | BEV_EVENT_READING);
	check_int(in_len(filt), ==, 10);
end:
	if (filt)
		bufferevent_free(filt);
	if (under)
		bufferevent_free(under);
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	if (base)
		event_base_free(base);
}

/* FILT-14: without CLOSE_ON_FREE the underlying survives, quiet. */
static void
underlying_survives(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *pair[2] = { NULL, NULL };
	struct bufferevent *filt = NULL;
	struct seen u = { 0 };
	bufferevent_data_cb rcb = NULL;

	check(base != NULL);
	check_int(bufferevent_pair_new(base, 0, pair), ==, 0);
	filt = bufferevent_filter_new(pair[0], NULL, NULL, 0, NULL, NULL);
	check(filt != NULL);
	bufferevent_free(filt);
	filt = NULL;
	event_base_loop(base, EVLOOP_NONBLOCK);
	bufferevent_getcb(pair[0], &rcb, NULL, NULL, NULL);
	check(rcb == NULL);
	check_ptr(bufferevent_pair_get_partner(pair[0]), ==, pair[1]);
	bufferevent_setcb(pair[0], read_cb, NULL, NULL, &u);
	check_int(bufferevent_enable(pair[1], EV_READ), ==, 0);
	check_int(bufferevent_write(pair[1], "still", 5), ==, 0);
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_int(u.reads, ==, 1);
	check_int(in_len(pair[0]), ==, 5);
end:
	pair_case_free(base, filt, pair);
}

static const struct check_case cases[] = {
	{ "null_underlying", null_underlying },
	{ "takes_over_underlying", takes_over_underlying },
	{ "filters_transform", filters_transform },
	{ "need_more_waits", need_more_waits },
	{ "flush_moves_held_output", flush_moves_held_output },
	{ "eof_passes_up", eof_passes_up },
	{ "underlying_survives", underlying_survives },
	{ NULL, NULL },
};

int
main(int argc, char **argv)
{
	return check_main(cases, argc, argv);
}
