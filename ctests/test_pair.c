/*
 * Paired bufferevents: data moves between the halves inside
 * bufferevent_write, callbacks are always deferred, watermarks cap each
 * transfer, flush pushes data along, and freeing a half unlinks it.
 */
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/buffer_compat.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "check.h"
#include "pair_util.h"

/* What the callbacks of one half saw. */
struct seen {
	int reads;
	int writes;
	int events;
	short what;
	size_t input_at_read;
};

static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct seen *s = arg;

	s->reads++;
	s->input_at_read = evbuffer_get_length(bufferevent_get_input(bev));
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

static void
pair_basics(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *pair[2] = { NULL, NULL };
	struct bufferevent *sock = NULL;

	check(base != NULL);
	check_int(bufferevent_pair_new(base, 0, pair), ==, 0);
	check(pair[0] != NULL && pair[1] != NULL);
	check_ptr(bufferevent_pair_get_partner(pair[0]), ==, pair[1]);
	check_ptr(bufferevent_pair_get_partner(pair[1]), ==, pair[0]);
	/* BEV-1, BEV-3: write-enabled only, no fd, setfd refused. */
	check_int(bufferevent_get_enabled(pair[0]), ==, EV_WRITE);
	check_int(bufferevent_getfd(pair[0]), ==, -1);
	check_int(bufferevent_setfd(pair[0], 0), ==, -1);
	check_ptr(bufferevent_get_base(pair[1]), ==, base);
	/* PAIR-8: a socket bufferevent has no partner. */
	sock = bufferevent_socket_new(base, -1, 0);
	check(sock != NULL);
	check_ptr(bufferevent_pair_get_partner(sock), ==, NULL);
end:
	if (sock)
		bufferevent_free(sock);
	pair_case_free(base, NULL, pair);
}

/* PAIR-1, PAIR-2: synchronous move, one deferred read callback. */
static void
write_moves_at_once(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *pair[2] = { NULL, NULL };
	struct seen b = { 0, 0, 0, 0, 0 };
	char buf[16];

	check(base != NULL);
	check_int(bufferevent_pair_new(base, 0, pair), ==, 0);
	bufferevent_setcb(pair[1], read_cb, NULL, event_cb, &b);
	check_int(bufferevent_enable(pair[1], EV_READ), ==, 0);
	check_int(bufferevent_write(pair[0], "hello", 5), ==, 0);
	check_int(in_len(pair[1]), ==, 5);
	check_int(out_len(pair[0]), ==, 0);
	check_int(bufferevent_write(pair[0], " world", 6), ==, 0);
	check_int(in_len(pair[1]), ==, 11);
	check_int(b.reads, ==, 0);
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_int(b.reads, ==, 1);
	check_int(b.input_at_read, ==, 11);
	check_int(bufferevent_read(pair[1], buf, sizeof(buf)), ==, 11);
	check_mem(buf, "hello world", 11);
	check_int(b.events, ==, 0);
end:
	pair_case_free(base, NULL, pair);
}

/* PAIR-3: data waits for the reader, and for the writer's EV_WRITE. */
static void
data_waits_for_flags(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *pair[2] = { NULL, NULL };

	check(base != NULL);
	check_int(bufferevent_pair_new(base, 0, pair), ==, 0);
	check_int(bufferevent_write(pair[0], "abc", 3), ==, 0);
	check_int(out_len(pair[0]), ==, 3);
	check_int(in_len(pair[1]), ==, 0);
	check_int(bufferevent_enable(pair[1], EV_READ), ==, 0);
	check_int(out_len(pair[0]), ==, 0);
	check_int(in_len(pair[1]), ==, 3);
	check_int(bufferevent_disable(pair[0], EV_WRITE), ==, 0);
	check_int(bufferevent_write(pair[0], "defg", 4), ==, 0);
	check_int(out_len(pair[0]), ==, 4);
	check_int(in_len(pair[1]), ==, 3);
	check_int(bufferevent_enable(pair[0], EV_WRITE), ==, 0);
	check_int(out_len(pair[0]), ==, 0);
	check_int(in_len(pair[1]), ==, 7);
end:
	pair_case_free(base, NULL, pair);
}

