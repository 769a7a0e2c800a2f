/*
 * Echo over socketpairs: for each of <pairs> AF_UNIX socketpairs, one end
 * is a bufferevent that sends a <size>-byte message and waits for it to
 * come back, the other end is a bufferevent that echoes what it reads.
 * Each pair does <msgs> round trips, one message in flight at a time.
 * Every byte that comes back is checked against the pattern it was sent
 * with.
 *
 * Arguments: pairs=64 size=4096 msgs=500 label=socketpair_echo
 *            timeout=60 (seconds before a stuck run fails)
 */
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>

#include "bench.h"

struct pair {
	struct bufferevent *pinger;
	struct bufferevent *echoer;
	unsigned index;
	unsigned done;
};

static long msg_size;
static long msgs_per_pair;
static unsigned pairs_finished;
static long npairs;
static unsigned char *scratch;
static struct event_base *base;

static void
send_message(struct pair *p)
{
	bench_fill(scratch, (size_t)msg_size, p->index, p->done);
	if (bufferevent_write(p->pinger, scratch, (size_t)msg_size) != 0)
		bench_fail("bufferevent_write failed on pair %u", p->index);
}

static void
pinger_read(struct bufferevent *bev, void *arg)
{
	struct pair *p = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	long bad;

	while ((long)evbuffer_get_length(in) >= msg_size) {
		if (p->done >= msgs_per_pair)
			bench_fail("pair %u: more data than sent", p->index);
		if (evbuffer_remove(in, scratch, (size_t)msg_size) !=
		    (int)msg_size)
			bench_fail("pair %u: short evbuffer_remove", p->index);
		bad = bench_check(scratch, (size_t)msg_size, p->index,
		    p->done);
		if (bad >= 0)
			bench_fail("pair %u message %u: wrong byte at %ld",
			    p->index, p->done, bad);
		p->done++;
		if (p->done < msgs_per_pair) {
			send_message(p);
		} else if (++pairs_finished == npairs) {
			event_base_loopexit(base, NULL);
		}
	}
}

static void
echoer_read(struct bufferevent *bev, void *arg)
{
	(void)arg;
	if (bufferevent_write_buffer(bev, bufferevent_get_input(bev)) != 0)
		bench_fail("bufferevent_write_buffer failed");
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct pair *p = arg;

	(void)bev;
	bench_fail("pair %u: unexpected event 0x%x", p->index, what);
}

static void
on_stuck(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	bench_fail("timed out with %u of %ld pairs finished", pairs_finished,
	    npairs);
}

int
main(int argc, char **argv)
{
	struct pair *pairs;
	struct event *guard;
	struct timeval limit = { 0, 0 };
	double t0, t1;
	long i;
	char extra[64];

	bench_set_name(bench_arg_str(argc, argv, "label", "socketpair_echo"));
	npairs = bench_arg(argc, argv, "pairs", 64);
	msg_size = bench_arg(argc, argv, "size", 4096);
	msgs_per_pair = bench_arg(argc, argv, "msgs", 500);
	limit.tv_sec = bench_arg(argc, argv, "timeout", 60);
	if (npairs < 1 || msg_size < 1 || msgs_per_pair < 1)
		bench_fail("pairs, size and msgs must be at least 1");

	base = event_base_new();
	pairs = calloc((size_t)npairs, sizeof(*pairs));
	scratch = malloc((size_t)msg_size);
	if (!base || !pairs || !scratch)
		bench_fail("setup failed");
	for (i = 0; i < npairs; i++) {
		evutil_socket_t fds[2];
		struct pair *p = &pairs[i];
		int opt = BEV_OPT_CLOSE_ON_FREE;

		if (evutil_socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0)
			bench_fail("socketpair failed at pair %ld", i);
		evutil_make_socket_nonblocking(fds[0]);
		evutil_make_socket_nonblocking(fds[1]);
		p->index = (unsigned)i;
		p->pinger = bufferevent_socket_new(base, fds[0], opt);
		p->echoer = bufferevent_socket_new(base, fds[1], opt);
		if (!p->pinger || !p->echoer)
			bench_fail("bufferevent_socket_new failed");
		bufferevent_setcb(p->pinger, pinger_read, NULL, on_event, p);
		bufferevent_setcb(p->echoer, echoer_read, NULL, on_event, p);
		bufferevent_enable(p->pinger, EV_READ | EV_WRITE);
		bufferevent_enable(p->echoer, EV_READ | EV_WRITE);
	}
	guard = evtimer_new(base, on_stuck, NULL);
	if (!guard || evtimer_add(guard, &limit) != 0)
		bench_fail("guard timer failed");

	t0 = bench_now();
	for (i = 0; i < npairs; i++)
		send_message(&pairs[i]);
	if (event_base_dispatch(base) < 0)
		bench_fail("event_base_dispatch failed");
	t1 = bench_now();

	if ((long)pairs_finished != npairs)
		bench_fail("loop ended with %u of %ld pairs finished",
		    pairs_finished, npairs);
	for (i = 0; i < npairs; i++) {
		if (pairs[i].done != msgs_per_pair)
			bench_fail("pair %ld did %u round trips", i,
			    pairs[i].done);
		if (evbuffer_get_length(bufferevent_get_input(
		    pairs[i].echoer)) != 0)
			bench_fail("pair %ld: echo side kept bytes", i);
		bufferevent_free(pairs[i].pinger);
		bufferevent_free(pairs[i].echoer);
	}
	event_free(guard);
	event_base_free(base);
	free(pairs);
	free(scratch);

	snprintf(extra, sizeof(extra), "pairs=%ld size=%ld", npairs,
	    msg_size);
	bench_result_rate((long long)npairs * msgs_per_pair, t1 - t0, extra);
	return 0;
}
