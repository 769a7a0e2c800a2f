/*
 * More filtering bufferevents: line framing with BEV_NEED_MORE, a failing
 * filter, filters stacked on a pair half and on each other, freeing a
 * filter from inside its own callbacks, the events of the underlying as
 * the filter reports them, watermarks on both levels, and what
 * BEV_OPT_CLOSE_ON_FREE takes down with the filter.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>

#include "check.h"
#include "pair_util.h"

/* What one filter (or one plain half) saw. */
struct seen {
	struct event_base *base;
	int reads;
	int writes;
	int events;
	short what;
	int in_calls;
	int out_calls;
	int freed;
	ev_ssize_t first_limit;
	size_t max_input;
	char got[256];
	size_t got_len;
	int free_in_read;
	int free_on_eof;
	struct bufferevent **self;
};

static void
seen_init(struct seen *s, struct event_base *base)
{
	memset(s, 0, sizeof(*s));
	s->base = base;
	s->first_limit = -2;
}

/* Copies the input out before draining it, so that a filter refilling the
 * input from inside the drain appends behind what was already taken. */
static void
collect_cb(struct bufferevent *bev, void *arg)
{
	struct seen *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t len = evbuffer_get_length(in);
	ev_ssize_t n;

	s->reads++;
	if (len > s->max_input)
		s->max_input = len;
	if (len > sizeof(s->got) - s->got_len)
		len = sizeof(s->got) - s->got_len;
	n = evbuffer_copyout(in, s->got + s->got_len, len);
	if (n > 0)
		s->got_len += (size_t)n;
	if (s->free_in_read && s->self && *s->self) {
		bufferevent_free(*s->self);
		*s->self = NULL;
		return;
	}
	if (n > 0)
		evbuffer_drain(in, (size_t)n);
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
	if (s->free_on_eof && (what & BEV_EVENT_EOF) && s->self && *s->self) {
		bufferevent_free(*s->self);
		*s->self = NULL;
	}
	if (s->base)
		event_base_loopbreak(s->base);
}

static void
free_ctx(void *ctx)
{
	struct seen *s = ctx;

	s->freed++;
}

/* Passes only whole lines, each one in a single call. */
static enum bufferevent_filter_result
lines_in(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
    enum bufferevent_flush_mode mode, void *ctx)
{
	struct seen *s = ctx;
	struct evbuffer_ptr eol;

	(void)limit;
	(void)mode;
	s->in_calls++;
	eol = evbuffer_search(src, "\n", 1, NULL);
	if (eol.pos < 0)
		return BEV_NEED_MORE;
	evbuffer_remove_buffer(src, dst, (size_t)eol.pos + 1);
	return BEV_OK;
}

static enum bufferevent_filter_result
upper_in(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
    enum bufferevent_flush_mode mode, void *ctx)
{
	struct seen *s = ctx;
	unsigned char c;

	(void)limit;
	(void)mode;
	s->in_calls++;
	while (evbuffer_remove(src, &c, 1) == 1) {
		c = (unsigned char)toupper(c);
		evbuffer_add(dst, &c, 1);
	}
	return BEV_OK;
}

/* Puts a one-byte tag, the first byte of its context's name, in front. */
static enum bufferevent_filter_result
tag_out(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
    enum bufferevent_flush_mode mode, void *ctx)
{
	struct seen *s = ctx;

	(void)limit;
	(void)mode;
	s->out_calls++;
	if (evbuffer_get_length(src) == 0)
		return BEV_OK;
	/* One addition to dst, so that a filter below sees one chunk. */
	evbuffer_prepend(src, s->got_len ? s->got : "?", 1);
	evbuffer_add_buffer(dst, src);
	return BEV_OK;
}

/* Refuses any 'X' it meets, without consuming anything. */
static enum bufferevent_filter_result
fail_in(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
    enum bufferevent_flush_mode mode, void *ctx)
{
	struct seen *s = ctx;
	struct evbuffer_ptr x;

	(void)limit;
	(void)mode;
	s->in_calls++;
	x = evbuffer_search(src, "X", 1, NULL);
	if (x.pos >= 0)
		return BEV_ERROR;
	evbuffer_add_buffer(dst, src);
	return BEV_OK;
}