/* PAIR-4, PAIR-5: the reader's high watermark caps each transfer. */
static void
high_watermark_caps(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *pair[2] = { NULL, NULL };
	struct seen a = { 0, 0, 0, 0, 0 };
	char data[25];

	memset(data, 'x', sizeof(data));
	check(base != NULL);
	check_int(bufferevent_pair_new(base, 0, pair), ==, 0);
	bufferevent_setcb(pair[0], NULL, write_cb, NULL, &a);
	bufferevent_setwatermark(pair[1], EV_READ, 0, 10);
	check_int(bufferevent_enable(pair[1], EV_READ), ==, 0);
	check_int(bufferevent_write(pair[0], data, sizeof(data)), ==, 0);
	check_int(in_len(pair[1]), ==, 10);
	check_int(out_len(pair[0]), ==, 15);
	/* Draining the reader moves the next part at once. */
	check_int(evbuffer_drain(bufferevent_get_input(pair[1]), 10), ==, 0);
	check_int(in_len(pair[1]), ==, 10);
	check_int(out_len(pair[0]), ==, 5);
	check_int(evbuffer_drain(bufferevent_get_input(pair[1]), 10), ==, 0);
	check_int(in_len(pair[1]), ==, 5);
	check_int(out_len(pair[0]), ==, 0);
	/* The writer's write callback runs (deferred) once emptied. */
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_int(a.writes, >=, 1);
end:
	pair_case_free(base, NULL, pair);
}

/* PAIR-6, PAIR-7: flush modes. */
static void
flush_modes(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *pair[2] = { NULL, NULL };
	struct seen b = { 0, 0, 0, 0, 0 };

	check(base != NULL);
	check_int(bufferevent_pair_new(base, 0, pair), ==, 0);
	bufferevent_setcb(pair[1], NULL, NULL, event_cb, &b);
	check_int(bufferevent_write(pair[0], "12345", 5), ==, 0);
	check_int(bufferevent_flush(pair[0], EV_WRITE, BEV_NORMAL), ==, 0);
	check_int(out_len(pair[0]), ==, 5);
	/* BEV_FLUSH ignores that the partner does not read. */
	check_int(bufferevent_flush(pair[0], EV_WRITE, BEV_FLUSH), ==, 0);
	check_int(out_len(pair[0]), ==, 0);
	check_int(in_len(pair[1]), ==, 5);
	check_int(b.events, ==, 0);
	check_int(bufferevent_flush(pair[0], EV_WRITE, BEV_FINISHED), ==, 0);
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_int(b.events, ==, 1);
	check_int(b.what, ==, BEV_EVENT_EOF | BEV_EVENT_READING);
end:
	pair_case_free(base, NULL, pair);
}

/* PAIR-8: freeing a half leaves the other alone and unlinked. */
static void
free_one_half(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *pair[2] = { NULL, NULL };
	struct seen b = { 0, 0, 0, 0, 0 };

	check(base != NULL);
	check_int(bufferevent_pair_new(base, 0, pair), ==, 0);
	bufferevent_setcb(pair[1], read_cb, write_cb, event_cb, &b);
	bufferevent_free(pair[0]);
	pair[0] = NULL;
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_ptr(bufferevent_pair_get_partner(pair[1]), ==, NULL);
	check_int(bufferevent_flush(pair[1], EV_WRITE, BEV_FLUSH), ==, -1);
	check_int(bufferevent_write(pair[1], "left", 4), ==, 0);
	check_int(out_len(pair[1]), ==, 4);
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_int(b.events, ==, 0);
end:
	pair_case_free(base, NULL, pair);
}

