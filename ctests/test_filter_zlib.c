/*
 * A compression filter pair written against the system zlib: the sending
 * filter deflates everything it writes, the receiving one inflates what it
 * reads, and 10 MiB (divided by check_size_div()) cross a socketpair with
 * every byte checked on arrival.
 */
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>

#include "check.h"

#define CHUNK 16384

struct zside {
	z_stream z;
	int ready;
	int ended;
	int failed;
	int freed;
};

/* The byte at offset i of the stream: runs of eight equal bytes, so that
 * deflate has something to squeeze but every offset is still distinct
 * enough to catch a lost or repeated chunk. */
static unsigned char
pattern(size_t i)
{
	size_t k = i / 8;

	return (unsigned char)((k * 2654435761u) >> 11 ^ (i >> 13));
}

/* Feeds one pulled-up run of src through deflate or inflate into dst.
 * Returns the zlib status of the last call. */
static int
pump(struct zside *s, int deflating, unsigned char *in, size_t n,
    int flush, struct evbuffer *dst)
{
	unsigned char out[CHUNK];
	int rc;

	s->z.next_in = in;
	s->z.avail_in = (uInt)n;
	do {
		s->z.next_out = out;
		s->z.avail_out = sizeof(out);
		rc = deflating ? deflate(&s->z, flush) : inflate(&s->z, flush);
		if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
			return rc;
		if (sizeof(out) - s->z.avail_out > 0 &&
		    evbuffer_add(dst, out, sizeof(out) - s->z.avail_out) != 0)
			return Z_MEM_ERROR;
		if (rc == Z_STREAM_END)
			break;
	} while (s->z.avail_out == 0 || s->z.avail_in > 0);
	return rc;
}

static enum bufferevent_filter_result
deflate_out(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
    enum bufferevent_flush_mode mode, void *ctx)
{
	struct zside *s = ctx;
	size_t len;

	(void)limit;
	if (s->ended)
		return BEV_OK;
	while ((len = evbuffer_get_length(src)) > 0) {
		size_t n = len < CHUNK ? len : CHUNK;
		int last = n == len;
		int flush = Z_NO_FLUSH;
		unsigned char *p = evbuffer_pullup(src, (ev_ssize_t)n);
		int rc;

		if (last)
			flush = mode == BEV_FINISHED ? Z_FINISH : Z_SYNC_FLUSH;
		rc = pump(s, 1, p, n, flush, dst);
		if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
			s->failed++;
			return BEV_ERROR;
		}
		evbuffer_drain(src, n);
		if (rc == Z_STREAM_END)
			s->ended = 1;
	}
	if (mode == BEV_FINISHED && !s->ended) {
		if (pump(s, 1, NULL, 0, Z_FINISH, dst) != Z_STREAM_END) {
			s->failed++;
			return BEV_ERROR;
		}
		s->ended = 1;
	}
	return BEV_OK;
}

static enum bufferevent_filter_result
inflate_in(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
    enum bufferevent_flush_mode mode, void *ctx)
{
	struct zside *s = ctx;
	size_t len;

	(void)limit;
	(void)mode;
	if (evbuffer_get_length(src) == 0)
		return BEV_NEED_MORE;
	while ((len = evbuffer_get_length(src)) > 0 && !s->ended) {
		size_t n = len < CHUNK ? len : CHUNK;
		unsigned char *p = evbuffer_pullup(src, (ev_ssize_t)n);
		int rc = pump(s, 0, p, n, Z_SYNC_FLUSH, dst);

		if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
			s->failed++;
			return BEV_ERROR;
		}
		/* inflate keeps no input it has not consumed. */
		evbuffer_drain(src, n - s->z.avail_in);
		if (rc == Z_STREAM_END)
			s->ended = 1;
	}
	return BEV_OK;
}

static void
zfree(void *ctx)
{
	struct zside *s = ctx;

	s->freed++;
}

struct recv {
	struct event_base *base;
	struct zside *zs;
	size_t want;
	size_t got;
	size_t bad_at;
	int bad;
	int events;
};

static void
recv_read(struct bufferevent *bev, void *arg)
{
	struct recv *r = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	unsigned char buf[CHUNK];
	int n;

	while ((n = evbuffer_remove(in, buf, sizeof(buf))) > 0) {
		int i;

		for (i = 0; i < n; i++) {
			if (!r->bad && buf[i] != pattern(r->got + i)) {
				r->bad = 1;
				r->bad_at = r->got + i;
			}
		}
		r->got += (size_t)n;
	}
	if (r->got >= r->want && r->zs->ended)
		event_base_loopexit(r->base, NULL);
}

static void
recv_event(struct bufferevent *bev, short what, void *arg)
{
	struct recv *r = arg;

	(void)bev;
	(void)what;
	r->events++;
	event_base_loopexit(r->base, NULL);
}

