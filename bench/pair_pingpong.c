/*
 * Ping-pong over bufferevent_pair_new pairs: on each of <pairs> pairs one
 * half sends a <size>-byte message, the other half echoes it back, and the
 * sender checks every byte before sending the next one. One op is one
 * round trip; no sockets are involved, so this measures the pair's
 * in-memory transfer and its deferred callbacks.
 *
 * Arguments: pairs=64 size=64 msgs=2000 timeout=60 (seconds before a
 * stuck run fails)
 */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>

#include "bench.h"

struct duo {
	struct bufferevent *half[2];
	unsigned index;
	unsigned done;
};

static long msg_size;
static long msgs_each;
static long nduos;
static unsigned finished;
static unsigned char *scratch;
static struct event_base *base;

static void
ping(struct duo *d)
{
	bench_fill(scratch, (size_t)msg_size, d->index, d->done);
	if (bufferevent_write(d->half[0], scratch, (size_t)msg_size) != 0)
		bench_fail("bufferevent_write failed on pair %u", d->index);
}

static void
pong_back(struct bufferevent *bev, void *arg)
{
	struct duo *d = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	long bad;

	while ((long)evbuffer_get_length(in) >= msg_size) {
		if (d->done >= msgs_each)
			bench_fail("pair %u: more data than sent", d->index);
		if (evbuffer_remove(in, scratch, (size_t)msg_size) !=
		    (int)msg_size)
			bench_fail("pair %u: short evbuffer_remove", d->index);
		bad = bench_check(scratch, (size_t)msg_size, d->index,
		    d->done);
		if (bad >= 0)
			bench_fail("pair %u message %u: wrong byte at %ld",
			    d->index, d->done, bad);
		d->done++;
		if (d->done < msgs_each)
			ping(d);
		else if (++finished == nduos)
			event_base_loopexit(base, NULL);
	}
}

static void
echo(struct bufferevent *bev, void *arg)
{
	(void)arg;
	if (bufferevent_write_buffer(bev, bufferevent_get_input(bev)) != 0)
		bench_fail("bufferevent_write_buffer failed");
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct duo *d = arg;

	(void)bev;
	bench_fail("pair %u: unexpected event 0x%x", d->index, what);
}

static void
on_stuck(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	bench_fail("timed out with %u of %ld pairs finished", finished,
	    nduos);
}

int
main(int argc, char **argv)
{
	struct duo *duos;
	struct event *guard;
	struct timeval limit = { 0, 0 };
	double t0, t1;
	long i;
	char extra[64];

	bench_set_name("pair_pingpong");
	nduos = bench_arg(argc, argv, "pairs", 64);
	msg_size = bench_arg(argc, argv, "size", 64);
	msgs_each = bench_arg(argc, argv, "msgs", 2000);
	limit.tv_sec = bench_arg(argc, argv, "timeout", 60);
	if (nduos < 1 || msg_size < 1 || msgs_each < 1)
		bench_fail("pairs, size and msgs must be at least 1");

	base = event_base_new();
	duos = calloc((size_t)nduos, sizeof(*duos));
	scratch = malloc((size_t)msg_size);
	if (!base || !duos || !scratch)
		bench_fail("setup failed");
	for (i = 0; i < nduos; i++) {
		struct duo *d = &duos[i];

		d->index = (unsigned)i;
		if (bufferevent_pair_new(base, 0, d->half) != 0)
			bench_fail("bufferevent_pair_new failed at %ld", i);
		if (bufferevent_pair_get_partner(d->half[0]) != d->half[1])
			bench_fail("pair %ld: wrong partner", i);
		bufferevent_setcb(d->half[0], pong_back, NULL, on_event, d);
		bufferevent_setcb(d->half[1], echo, NULL, on_event, d);
		bufferevent_enable(d->half[0], EV_READ | EV_WRITE);
		bufferevent_enable(d->half[1], EV_READ | EV_WRITE);
	}
	guard = evtimer_new(base, on_stuck, NULL);
	if (!guard || evtimer_add(guard, &limit) != 0)
		bench_fail("guard timer failed");

	t0 = bench_now();
	for (i = 0; i < nduos; i++)
		ping(&duos[i]);
	if (event_base_dispatch(base) < 0)
		bench_fail("event_base_dispatch failed");
	t1 = bench_now();

	if ((long)finished != nduos)
		bench_fail("loop ended with %u of %ld pairs finished",
		    finished, nduos);
	for (i = 0; i < nduos; i++) {
		struct duo *d = &duos[i];

		if (d->done != msgs_each)
			bench_fail("pair %ld did %u round trips", i, d->done);
		if (evbuffer_get_length(bufferevent_get_input(d->half[1])) ||
		    evbuffer_get_length(bufferevent_get_output(d->half[0])) ||
		    evbuffer_get_length(bufferevent_get_output(d->half[1])))
			bench_fail("pair %ld: bytes left behind", i);
		bufferevent_free(d->half[0]);
		bufferevent_free(d->half[1]);
	}
	event_free(guard);
	event_base_free(base);
	free(duos);
	free(scratch);

	snprintf(extra, sizeof(extra), "pairs=%ld size=%ld", nduos, msg_size);
	bench_result_rate((long long)nduos * msgs_each, t1 - t0, extra);
	return 0;
}