/* PAIR-9: a read timeout on a pair is a plain timer. */
static void
read_timeout(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *pair[2] = { NULL, NULL };
	struct seen b = { 0, 0, 0, 0, 0 };
	struct timeval tv;

	check(base != NULL);
	check_int(bufferevent_pair_new(base, 0, pair), ==, 0);
	bufferevent_setcb(pair[1], read_cb, NULL, event_cb, &b);
	check_set_ms(&tv, 50 * check_time_scale());
	check_int(bufferevent_set_timeouts(pair[1], &tv, NULL), ==, 0);
	check_int(bufferevent_enable(pair[1], EV_READ), ==, 0);
	check_int(event_base_dispatch(base), ==, 1);
	check_int(b.events, ==, 1);
	check_int(b.what, ==, BEV_EVENT_TIMEOUT | BEV_EVENT_READING);
	check_int(bufferevent_get_enabled(pair[1]) & EV_READ, ==, 0);
end:
	pair_case_free(base, NULL, pair);
}

/* Data moved in restarts the read timeout (PAIR-9). */
static void
data_restarts_timeout(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *pair[2] = { NULL, NULL };
	struct seen b = { 0, 0, 0, 0, 0 };
	struct timeval tv;
	long long t0;

	check(base != NULL);
	check_int(bufferevent_pair_new(base, 0, pair), ==, 0);
	bufferevent_setcb(pair[1], read_cb, NULL, event_cb, &b);
	check_set_ms(&tv, 100 * check_time_scale());
	check_int(bufferevent_set_timeouts(pair[1], &tv, NULL), ==, 0);
	check_int(bufferevent_enable(pair[1], EV_READ), ==, 0);
	t0 = check_now_ms();
	usleep(60000 * check_time_scale());
	check_int(bufferevent_write(pair[0], "x", 1), ==, 0);
	check_int(event_base_dispatch(base), ==, 1);
	check_int(b.reads, ==, 1);
	check_int(b.what, ==, BEV_EVENT_TIMEOUT | BEV_EVENT_READING);
	/* The timer started again at the write, not at the enable. */
	check_int(check_now_ms() - t0, >=, 150 * check_time_scale());
end:
	pair_case_free(base, NULL, pair);
}

/* What one evbuffer callback saw, change by change. */
struct changes {
	int n;
	size_t orig[8], added[8], deleted[8];
};

static void
record_change(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct changes *c = arg;

	(void)buf;
	if (c->n < 8) {
		c->orig[c->n] = info->orig_size;
		c->added[c->n] = info->n_added;
		c->deleted[c->n] = info->n_deleted;
	}
	c->n++;
}

/*
 * A program watching a half's output sees each write arrive and leave
 * for the partner; once it stops watching, writes still arrive whole.
 */
static void
output_watcher_sees_move(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *pair[2] = { NULL, NULL };
	struct evbuffer_cb_entry *ent;
	struct changes c = { 0 };
	char buf[16];

	check(base != NULL);
	check_int(bufferevent_pair_new(base, 0, pair), ==, 0);
	check_int(bufferevent_enable(pair[1], EV_READ), ==, 0);
	ent = evbuffer_add_cb(bufferevent_get_output(pair[0]), record_change, &c);
	check(ent != NULL);
	check_int(bufferevent_write(pair[0], "hello", 5), ==, 0);
	check_int(c.n, ==, 2);
	check_int(c.orig[0], ==, 0);
	check_int(c.added[0], ==, 5);
	check_int(c.deleted[0], ==, 0);
	check_int(c.orig[1], ==, 5);
	check_int(c.added[1], ==, 0);
	check_int(c.deleted[1], ==, 5);
	check_int(in_len(pair[1]), ==, 5);
	check_int(evbuffer_remove_cb_entry(bufferevent_get_output(pair[0]), ent),
	    ==, 0);
	check_int(bufferevent_write(pair[0], " you", 4), ==, 0);
	check_int(c.n, ==, 2);
	check_int(out_len(pair[0]), ==, 0);
	check_int(bufferevent_read(pair[1], buf, sizeof(buf)), ==, 9);
	check_mem(buf, "hello you", 9);
end:
	pair_case_free(base, NULL, pair);
}

