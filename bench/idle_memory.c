/*
 * Idle memory per connected bufferevent. <conns> AF_UNIX socketpairs are
 * opened first; the resident set size (VmRSS in /proc/self/status) is read;
 * then a socket bufferevent is made on both ends of every pair, reading and
 * writing are enabled and the loop runs once so that every fd is
 * registered with the backend; VmRSS is read again. The difference divided
 * by the number of bufferevents is the result (bytes, lower is better).
 *
 * Each pair needs two descriptors, so the soft RLIMIT_NOFILE is first
 * raised to the hard limit; if that still does not allow <conns> pairs,
 * fewer are made and the RESULT line says so (requested= and nofile=).
 * After the measurement every pair carries one 16-byte message each way,
 * checked on arrival, to show that the bufferevents were connected.
 *
 * Arguments: conns=10000 timeout=60
 */
#include <sys/resource.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>

#include "bench.h"

#define MSG_LEN 16

static long delivered;
static long expected;
static struct event_base *base;

/* VmRSS of this process in KiB. */
static long
rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;

	if (!f)
		bench_fail("cannot open /proc/self/status");
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	}
	fclose(f);
	if (kib < 0)
		bench_fail("no VmRSS in /proc/self/status");
	return kib;
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	unsigned char buf[MSG_LEN];
	long bad;

	if (evbuffer_get_length(in) < MSG_LEN)
		return;
	if (evbuffer_get_length(in) > MSG_LEN)
		bench_fail("bufferevent %ld got more than one message",
		    (long)(size_t)arg);
	evbuffer_remove(in, buf, MSG_LEN);
	/* The peer of bufferevent k is k ^ 1: it sent pattern (k ^ 1). */
	bad = bench_check(buf, MSG_LEN, (unsigned)((size_t)arg ^ 1), 0);
	if (bad >= 0)
		bench_fail("bufferevent %ld: wrong byte at %ld",
		    (long)(size_t)arg, bad);
	if (++delivered == expected)
		event_base_loopexit(base, NULL);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	bench_fail("bufferevent %ld: unexpected event 0x%x",
	    (long)(size_t)arg, what);
}

static void
on_stuck(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	bench_fail("timed out: %ld of %ld messages delivered", delivered,
	    expected);
}

int
main(int argc, char **argv)
{
	struct rlimit rl;
	struct bufferevent **bevs;
	evutil_socket_t *fds;
	struct event *guard;
	struct timeval limit = { 0, 0 };
	unsigned char msg[MSG_LEN];
	long requested, conns, nbev, i, rss0, rss1;
	double t0, t1, per_bev;

	bench_set_name("idle_memory");
	requested = bench_arg(argc, argv, "conns", 10000);
	limit.tv_sec = bench_arg(argc, argv, "timeout", 60);
	if (requested < 1)
		bench_fail("conns must be at least 1");

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		bench_fail("getrlimit failed");
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			bench_fail("setrlimit to the hard limit failed");
	}
	conns = requested;
	/* Room for stdio, the backend, the guard timer and the loader. */
	if (rl.rlim_cur != RLIM_INFINITY &&
	    (rlim_t)(2 * conns + 64) > rl.rlim_cur)
		conns = ((long)rl.rlim_cur - 64) / 2;
	if (conns < 1)
		bench_fail("RLIMIT_NOFILE %ld leaves no room",
		    (long)rl.rlim_cur);
	nbev = 2 * conns;
	expected = nbev;

	base = event_base_new();
	bevs = calloc((size_t)nbev, sizeof(*bevs));
	fds = calloc((size_t)nbev, sizeof(*fds));
	if (!base || !bevs || !fds)
		bench_fail("setup failed");
	guard = evtimer_new(base, on_stuck, NULL);
	if (!guard || evtimer_add(guard, &limit) != 0)
		bench_fail("guard timer failed");
	/* Touch both arrays now so their pages count in the baseline. */
	memset(bevs, 0, (size_t)nbev * sizeof(*bevs));
	for (i = 0; i < conns; i++) {
		if (evutil_socketpair(AF_UNIX, SOCK_STREAM, 0,
		    &fds[2 * i]) != 0)
			bench_fail("socketpair %ld failed", i);
		evutil_make_socket_nonblocking(fds[2 * i]);
		evutil_make_socket_nonblocking(fds[2 * i + 1]);
	}
	rss0 = rss_kib();

	t0 = bench_now();
	for (i = 0; i < nbev; i++) {
		bevs[i] = bufferevent_socket_new(base, fds[i],
		    BEV_OPT_CLOSE_ON_FREE);
		if (!bevs[i])
			bench_fail("bufferevent_socket_new %ld failed", i);
		bufferevent_setcb(bevs[i], on_read, NULL, on_event,
		    (void *)(size_t)i);
		if (bufferevent_enable(bevs[i], EV_READ | EV_WRITE) != 0)
			bench_fail("bufferevent_enable %ld failed", i);
	}
	if (event_base_loop(base, EVLOOP_NONBLOCK) < 0)
		bench_fail("event_base_loop failed");
	t1 = bench_now();
	rss1 = rss_kib();
	per_bev = (double)(rss1 - rss0) * 1024.0 / (double)nbev;

	for (i = 0; i < nbev; i++) {
		bench_fill(msg, MSG_LEN, (unsigned)i, 0);
		if (bufferevent_write(bevs[i], msg, MSG_LEN) != 0)
			bench_fail("bufferevent_write %ld failed", i);
	}
	if (event_base_dispatch(base) < 0)
		bench_fail("event_base_dispatch failed");
	if (delivered != expected)
		bench_fail("%ld of %ld messages delivered", delivered,
		    expected);
	for (i = 0; i < nbev; i++)
		bufferevent_free(bevs[i]);
	event_free(guard);
	event_base_free(base);
	free(bevs);
	free(fds);

	printf("RESULT name=idle_memory ops=%ld seconds=%.6f rate=%.1f "
	    "value=%.0f unit=B/bev better=lower requested=%ld conns=%ld "
	    "nofile=%ld rss_before_kib=%ld rss_after_kib=%ld\n",
	    nbev, t1 - t0, (double)nbev / (t1 - t0), per_bev, requested,
	    conns, (long)rl.rlim_cur, rss0, rss1);
	return 0;
}
