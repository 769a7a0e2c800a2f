/*
 * test_timers: common timeouts (BEHAVIOUR EV-24), event_base_once
 * (EV-22), timed loopexit as a one-shot timer (EV-40), re-adding an
 * event whose timeout already fired (EV-39), EVLOOP_NO_EXIT_ON_EMPTY,
 * the cached time and the monotonic clock.
 */
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "check.h"

/*
 * How early a timer may seem to fire, in ms: 2.1.12 reads a coarse
 * monotonic clock (a tick of a few ms), so its deadlines can fall that much
 * before the precise clock this test measures with.
 */
#define CLOCK_SLACK 5

static int calls;
static int last_what;
static long long fired_at;

static void
count_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)arg;
	calls++;
	last_what = what;
	fired_at = check_now_ms();
}

static void
common_timeout_tagged(void)
{
	struct event_base *base = event_base_new();
	struct timeval d = {0, 30000}, d2 = {0, 30000}, other = {0, 40000};
	const struct timeval *c1, *c2, *c3;

	check(base != NULL);
	c1 = event_base_init_common_timeout(base, &d);
	c2 = event_base_init_common_timeout(base, &d2);
	c3 = event_base_init_common_timeout(base, &other);
	check(c1 != NULL && c3 != NULL);
	check_ptr(c1, ==, c2);
	check_ptr(c1, !=, c3);
	check_int(c1->tv_sec, ==, 0);
	check_int(c1->tv_usec, !=, 30000);
	check_int(c1->tv_usec & 0xfffff, ==, 30000);
	check_int(c1->tv_usec & ~0xfffff, !=, 0);
	check_int(c3->tv_usec & 0xfffff, ==, 40000);
end:
	if (base)
		event_base_free(base);
}

static void
common_timeout_fires(void)
{
	struct event_base *base = event_base_new();
	struct timeval d;
	const struct timeval *common;
	struct event *ev = NULL;
	long long start;
	int ms = 40 * check_time_scale();

	calls = 0;
	check(base != NULL);
	check_set_ms(&d, ms);
	common = event_base_init_common_timeout(base, &d);
	check(common != NULL);
	ev = evtimer_new(base, count_cb, NULL);
	check(ev != NULL);
	start = check_now_ms();
	check_int(evtimer_add(ev, common), ==, 0);
	check_int(evtimer_pending(ev, NULL), ==, EV_TIMEOUT);
	check_int(event_base_dispatch(base), ==, 1);
	check_int(calls, ==, 1);
	check_int(last_what, ==, EV_TIMEOUT);
	check_int(fired_at - start, >=, ms - CLOCK_SLACK);
	check_int(fired_at - start, <, ms + 500 * check_time_scale());
end:
	if (ev)
		event_free(ev);
	if (base)
		event_base_free(base);
}

static void
once_rules(void)
{
	struct event_base *base = event_base_new();
	int fds[2] = {-1, -1};

	calls = 0;
	check(base != NULL);
	check_int(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
	check_int(event_base_once(base, -1, EV_TIMEOUT | EV_PERSIST,
	    count_cb, NULL, NULL), ==, -1);
	check_int(event_base_once(base, SIGUSR1, EV_SIGNAL,
	    count_cb, NULL, NULL), ==, -1);
	/* A NULL timeout means the next pass. */
	check_int(event_base_once(base, -1, EV_TIMEOUT, count_cb, NULL,
	    NULL), ==, 0);
	check_int(event_base_loop(base, EVLOOP_NONBLOCK), ==, 1);
	check_int(calls, ==, 1);
	/* fd readiness. */
	check_int(event_base_once(base, fds[1], EV_WRITE, count_cb, NULL,
	    NULL), ==, 0);
	check_int(event_base_dispatch(base), ==, 1);
	check_int(calls, ==, 2);
	check_int(last_what, ==, EV_WRITE);
	check_int(event_base_dispatch(base), ==, 1);
	check_int(calls, ==, 2);
end:
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	if (base)
		event_base_free(base);
}

static void
loopexit_timers_are_one_shot(void)
{
	struct event_base *base = event_base_new();
	struct timeval near, far;
	long long start;
	int unit = 20 * check_time_scale();

	check(base != NULL);
	check_set_ms(&near, unit);
	check_set_ms(&far, 3 * unit);
	/* The clock starts before the timers are set: they count from then,
	 * and setting them may be slow under valgrind. */
	start = check_now_ms();
	check_int(event_base_loopexit(base, &far), ==, 0);
	check_int(event_base_loopexit(base, &near), ==, 0);
	check_int(event_base_dispatch(base), ==, 0);
	check_int(check_now_ms() - start, <, 3 * unit);
	/* The far one is still pending: it keeps the base busy and ends
	 * the next loop. */
	check_int(event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED),
	    ==, 1);
	check_int(event_base_dispatch(base), ==, 0);
	check_int(check_now_ms() - start, >=, 3 * unit - CLOCK_SLACK);
	check_int(event_base_dispatch(base), ==, 1);
end:
	if (base)
		event_base_free(base);
}