/* A program watching the partner's input sees each arrival once. */
static void
input_watcher_sees_arrivals(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *pair[2] = { NULL, NULL };
	struct evbuffer *extra = evbuffer_new();
	struct changes c = { 0 };

	check(base != NULL && extra != NULL);
	check_int(bufferevent_pair_new(base, 0, pair), ==, 0);
	check_int(bufferevent_enable(pair[1], EV_READ), ==, 0);
	check(evbuffer_add_cb(bufferevent_get_input(pair[1]), record_change,
	    &c) != NULL);
	check_int(bufferevent_write(pair[0], "abc", 3), ==, 0);
	check_int(evbuffer_add(extra, "de", 2), ==, 0);
	check_int(bufferevent_write_buffer(pair[0], extra), ==, 0);
	check_int(evbuffer_get_length(extra), ==, 0);
	check_int(c.n, ==, 2);
	check_int(c.orig[0], ==, 0);
	check_int(c.added[0], ==, 3);
	check_int(c.orig[1], ==, 3);
	check_int(c.added[1], ==, 2);
	check_int(c.deleted[1], ==, 0);
	check_int(in_len(pair[1]), ==, 5);
end:
	if (extra)
		evbuffer_free(extra);
	pair_case_free(base, NULL, pair);
}

/*
 * A program that froze the end of a half's output gets -1 from both
 * writes and the partner gets nothing; writing the partner's own input
 * to the half brings the bytes back where they were.
 */
static void
frozen_output_and_own_input(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *pair[2] = { NULL, NULL };
	struct evbuffer *extra = evbuffer_new();
	char buf[8];

	check(base != NULL && extra != NULL);
	check_int(bufferevent_pair_new(base, 0, pair), ==, 0);
	check_int(bufferevent_enable(pair[1], EV_READ), ==, 0);
	check_int(evbuffer_freeze(bufferevent_get_output(pair[0]), 0), ==, 0);
	check_int(evbuffer_add(extra, "zz", 2), ==, 0);
	check_int(bufferevent_write(pair[0], "abc", 3), ==, -1);
	check_int(bufferevent_write_buffer(pair[0], extra), ==, -1);
	check_int(evbuffer_get_length(extra), ==, 2);
	check_int(in_len(pair[1]), ==, 0);
	check_int(evbuffer_unfreeze(bufferevent_get_output(pair[0]), 0), ==, 0);
	check_int(bufferevent_write(pair[0], "xyz", 3), ==, 0);
	check_int(in_len(pair[1]), ==, 3);
	check_int(bufferevent_write_buffer(pair[0],
	    bufferevent_get_input(pair[1])), ==, 0);
	check_int(out_len(pair[0]), ==, 0);
	check_int(bufferevent_read(pair[1], buf, sizeof(buf)), ==, 3);
	check_mem(buf, "xyz", 3);
end:
	if (extra)
		evbuffer_free(extra);
	pair_case_free(base, NULL, pair);
}

/*
 * The compat evbuffer_setcb removes every callback of a buffer, the
 * pair's own on a half's output too: from then on what the half writes
 * stays in its output, even when the output was empty and the partner
 * reads (the partner fetches it only when it enables reading again).
 */
static void
setcb_on_output_keeps_writes(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *pair[2] = { NULL, NULL };
	struct evbuffer *extra = evbuffer_new();

	check(base != NULL && extra != NULL);
	check_int(bufferevent_pair_new(base, 0, pair), ==, 0);
	check_int(bufferevent_enable(pair[0], EV_WRITE), ==, 0);
	check_int(bufferevent_enable(pair[1], EV_READ), ==, 0);
	evbuffer_setcb(bufferevent_get_output(pair[0]), NULL, NULL);
	check_int(bufferevent_write(pair[0], "abc", 3), ==, 0);
	check_int(out_len(pair[0]), ==, 3);
	check_int(in_len(pair[1]), ==, 0);
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_int(in_len(pair[1]), ==, 0);
	check_int(bufferevent_enable(pair[1], EV_READ), ==, 0);
	check_int(out_len(pair[0]), ==, 0);
	check_int(in_len(pair[1]), ==, 3);
	check_int(evbuffer_add(extra, "de", 2), ==, 0);
	check_int(bufferevent_write_buffer(pair[0], extra), ==, 0);
	check_int(out_len(pair[0]), ==, 2);
	check_int(in_len(pair[1]), ==, 3);
end:
	if (extra)
		evbuffer_free(extra);
	pair_case_free(base, NULL, pair);
}

