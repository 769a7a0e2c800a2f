/*
 * Pair options: BEV_OPT_CLOSE_ON_FREE and BEV_OPT_DEFER_CALLBACKS change
 * nothing a program can see on a pair (its callbacks are deferred anyway,
 * and it has no fd), and get_partner answers NULL once the partner is
 * gone, however it went.
 */
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "check.h"
#include "pair_util.h"

struct seen {
	int reads;
	int events;
	short what;
	struct bufferevent **victim;
};

static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct seen *s = arg;

	(void)bev;
	s->reads++;
	if (s->victim && *s->victim) {
		bufferevent_free(*s->victim);
		*s->victim = NULL;
	}
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct seen *s = arg;

	(void)bev;
	s->events++;
	s->what |= what;
}

/* The same script with each option set: deferred read and event
 * callbacks, the partner left alone by a free. */
static void
run_with(int options)
{
	struct event_base *base = event_base_new();
	struct bufferevent *pair[2] = { NULL, NULL };
	struct seen b;
	char buf[8];

	memset(&b, 0, sizeof(b));
	check(base != NULL);
	check_int(bufferevent_pair_new(base, options, pair), ==, 0);
	bufferevent_setcb(pair[1], read_cb, NULL, event_cb, &b);
	check_int(bufferevent_enable(pair[1], EV_READ), ==, 0);
	check_int(bufferevent_write(pair[0], "abc", 3), ==, 0);
	check_int(in_len(pair[1]), ==, 3);
	check_int(b.reads, ==, 0);
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_int(b.reads, ==, 1);
	/* PAIR-7: EOF from BEV_FINISHED, deferred like the rest. */
	check_int(bufferevent_flush(pair[0], EV_WRITE, BEV_FINISHED), ==, 0);
	check_int(b.events, ==, 0);
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_int(b.events, ==, 1);
	check_int(b.what, ==, BEV_EVENT_EOF | BEV_EVENT_READING);
	/* PAIR-8: the free reaches the partner with no event. */
	bufferevent_free(pair[0]);
	pair[0] = NULL;
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_int(b.events, ==, 1);
	check_ptr(bufferevent_pair_get_partner(pair[1]), ==, NULL);
	check_int(bufferevent_read(pair[1], buf, sizeof(buf)), ==, 3);
	check_int(bufferevent_write(pair[1], "left", 4), ==, 0);
	check_int(evbuffer_get_length(bufferevent_get_output(pair[1])), ==,
	    4);
	check_int(bufferevent_flush(pair[1], EV_WRITE, BEV_FLUSH), ==, -1);
end:
	pair_case_free(base, NULL, pair);
}

static void
no_options(void)
{
	run_with(0);
}

static void
close_on_free(void)
{
	run_with(BEV_OPT_CLOSE_ON_FREE);
}

static void
defer_callbacks(void)
{
	run_with(BEV_OPT_DEFER_CALLBACKS);
}

static void
both_options(void)
{
	run_with(BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
}

/* The partner freed from inside this half's read callback. */
static void
partner_freed_in_callback(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *pair[2] = { NULL, NULL };
	struct seen b;

	memset(&b, 0, sizeof(b));
	check(base != NULL);
	check_int(bufferevent_pair_new(base, BEV_OPT_CLOSE_ON_FREE, pair),
	    ==, 0);
	b.victim = &pair[0];
	bufferevent_setcb(pair[1], read_cb, NULL, event_cb, &b);
	check_int(bufferevent_enable(pair[1], EV_READ), ==, 0);
	check_int(bufferevent_write(pair[0], "x", 1), ==, 0);
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_int(b.reads, ==, 1);
	check_ptr(pair[0], ==, NULL);
	check_ptr(bufferevent_pair_get_partner(pair[1]), ==, NULL);
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_int(b.events, ==, 0);
end:
	pair_case_free(base, NULL, pair);
}

/* A filter over a half, freed with BEV_OPT_CLOSE_ON_FREE, frees the half:
 * the other half loses its partner. */
static void
partner_freed_by_filter(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *pair[2] = { NULL, NULL };
	struct bufferevent *filt = NULL;

	check(base != NULL);
	check_int(bufferevent_pair_new(base, 0, pair), ==, 0);
	filt = bufferevent_filter_new(pair[0], NULL, NULL,
	    BEV_OPT_CLOSE_ON_FREE, NULL, NULL);
	check(filt != NULL);
	pair[0] = NULL;
	check(bufferevent_pair_get_partner(pair[1]) != NULL);
	check_ptr(bufferevent_pair_get_partner(filt), ==, NULL);
	bufferevent_free(filt);
	filt = NULL;
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_ptr(bufferevent_pair_get_partner(pair[1]), ==, NULL);
end:
	pair_case_free(base, filt, pair);
}

static const struct check_case cases[] = {
	{ "no_options", no_options },
	{ "close_on_free", close_on_free },
	{ "defer_callbacks", defer_callbacks },
	{ "both_options", both_options },
	{ "partner_freed_in_callback", partner_freed_in_callback },
	{ "partner_freed_by_filter", partner_freed_by_filter },
	{ NULL, NULL },
};

int
main(int argc, char **argv)
{
	return check_main(cases, argc, argv);
}