static void
ten_mib_through_socketpair(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *su = NULL, *ru = NULL, *sf = NULL, *rf = NULL;
	struct zside tx, rx;
	struct recv r;
	struct timeval limit = { 20, 0 };
	int fds[2] = { -1, -1 };
	size_t total = (size_t)10 * 1024 * 1024 / (size_t)check_size_div();
	unsigned char *data = NULL;
	size_t i;

	memset(&tx, 0, sizeof(tx));
	memset(&rx, 0, sizeof(rx));
	memset(&r, 0, sizeof(r));
	limit.tv_sec *= check_time_scale();
	check(base != NULL);
	check_int(deflateInit(&tx.z, 6), ==, Z_OK);
	tx.ready = 1;
	check_int(inflateInit(&rx.z), ==, Z_OK);
	rx.ready = 1;
	check_int(evutil_socketpair(AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
	evutil_make_socket_nonblocking(fds[0]);
	evutil_make_socket_nonblocking(fds[1]);
	su = bufferevent_socket_new(base, fds[0], BEV_OPT_CLOSE_ON_FREE);
	check(su != NULL);
	fds[0] = -1;
	ru = bufferevent_socket_new(base, fds[1], BEV_OPT_CLOSE_ON_FREE);
	check(ru != NULL);
	fds[1] = -1;
	sf = bufferevent_filter_new(su, NULL, deflate_out,
	    BEV_OPT_CLOSE_ON_FREE, zfree, &tx);
	check(sf != NULL);
	su = NULL;
	rf = bufferevent_filter_new(ru, inflate_in, NULL,
	    BEV_OPT_CLOSE_ON_FREE, zfree, &rx);
	check(rf != NULL);
	ru = NULL;
	r.base = base;
	r.zs = &rx;
	r.want = total;
	bufferevent_setcb(rf, recv_read, NULL, recv_event, &r);
	check_int(bufferevent_enable(rf, EV_READ), ==, 0);

	data = malloc(total);
	check(data != NULL);
	for (i = 0; i < total; i++)
		data[i] = pattern(i);
	/* Deflated inside the write (FILT-8), sent as the socket drains. */
	check_int(bufferevent_write(sf, data, total), ==, 0);
	check_int(evbuffer_get_length(bufferevent_get_output(sf)), ==, 0);
	/* BEV_FINISHED ends the zlib stream. */
	check_int(bufferevent_flush(sf, EV_WRITE, BEV_FINISHED), ==, 1);
	check_int(tx.ended, ==, 1);
	event_base_loopexit(base, &limit);
	check_int(event_base_dispatch(base), ==, 0);
	check_int(tx.failed + rx.failed, ==, 0);
	check_int(r.events, ==, 0);
	check_int(r.bad, ==, 0);
	check_int(r.got, ==, total);
	check_int(rx.ended, ==, 1);
	check(tx.z.total_out < total);
	bufferevent_free(sf);
	sf = NULL;
	bufferevent_free(rf);
	rf = NULL;
	event_base_loop(base, EVLOOP_NONBLOCK);
	/* FILT-13: each context freed exactly once. */
	check_int(tx.freed, ==, 1);
	check_int(rx.freed, ==, 1);
end:
	free(data);
	if (sf)
		bufferevent_free(sf);
	if (rf)
		bufferevent_free(rf);
	if (su)
		bufferevent_free(su);
	if (ru)
		bufferevent_free(ru);
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	if (tx.ready)
		deflateEnd(&tx.z);
	if (rx.ready)
		inflateEnd(&rx.z);
	if (base)
		event_base_free(base);
}

/* Corrupt compressed input: the inflate filter answers BEV_ERROR, which
 * 2.1.12 does not report (FILT-7); the bad bytes stay underneath. */
static void
corrupt_input_stops(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *pair[2] = { NULL, NULL };
	struct bufferevent *rf = NULL;
	struct zside rx;
	struct recv r;
	static const char junk[] = "this is not a zlib stream";

	memset(&rx, 0, sizeof(rx));
	memset(&r, 0, sizeof(r));
	check(base != NULL);
	check_int(inflateInit(&rx.z), ==, Z_OK);
	rx.ready = 1;
	check_int(bufferevent_pair_new(base, 0, pair), ==, 0);
	rf = bufferevent_filter_new(pair[0], inflate_in, NULL, 0, zfree, &rx);
	check(rf != NULL);
	r.base = base;
	r.zs = &rx;
	r.want = 1;
	bufferevent_setcb(rf, recv_read, NULL, recv_event, &r);
	check_int(bufferevent_enable(rf, EV_READ), ==, 0);
	check_int(bufferevent_enable(pair[1], EV_READ), ==, 0);
	check_int(bufferevent_write(pair[1], junk, sizeof(junk) - 1), ==, 0);
	event_base_loop(base, EVLOOP_NONBLOCK);
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_int(rx.failed, >=, 1);
	check_int(r.events, ==, 0);
	check_int(r.got, ==, 0);
	check_int(evbuffer_get_length(bufferevent_get_input(pair[0])), ==,
	    sizeof(junk) - 1);
	bufferevent_free(rf);
	rf = NULL;
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_int(rx.freed, ==, 1);
end:
	if (rf)
		bufferevent_free(rf);
	if (pair[0])
		bufferevent_free(pair[0]);
	if (pair[1])
		bufferevent_free(pair[1]);
	if (rx.ready)
		inflateEnd(&rx.z);
	if (base)
		event_base_free(base);
}

static const struct check_case cases[] = {
	{ "ten_mib_through_socketpair", ten_mib_through_socketpair },
	{ "corrupt_input_stops", corrupt_input_stops },
	{ NULL, NULL },
};

int
main(int argc, char **argv)
{
	return check_main(cases, argc, argv);
}
