/*
 * Timers: <n> timer events with timeouts spread over 0..<spread_ms> ms.
 * All are added, the odd ones deleted and added again with a new timeout
 * (so the heap sees adds, deletes and re-adds), then the loop runs until
 * every timer has fired. Each must fire exactly once, from its second
 * add, and the loop must end by itself once none is pending.
 *
 * ops = timers (each: one add, one fire; half of them also a delete and
 * a re-add). The time includes waiting for the longest timeout.
 *
 * Arguments: n=100000 spread_ms=20
 */
#include <event2/event.h>

#include "bench.h"

static unsigned char *fired;
static unsigned char *readded;
static long nfired;

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	long i = (long)(size_t)arg;

	(void)fd;
	if (what != EV_TIMEOUT)
		bench_fail("timer %ld fired with 0x%x", i, what);
	if (fired[i])
		bench_fail("timer %ld fired twice", i);
	if ((i & 1) && !readded[i])
		bench_fail("deleted timer %ld fired", i);
	fired[i] = 1;
	nfired++;
}

static struct timeval
timeout_of(long i, long spread_us, unsigned salt)
{
	struct timeval tv;
	long us = (long)(((unsigned long)i * 7919u + salt) %
	    (unsigned long)spread_us);

	tv.tv_sec = us / 1000000;
	tv.tv_usec = us % 1000000;
	return tv;
}

int
main(int argc, char **argv)
{
	struct event_base *base;
	struct event **evs;
	struct timeval tv;
	long n, spread_us, i;
	double t0, t1;
	char extra[64];

	bench_set_name("timers");
	n = bench_arg(argc, argv, "n", 100000);
	spread_us = bench_arg(argc, argv, "spread_ms", 20) * 1000;
	if (n < 1 || spread_us < 1)
		bench_fail("need n >= 1 and spread_ms >= 1");

	base = event_base_new();
	evs = calloc((size_t)n, sizeof(*evs));
	fired = calloc((size_t)n, 1);
	readded = calloc((size_t)n, 1);
	if (!base || !evs || !fired || !readded)
		bench_fail("setup failed");
	for (i = 0; i < n; i++) {
		evs[i] = evtimer_new(base, on_timer, (void *)(size_t)i);
		if (!evs[i])
			bench_fail("evtimer_new failed at %ld", i);
	}

	t0 = bench_now();
	for (i = 0; i < n; i++) {
		tv = timeout_of(i, spread_us, 0);
		if (evtimer_add(evs[i], &tv) != 0)
			bench_fail("evtimer_add failed at %ld", i);
	}
	for (i = 1; i < n; i += 2) {
		if (evtimer_del(evs[i]) != 0)
			bench_fail("evtimer_del failed at %ld", i);
		if (evtimer_pending(evs[i], NULL))
			bench_fail("timer %ld pending after delete", i);
	}
	for (i = 1; i < n; i += 2) {
		tv = timeout_of(i, spread_us, 4099);
		readded[i] = 1;
		if (evtimer_add(evs[i], &tv) != 0)
			bench_fail("evtimer_add (again) failed at %ld", i);
	}
	/* 1: the loop ended because nothing was pending any more. */
	i = event_base_dispatch(base);
	if (i != 1)
		bench_fail("event_base_dispatch returned %ld, expected 1", i);
	t1 = bench_now();

	if (nfired != n)
		bench_fail("%ld of %ld timers fired", nfired, n);
	for (i = 0; i < n; i++) {
		if (!fired[i])
			bench_fail("timer %ld never fired", i);
		event_free(evs[i]);
	}
	event_base_free(base);
	free(evs);
	free(fired);
	free(readded);

	snprintf(extra, sizeof(extra), "spread_ms=%ld", spread_us / 1000);
	bench_result_rate(n, t1 - t0, extra);
	return 0;
}