/* What a callback on the buffer given to bufferevent_write_buffer saw. */
struct moving {
	struct bufferevent **pair;
	int calls;
	size_t out, in;
};

static void
source_watch(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct moving *m = arg;

	(void)buf;
	(void)info;
	m->calls++;
	m->out = out_len(m->pair[0]);
	m->in = in_len(m->pair[1]);
}

/*
 * bufferevent_write_buffer moves the buffer into the half's output, whose
 * change then hands it on: the buffer's own callback runs in between and
 * sees the bytes in the output, not yet with the partner.
 */
static void
write_buffer_source_sees_output(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *pair[2] = { NULL, NULL };
	struct evbuffer *extra = evbuffer_new();
	struct moving m = { pair, 0, 0, 0 };

	check(base != NULL && extra != NULL);
	check_int(bufferevent_pair_new(base, 0, pair), ==, 0);
	check_int(bufferevent_enable(pair[0], EV_WRITE), ==, 0);
	check_int(bufferevent_enable(pair[1], EV_READ), ==, 0);
	check_int(evbuffer_add(extra, "hello", 5), ==, 0);
	check(evbuffer_add_cb(extra, source_watch, &m) != NULL);
	check_int(bufferevent_write_buffer(pair[0], extra), ==, 0);
	check_int(m.calls, ==, 1);
	check_int(m.out, ==, 5);
	check_int(m.in, ==, 0);
	check_int(out_len(pair[0]), ==, 0);
	check_int(in_len(pair[1]), ==, 5);
end:
	if (extra)
		evbuffer_free(extra);
	pair_case_free(base, NULL, pair);
}

/*
 * bufferevent_read on an input whose front the program froze fails as
 * evbuffer_remove does: (size_t)-1, and the bytes stay.
 */
static void
read_frozen_input_fails(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *pair[2] = { NULL, NULL };
	char buf[8];

	check(base != NULL);
	check_int(bufferevent_pair_new(base, 0, pair), ==, 0);
	check_int(bufferevent_enable(pair[0], EV_WRITE), ==, 0);
	check_int(bufferevent_enable(pair[1], EV_READ), ==, 0);
	check_int(bufferevent_write(pair[0], "abc", 3), ==, 0);
	check_int(evbuffer_freeze(bufferevent_get_input(pair[1]), 1), ==, 0);
	check(bufferevent_read(pair[1], buf, sizeof(buf)) == (size_t)-1);
	check_int(in_len(pair[1]), ==, 3);
	check_int(evbuffer_unfreeze(bufferevent_get_input(pair[1]), 1), ==, 0);
	check_int(bufferevent_read(pair[1], buf, sizeof(buf)), ==, 3);
end:
	pair_case_free(base, NULL, pair);
}

static const struct check_case cases[] = {
	{ "pair_basics", pair_basics },
	{ "write_moves_at_once", write_moves_at_once },
	{ "data_waits_for_flags", data_waits_for_flags },
	{ "high_watermark_caps", high_watermark_caps },
	{ "flush_modes", flush_modes },
	{ "free_one_half", free_one_half },
	{ "read_timeout", read_timeout },
	{ "data_restarts_timeout", data_restarts_timeout },
	{ "output_watcher_sees_move", output_watcher_sees_move },
	{ "input_watcher_sees_arrivals", input_watcher_sees_arrivals },
	{ "frozen_output_and_own_input", frozen_output_and_own_input },
	{ "setcb_on_output_keeps_writes", setcb_on_output_keeps_writes },
	{ "write_buffer_source_sees_output",
	    write_buffer_source_sees_output },
	{ "read_frozen_input_fails", read_frozen_input_fails },
	{ NULL, NULL },
};

int
main(int argc, char **argv)
{
	return check_main(cases, argc, argv);
}