static enum bufferevent_filter_result
fail_out(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
    enum bufferevent_flush_mode mode, void *ctx)
{
	struct seen *s = ctx;

	(void)src;
	(void)dst;
	(void)limit;
	(void)mode;
	s->out_calls++;
	return BEV_ERROR;
}

/* Moves at most `limit` bytes (all without one), noting the first limit. */
static enum bufferevent_filter_result
limited(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
    enum bufferevent_flush_mode mode, void *ctx)
{
	struct seen *s = ctx;
	size_t n = evbuffer_get_length(src);

	(void)mode;
	if (s->first_limit == -2)
		s->first_limit = limit;
	s->out_calls++;
	s->in_calls++;
	if (limit >= 0 && (size_t)limit < n)
		n = (size_t)limit;
	if (n == 0)
		return BEV_NEED_MORE;
	evbuffer_remove_buffer(src, dst, n);
	return BEV_OK;
}

static void
loop_a_few(struct event_base *base)
{
	int i;

	for (i = 0; i < 4; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
}

/* FILT-6: a framing filter waits for the end of the line. */
static void
line_framing(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *pair[2] = { NULL, NULL };
	struct bufferevent *filt = NULL;
	struct seen f;

	check(base != NULL);
	seen_init(&f, NULL);
	check_int(bufferevent_pair_new(base, 0, pair), ==, 0);
	filt = bufferevent_filter_new(pair[0], lines_in, NULL, 0, free_ctx,
	    &f);
	check(filt != NULL);
	bufferevent_setcb(filt, collect_cb, NULL, event_cb, &f);
	check_int(bufferevent_enable(filt, EV_READ), ==, 0);
	check_int(bufferevent_enable(pair[1], EV_READ), ==, 0);
	check_int(bufferevent_write(pair[1], "hel", 3), ==, 0);
	loop_a_few(base);
	check_int(f.in_calls, >=, 1);
	check_int(f.reads, ==, 0);
	check_int(in_len(pair[0]), ==, 3);
	check_int(bufferevent_write(pair[1], "lo\nwor", 6), ==, 0);
	loop_a_few(base);
	check_int(f.reads, ==, 1);
	check_int(f.got_len, ==, 6);
	check_mem(f.got, "hello\n", 6);
	check_int(in_len(pair[0]), ==, 3);
	check_int(bufferevent_write(pair[1], "ld\none\ntw", 9), ==, 0);
	loop_a_few(base);
	check_int(f.got_len, ==, 16);
	check_mem(f.got, "hello\nworld\none\n", 16);
	check_int(in_len(pair[0]), ==, 2);
	check_int(f.events, ==, 0);
	bufferevent_free(filt);
	filt = NULL;
	loop_a_few(base);
	check_int(f.freed, ==, 1);
end:
	pair_case_free(base, filt, pair);
}

/* FILT-7: BEV_ERROR reaches no callback; the data stays where it was. */
static void
error_is_silent(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *pair[2] = { NULL, NULL };
	struct bufferevent *filt = NULL;
	struct seen f;

	check(base != NULL);
	seen_init(&f, NULL);
	check_int(bufferevent_pair_new(base, 0, pair), ==, 0);
	filt = bufferevent_filter_new(pair[0], fail_in, fail_out, 0, free_ctx,
	    &f);
	check(filt != NULL);
	bufferevent_setcb(filt, collect_cb, write_cb, event_cb, &f);
	check_int(bufferevent_enable(filt, EV_READ), ==, 0);
	check_int(bufferevent_enable(pair[1], EV_READ), ==, 0);
	check_int(bufferevent_write(pair[1], "abXcd", 5), ==, 0);
	loop_a_few(base);
	check_int(f.in_calls, >=, 1);
	check_int(f.reads, ==, 0);
	check_int(f.events, ==, 0);
	check_int(in_len(pair[0]), ==, 5);
	check_int(in_len(filt), ==, 0);
	/* The output side: the write is accepted, nothing moves. */
	check_int(bufferevent_write(filt, "out", 3), ==, 0);
	loop_a_few(base);
	check_int(f.out_calls, >=, 1);
	check_int(out_len(filt), ==, 3);
	check_int(out_len(pair[0]), ==, 0);
	check_int(in_len(pair[1]), ==, 0);
	check_int(f.events, ==, 0);
	check_int(f.writes, ==, 0);
end:
	pair_case_free(base, filt, pair);
}

/* Echoes what the plain half reads back to the filter. */
static void
echo_cb(struct bufferevent *bev, void *arg)
{
	struct seen *s = arg;

	s->reads++;
	bufferevent_write_buffer(bev, bufferevent_get_input(bev));
}

/* A filter over one half of a pair, the other half plain: round trips
 * through the event loop, both filter functions on the way. */
static void
filter_over_pair_half(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *pair[2] = { NULL, NULL };
	struct bufferevent *filt = NULL;
	struct seen f, p;
	int i;

	check(base != NULL);
	seen_init(&f, NULL);
	seen_init(&p, NULL);
	memcpy(f.got, "<", 1);
	f.got_len = 1;
	check_int(bufferevent_pair_new(base, 0, pair), ==, 0);
	filt = bufferevent_filter_new(pair[0], upper_in, tag_out, 0, free_ctx,
	    &f);
	check(filt != NULL);
	bufferevent_setcb(filt, collect_cb, write_cb, event_cb, &f);
	bufferevent_setcb(pair[1], echo_cb, NULL, event_cb, &p);
	check_int(bufferevent_enable(filt, EV_READ), ==, 0);
	check_int(bufferevent_enable(pair[1], EV_READ), ==, 0);
	for (i = 0; i < 3; i++) {
		check_int(bufferevent_write(filt, "ab", 2), ==, 0);
		loop_a_few(base);
	}
	check_int(p.reads, ==, 3);
	check_int(f.got_len, ==, 1 + 9);
	check_mem(f.got + 1, "<AB<AB<AB", 9);
	check_int(f.writes, >=, 3);
	check_int(f.events + p.events, ==, 0);
	/* Freeing the plain half first: the filter's half loses its partner. */
	bufferevent_free(pair[1]);
	pair[1] = NULL;
	check_ptr(bufferevent_pair_get_partner(pair[0]), ==, NULL);
	check_int(bufferevent_write(filt, "cd", 2), ==, 0);
	loop_a_few(base);
	check_int(out_len(pair[0]), ==, 3);
	check_int(f.events, ==, 0);
end:
	pair_case_free(base, filt, pair);
}

/* A filter over a filter over a pair half; freeing the top one with
 * BEV_OPT_CLOSE_ON_FREE takes the whole stack down (FILT-15). */
static void
filter_over_filter(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *pair[2] = { NULL, NULL };
	struct bufferevent *low = NULL, *top = NULL, *mid, *half;
	struct seen l, t, p;
	char buf[32];

	check(base != NULL);
	seen_init(&l, NULL);
	seen_init(&t, NULL);
	seen_init(&p, NULL);
	l.got[0] = '>';
	l.got_len = 1;
	t.got[0] = '<';
	t.got_len = 1;
	check_int(bufferevent_pair_new(base, 0, pair), ==, 0);
	low = bufferevent_filter_new(pair[0], upper_in, tag_out,
	    BEV_OPT_CLOSE_ON_FREE, free_ctx, &l);
	check(low != NULL);
	top = bufferevent_filter_new(low, lines_in, tag_out,
	    BEV_OPT_CLOSE_ON_FREE, free_ctx, &t);
	check(top != NULL);
	/* The stack is the top's to free from here on. */
	mid = low;
	low = NULL;
	half = pair[0];
	pair[0] = NULL;
	check_ptr(bufferevent_get_underlying(top), ==, mid);
	check_ptr(bufferevent_get_underlying(mid), ==, half);
	bufferevent_setcb(top, collect_cb, NULL, event_cb, &t);
	check_int(bufferevent_enable(top, EV_READ), ==, 0);
	check_int(bufferevent_enable(pair[1], EV_READ), ==, 0);
	/* Down: the top tag first, the lower one outside it. */
	check_int(bufferevent_write(top, "ab", 2), ==, 0);
	loop_a_few(base);
	check_int(bufferevent_read(pair[1], buf, sizeof(buf)), ==, 4);
	check_mem(buf, "><ab", 4);
	/* Up: upper-cased below, framed into lines above. */
	check_int(bufferevent_write(pair[1], "one\ntw", 6), ==, 0);
	loop_a_few(base);
	check_int(t.got_len, ==, 1 + 4);
	check_mem(t.got + 1, "ONE\n", 4);
	check_int(in_len(mid), ==, 2);
	check_int(bufferevent_write(pair[1], "o\n", 2), ==, 0);
	loop_a_few(base);
	check_int(t.got_len, ==, 1 + 8);
	check_mem(t.got + 1, "ONE\nTWO\n", 8);
	check_int(t.events + l.events, ==, 0);
	bufferevent_free(top);
	top = NULL;
	loop_a_few(base);
	check_int(t.freed, ==, 1);
	check_int(l.freed, ==, 1);
	check_ptr(bufferevent_pair_get_partner(pair[1]), ==, NULL);
end:
	if (top)
		bufferevent_free(top);
	if (low)
		bufferevent_free(low);
	pair_case_free(base, NULL, pair);
}

/* The filter freed inside its own read callback, reached from the
 * underlying's read callback; the underlying stays usable (FILT-14). */
static void
free_in_read_cb(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *pair[2] = { NULL, NULL };
	struct bufferevent *filt = NULL;
	struct seen f;

	check(base != NULL);
	seen_init(&f, NULL);
	check_int(bufferevent_pair_new(base, 0, pair), ==, 0);
	filt = bufferevent_filter_new(pair[0], upper_in, NULL, 0, free_ctx,
	    &f);
	check(filt != NULL);
	f.free_in_read = 1;
	f.self = &filt;
	bufferevent_setcb(filt, collect_cb, NULL, event_cb, &f);
	check_int(bufferevent_enable(filt, EV_READ), ==, 0);
	check_int(bufferevent_enable(pair[1], EV_READ), ==, 0);
	check_int(bufferevent_write(pair[1], "bye", 3), ==, 0);
	loop_a_few(base);
	check_ptr(filt, ==, NULL);
	check_int(f.reads, ==, 1);
	check_mem(f.got, "BYE", 3);
	check_int(f.freed, ==, 1);
	/* The pair half is quiet but alive: more data just waits in it. */
	check_int(bufferevent_enable(pair[0], EV_READ), ==, 0);
	check_int(bufferevent_write(pair[1], "more", 4), ==, 0);
	loop_a_few(base);
	check_int(in_len(pair[0]), ==, 4);
	check_int(f.reads, ==, 1);
	check_int(f.freed, ==, 1);
end:
	pair_case_free(base, filt, pair);
}

/* The filter freed inside its event callback on EOF from a socket;
 * BEV_OPT_CLOSE_ON_FREE on both levels closes the socket (FILT-15). */
static void
free_in_event_cb_on_eof(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *under = NULL, *filt = NULL;
	struct seen f;
	int fds[2] = { -1, -1 };
	char c;

	check(base != NULL);
	seen_init(&f, base);
	check_int(evutil_socketpair(AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
	evutil_make_socket_nonblocking(fds[0]);
	under = bufferevent_socket_new(base, fds[0], BEV_OPT_CLOSE_ON_FREE);
	check(under != NULL);
	fds[0] = -1;
	filt = bufferevent_filter_new(under, NULL, NULL, BEV_OPT_CLOSE_ON_FREE,
	    free_ctx, &f);
	check(filt != NULL);
	under = NULL;
	f.free_on_eof = 1;
	f.self = &filt;
	bufferevent_setcb(filt, collect_cb, NULL, event_cb, &f);
	check_int(bufferevent_enable(filt, EV_READ), ==, 0);
	check_int(shutdown(fds[1], SHUT_WR), ==, 0);
	check_int(event_base_dispatch(base), ==, 0);
	check_ptr(filt, ==, NULL);
	check_int(f.events, ==, 1);
	check_int(f.what, ==, BEV_EVENT_EOF | BEV_EVENT_READING);
	loop_a_few(base);
	check_int(f.freed, ==, 1);
	/* Our end is closed: the peer reads EOF. */
	check_int(read(fds[1], &c, 1), ==, 0);
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

/* FILT-11: a write error of the socket underneath. */
static void
error_event_passes_up(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *under = NULL, *filt = NULL;
	struct seen f;
	int fds[2] = { -1, -1 };
	struct timeval limit = { 2, 0 };

	check(base != NULL);
	seen_init(&f, base);
	limit.tv_sec *= check_time_scale();
	signal(SIGPIPE, SIG_IGN);
	check_int(evutil_socketpair(AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
	evutil_make_socket_nonblocking(fds[0]);
	close(fds[1]);
	fds[1] = -1;
	under = bufferevent_socket_new(base, fds[0], BEV_OPT_CLOSE_ON_FREE);
	check(under != NULL);
	fds[0] = -1;
	filt = bufferevent_filter_new(under, NULL, NULL, BEV_OPT_CLOSE_ON_FREE,
	    free_ctx, &f);
	check(filt != NULL);
	under = NULL;
	bufferevent_setcb(filt, collect_cb, NULL, event_cb, &f);
	check_int(bufferevent_write(filt, "lost", 4), ==, 0);
	event_base_loopexit(base, &limit);
	check_int(event_base_dispatch(base), ==, 0);
	check_int(f.events, ==, 1);
	check_int(f.what, ==, BEV_EVENT_ERROR | BEV_EVENT_WRITING);
	bufferevent_free(filt);
	filt = NULL;
	loop_a_few(base);
	check_int(f.freed, ==, 1);
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

/* FILT-11: CONNECTED from bufferevent_socket_connect on the underlying. */
static void
connected_passes_up(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *under = NULL, *filt = NULL, *u;
	struct seen f;
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	struct timeval limit = { 2, 0 };
	int lfd = -1;

	check(base != NULL);
	seen_init(&f, base);
	limit.tv_sec *= check_time_scale();
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	check(lfd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	check_int(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), ==, 0);
	check_int(listen(lfd, 4), ==, 0);
	check_int(getsockname(lfd, (struct sockaddr *)&sin, &slen), ==, 0);
	under = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	check(under != NULL);
	filt = bufferevent_filter_new(under, NULL, NULL, BEV_OPT_CLOSE_ON_FREE,
	    free_ctx, &f);
	check(filt != NULL);
	u = under;
	under = NULL;
	bufferevent_setcb(filt, collect_cb, NULL, event_cb, &f);
	check_int(bufferevent_socket_connect(u, (struct sockaddr *)&sin,
	    sizeof(sin)), ==, 0);
	event_base_loopexit(base, &limit);
	check_int(event_base_dispatch(base), ==, 0);
	check_int(f.events, ==, 1);
	check_int(f.what, ==, BEV_EVENT_CONNECTED);
	check_int(bufferevent_getfd(filt), >=, 0);
end:
	if (filt)
		bufferevent_free(filt);
	if (under)
		bufferevent_free(under);
	if (lfd >= 0)
		close(lfd);
	if (base)
		event_base_free(base);
}

/* FILT-11: the read timeout of the underlying reaches the filter. */
static void
timeout_passes_up(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *under = NULL, *filt = NULL;
	struct seen f;
	int fds[2] = { -1, -1 };
	struct timeval tmo = { 0, 50000 };
	struct timeval limit = { 2, 0 };
	long t0, took;

	check(base != NULL);
	seen_init(&f, base);
	limit.tv_sec *= check_time_scale();
	check_int(evutil_socketpair(AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
	evutil_make_socket_nonblocking(fds[0]);
	under = bufferevent_socket_new(base, fds[0], BEV_OPT_CLOSE_ON_FREE);
	check(under != NULL);
	fds[0] = -1;
	filt = bufferevent_filter_new(under, NULL, NULL, 0, free_ctx, &f);
	check(filt != NULL);
	bufferevent_setcb(filt, collect_cb, NULL, event_cb, &f);
	check_int(bufferevent_enable(filt, EV_READ), ==, 0);
	check_int(bufferevent_set_timeouts(under, &tmo, NULL), ==, 0);
	t0 = check_now_ms();
	event_base_loopexit(base, &limit);
	check_int(event_base_dispatch(base), ==, 0);
	took = check_now_ms() - t0;
	check_int(f.events, ==, 1);
	check_int(f.what, ==, BEV_EVENT_TIMEOUT | BEV_EVENT_READING);
	check_int(took, >=, 40);
	check_int(took, <, 1000 * check_time_scale());
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

/* FILT-17: the underlying's write high watermark limits the output filter
 * and holds output back until the underlying drains. */
static void
underlying_write_watermark(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *pair[2] = { NULL, NULL };
	struct bufferevent *filt = NULL;
	struct seen f;
	char buf[32];

	check(base != NULL);
	seen_init(&f, NULL);
	check_int(bufferevent_pair_new(base, 0, pair), ==, 0);
	filt = bufferevent_filter_new(pair[0], NULL, limited, 0, free_ctx,
	    &f);
	check(filt != NULL);
	bufferevent_setwatermark(pair[0], EV_WRITE, 0, 8);
	check_int(bufferevent_write(filt, "0123456789abcdefghij", 20), ==, 0);
	check_int(f.first_limit, ==, 8);
	check_int(out_len(pair[0]), ==, 8);
	check_int(out_len(filt), ==, 12);
	loop_a_few(base);
	/* The partner does not read: nothing more moves. */
	check_int(out_len(pair[0]), ==, 8);
	check_int(out_len(filt), ==, 12);
	check_int(bufferevent_enable(pair[1], EV_READ), ==, 0);
	loop_a_few(base);
	check_int(out_len(filt), ==, 0);
	check_int(out_len(pair[0]), ==, 0);
	check_int(bufferevent_read(pair[1], buf, sizeof(buf)), ==, 20);
	check_mem(buf, "0123456789abcdefghij", 20);
end:
	pair_case_free(base, filt, pair);
}

/* Counts reads and notes the largest input, leaving the input alone. */
static void
peek_cb(struct bufferevent *bev, void *arg)
{
	struct seen *s = arg;
	size_t len = in_len(bev);

	s->reads++;
	if (len > s->max_input)
		s->max_input = len;
	/* While the input sits at its high watermark with data underneath,
	 * 2.1.12 keeps calling this from the loop, which then never runs
	 * out of active events: break out. */
	if (s->base)
		event_base_loopbreak(s->base);
}

/* FILT-5, FILT-18: the filter's read high watermark limits the input
 * filter; the rest is filtered as the program drains the input outside
 * the read callback. */
static void
filter_read_watermark(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *pair[2] = { NULL, NULL };
	struct bufferevent *filt = NULL;
	struct seen f;
	char buf[4];

	check(base != NULL);
	seen_init(&f, base);
	check_int(bufferevent_pair_new(base, 0, pair), ==, 0);
	filt = bufferevent_filter_new(pair[0], limited, NULL, 0, free_ctx,
	    &f);
	check(filt != NULL);
	bufferevent_setcb(filt, peek_cb, NULL, event_cb, &f);
	bufferevent_setwatermark(filt, EV_READ, 0, 4);
	check_int(bufferevent_enable(filt, EV_READ), ==, 0);
	check_int(bufferevent_enable(pair[1], EV_READ), ==, 0);
	check_int(bufferevent_write(pair[1], "0123456789", 10), ==, 0);
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_int(f.first_limit, ==, 4);
	check_int(f.reads, >=, 1);
	check_int(in_len(filt), ==, 4);
	check_int(in_len(pair[0]), ==, 6);
	/* Each drain filters the next four bytes, inside the drain. */
	f.reads = 0;
	check_int(bufferevent_read(filt, buf, 4), ==, 4);
	check_mem(buf, "0123", 4);
	check_int(f.reads, ==, 1);
	check_int(in_len(pair[0]), ==, 2);
	check_int(bufferevent_read(filt, buf, 4), ==, 4);
	check_mem(buf, "4567", 4);
	check_int(in_len(pair[0]), ==, 0);
	check_int(bufferevent_read(filt, buf, 4), ==, 2);
	check_mem(buf, "89", 2);
	check_int(f.max_input, ==, 4);
	check_int(f.events, ==, 0);
end:
	pair_case_free(base, filt, pair);
}

/* The drain callback of FILT-18 is switched on only after the read
 * callback returns, and only if the input is still full: a program that
 * drains inside its read callback leaves the rest underneath until more
 * data arrives there. */
static void
drain_in_read_cb_waits(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *pair[2] = { NULL, NULL };
	struct bufferevent *filt = NULL;
	struct seen f;

	check(base != NULL);
	seen_init(&f, NULL);
	check_int(bufferevent_pair_new(base, 0, pair), ==, 0);
	filt = bufferevent_filter_new(pair[0], limited, NULL, 0, free_ctx,
	    &f);
	check(filt != NULL);
	bufferevent_setcb(filt, collect_cb, NULL, event_cb, &f);
	bufferevent_setwatermark(filt, EV_READ, 0, 4);
	check_int(bufferevent_enable(filt, EV_READ), ==, 0);
	check_int(bufferevent_enable(pair[1], EV_READ), ==, 0);
	check_int(bufferevent_write(pair[1], "0123456789", 10), ==, 0);
	loop_a_few(base);
	check_int(f.got_len, ==, 4);
	check_int(in_len(filt), ==, 0);
	check_int(in_len(pair[0]), ==, 6);
	/* New data underneath runs the filter again, four bytes a call. */
	check_int(bufferevent_write(pair[1], "ab", 2), ==, 0);
	loop_a_few(base);
	check_int(f.got_len, >, 4);
	check_mem(f.got, "01234567", f.got_len < 8 ? f.got_len : 8);
	check_int(f.max_input, ==, 4);
	check_int(f.events, ==, 0);
end:
	pair_case_free(base, filt, pair);
}

/* FILT-14, FILT-15: what the filter's free takes with it. */
static void
close_on_free_levels(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *under = NULL, *filt = NULL;
	struct seen f;
	int fds[2] = { -1, -1 };
	char c;

	check(base != NULL);
	seen_init(&f, NULL);
	check_int(evutil_socketpair(AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
	evutil_make_socket_nonblocking(fds[0]);
	evutil_make_socket_nonblocking(fds[1]);
	/* The filter frees the underlying, which does not close its fd. */
	under = bufferevent_socket_new(base, fds[0], 0);
	check(under != NULL);
	filt = bufferevent_filter_new(under, NULL, NULL, BEV_OPT_CLOSE_ON_FREE,
	    free_ctx, &f);
	check(filt != NULL);
	under = NULL;
	bufferevent_free(filt);
	filt = NULL;
	loop_a_few(base);
	check_int(f.freed, ==, 1);
	check_int(fcntl(fds[0], F_GETFD), >=, 0);
	check_int(read(fds[1], &c, 1), ==, -1);
	check_int(errno, ==, EAGAIN);
	/* Both levels close: the peer sees EOF. */
	under = bufferevent_socket_new(base, fds[0], BEV_OPT_CLOSE_ON_FREE);
	check(under != NULL);
	filt = bufferevent_filter_new(under, NULL, NULL, BEV_OPT_CLOSE_ON_FREE,
	    free_ctx, &f);
	check(filt != NULL);
	under = NULL;
	fds[0] = -1;
	bufferevent_free(filt);
	filt = NULL;
	loop_a_few(base);
	check_int(f.freed, ==, 2);
	check_int(read(fds[1], &c, 1), ==, 0);
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

static const struct check_case cases[] = {
	{ "line_framing", line_framing },
	{ "error_is_silent", error_is_silent },
	{ "filter_over_pair_half", filter_over_pair_half },
	{ "filter_over_filter", filter_over_filter },
	{ "free_in_read_cb", free_in_read_cb },
	{ "free_in_event_cb_on_eof", free_in_event_cb_on_eof },
	{ "error_event_passes_up", error_event_passes_up },
	{ "connected_passes_up", connected_passes_up },
	{ "timeout_passes_up", timeout_passes_up },
	{ "underlying_write_watermark", underlying_write_watermark },
	{ "filter_read_watermark", filter_read_watermark },
	{ "drain_in_read_cb_waits", drain_in_read_cb_waits },
	{ "close_on_free_levels", close_on_free_levels },
	{ NULL, NULL },
};

int
main(int argc, char **argv)
{
	return check_main(cases, argc, argv);
}