static void
readd_drops_fired_timeout(void)
{
	struct event_base *base = event_base_new();
	struct event *ev = NULL;
	struct timeval now = {0, 0}, later = {10, 0};

	calls = 0;
	check(base != NULL);
	ev = evtimer_new(base, count_cb, NULL);
	check(ev != NULL);
	check_int(evtimer_add(ev, &now), ==, 0);
	usleep(2000);
	check_int(event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK), ==, 0);
	check_int(calls, ==, 1);
	/* A timeout that is active but has not run yet, then re-added with
	 * a new timeout: the old expiry is not delivered. */
	event_active(ev, EV_TIMEOUT, 1);
	check_int(evtimer_add(ev, &later), ==, 0);
	check_int(evtimer_pending(ev, NULL), ==, EV_TIMEOUT);
	check_int(event_base_loop(base, EVLOOP_NONBLOCK), ==, 0);
	check_int(calls, ==, 1);
end:
	if (ev)
		event_free(ev);
	if (base)
		event_base_free(base);
}

static void
no_exit_on_empty_waits_for_exit(void)
{
	struct event_base *base = event_base_new();
	struct timeval tv;
	long long start;
	int ms = 30 * check_time_scale();

	check(base != NULL);
	check_set_ms(&tv, ms);
	start = check_now_ms();
	check_int(event_base_loopexit(base, &tv), ==, 0);
	check_int(event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY), ==, 0);
	check_int(check_now_ms() - start, >=, ms - CLOCK_SLACK);
	check(event_base_got_exit(base));
end:
	if (base)
		event_base_free(base);
}

static struct timeval cached_a, cached_b;

static void
cache_cb(evutil_socket_t fd, short what, void *arg)
{
	struct event_base *base = arg;

	(void)fd;
	(void)what;
	event_base_gettimeofday_cached(base, &cached_a);
	usleep(20000);
	event_base_update_cache_time(base);
	event_base_gettimeofday_cached(base, &cached_b);
}

static void
update_cache_time(void)
{
	struct event_base *base = event_base_new();
	struct event *ev = NULL;
	long long diff;

	check(base != NULL);
	ev = evtimer_new(base, cache_cb, base);
	check(ev != NULL);
	event_active(ev, EV_TIMEOUT, 1);
	check_int(event_base_dispatch(base), ==, 1);
	diff = (cached_b.tv_sec - cached_a.tv_sec) * 1000LL +
	    (cached_b.tv_usec - cached_a.tv_usec) / 1000;
	check_int(diff, >=, 15);
	check_int(event_base_update_cache_time(base), ==, 0);
end:
	if (ev)
		event_free(ev);
	if (base)
		event_base_free(base);
}

static void
monotonic_clock(void)
{
	struct event_base *base = event_base_new();
	struct timeval a, b;
	long long diff;

	check(base != NULL);
	check_int(event_gettime_monotonic(base, &a), ==, 0);
	usleep(20000);
	check_int(event_gettime_monotonic(base, &b), ==, 0);
	diff = (b.tv_sec - a.tv_sec) * 1000000LL + (b.tv_usec - a.tv_usec);
	/* The reference reads a coarse clock: a few ms of slack. */
	check_int(diff, >=, 10000);
	check_int(diff, <, 5000000);
end:
	if (base)
		event_base_free(base);
}

static const struct check_case cases[] = {
	{"common_timeout_tagged", common_timeout_tagged},
	{"common_timeout_fires", common_timeout_fires},
	{"once_rules", once_rules},
	{"loopexit_timers_are_one_shot", loopexit_timers_are_one_shot},
	{"readd_drops_fired_timeout", readd_drops_fired_timeout},
	{"no_exit_on_empty_waits_for_exit", no_exit_on_empty_waits_for_exit},
	{"update_cache_time", update_cache_time},
	{"monotonic_clock", monotonic_clock},
	{NULL, NULL}
};

int
main(int argc, char **argv)
{
	return check_main(cases, argc, argv);
}
