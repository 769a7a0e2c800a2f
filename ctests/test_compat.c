/*
 * test_compat: libevent 1.x's API in event_compat.h (BEHAVIOUR EV-30 to
 * EV-32): event_init's current base, event_set, event_dispatch,
 * event_loop, event_once, event_loopexit, event_loopbreak,
 * event_priority_init, event_base_set, and event_new with a NULL base.
 */
#include <string.h>
#include <sys/time.h>

#include <event2/event.h>
#include <event2/event_compat.h>
#include <event2/event_struct.h>

#include "check.h"

static int calls;
static int last_what;

static void
count_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)arg;
	calls++;
	last_what = what;
}

static void
break_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	calls++;
	event_loopbreak();
}

static void
init_sets_current_base(void)
{
	struct event_base *base = event_init();
	struct event ev;
	struct timeval tv = {0, 1000};

	calls = 0;
	check(base != NULL);
	check_str(event_get_method(), event_base_get_method(base));
	evtimer_set(&ev, count_cb, NULL);
	check_ptr(event_get_base(&ev), ==, base);
	check_int(evtimer_add(&ev, &tv), ==, 0);
	check_int(event_dispatch(), ==, 1);
	check_int(calls, ==, 1);
	check_int(last_what, ==, EV_TIMEOUT);
end:
	if (base)
		event_base_free(base);
}

static void
event_loop_flags(void)
{
	struct event_base *base = event_init();
	struct event ev;

	calls = 0;
	check(base != NULL);
	check_int(event_loop(EVLOOP_NONBLOCK), ==, 1);
	event_set(&ev, -1, EV_PERSIST, count_cb, NULL);
	check_int(event_add(&ev, NULL), ==, 0);
	event_active(&ev, EV_TIMEOUT, 1);
	check_int(event_loop(EVLOOP_ONCE), ==, 0);
	check_int(calls, ==, 1);
	event_del(&ev);
end:
	if (base)
		event_base_free(base);
}

static void
once_and_loopexit(void)
{
	struct event_base *base = event_init();
	struct timeval soon = {0, 1000}, later = {0, 20000};
	long long start;

	calls = 0;
	check(base != NULL);
	start = check_now_ms();
	check_int(event_once(-1, EV_TIMEOUT, count_cb, NULL, &soon), ==, 0);
	check_int(event_once(-1, EV_TIMEOUT | EV_PERSIST, count_cb, NULL,
	    &soon), ==, -1);
	check_int(event_loopexit(&later), ==, 0);
	check_int(event_dispatch(), ==, 0);
	check_int(calls, ==, 1);
	check_int(check_now_ms() - start, >=, 15);
	check(event_base_got_exit(base));
end:
	if (base)
		event_base_free(base);
}

static void
loopbreak_current(void)
{
	struct event_base *base = event_init();
	struct event ev;

	calls = 0;
	check(base != NULL);
	event_set(&ev, -1, EV_PERSIST, break_cb, NULL);
	check_int(event_add(&ev, NULL), ==, 0);
	event_active(&ev, EV_TIMEOUT, 1);
	check_int(event_dispatch(), ==, 0);
	check_int(calls, ==, 1);
	check(event_base_got_break(base));
	event_del(&ev);
end:
	if (base)
		event_base_free(base);
}

static void
priority_init_current(void)
{
	struct event_base *base = event_init();
	struct event ev;

	check(base != NULL);
	check_int(event_priority_init(3), ==, 0);
	check_int(event_base_get_npriorities(base), ==, 3);
	event_set(&ev, -1, 0, count_cb, NULL);
	check_int(event_get_priority(&ev), ==, 1);
	check_int(event_priority_init(0), ==, -1);
end:
	if (base)
		event_base_free(base);
}

static void
base_set_moves_idle_events(void)
{
	struct event_base *base = event_init();
	struct event_base *other = event_base_new();
	struct event ev;
	struct timeval tv = {5, 0};

	check(base != NULL && other != NULL);
	check_int(event_base_priority_init(other, 5), ==, 0);
	event_set(&ev, -1, 0, count_cb, NULL);
	check_int(event_base_set(other, &ev), ==, 0);
	check_ptr(event_get_base(&ev), ==, other);
	check_int(event_get_priority(&ev), ==, 2);
	check_int(evtimer_add(&ev, &tv), ==, 0);
	check_int(event_base_set(base, &ev), ==, -1);
	check_ptr(event_get_base(&ev), ==, other);
	check_int(event_del(&ev), ==, 0);
	check_int(event_base_set(base, &ev), ==, 0);
	check_ptr(event_get_base(&ev), ==, base);
end:
	if (other)
		event_base_free(other);
	if (base)
		event_base_free(base);
}

static void
null_base_means_current(void)
{
	struct event_base *base = event_init();
	struct event *ev = NULL;
	struct event assigned;

	calls = 0;
	check(base != NULL);
	ev = event_new(NULL, -1, 0, count_cb, NULL);
	check(ev != NULL);
	check_ptr(event_get_base(ev), ==, base);
	check_int(event_assign(&assigned, NULL, -1, 0, count_cb, NULL), ==, 0);
	check_ptr(event_get_base(&assigned), ==, base);
	event_active(ev, EV_READ, 1);
	check_int(event_dispatch(), ==, 1);
	check_int(calls, ==, 1);
	check_int(last_what, ==, EV_READ);
end:
	if (ev)
		event_free(ev);
	if (base)
		event_base_free(base);
}

static const struct check_case cases[] = {
	{"init_sets_current_base", init_sets_current_base},
	{"event_loop_flags", event_loop_flags},
	{"once_and_loopexit", once_and_loopexit},
	{"loopbreak_current", loopbreak_current},
	{"priority_init_current", priority_init_current},
	{"base_set_moves_idle_events", base_set_moves_idle_events},
	{"null_base_means_current", null_base_means_current},
	{NULL, NULL}
};

int
main(int argc, char **argv)
{
	return check_main(cases, argc, argv);
}
