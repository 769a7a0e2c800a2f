/*
 * test_loop: event_base life and the loop's control (BEHAVIOUR EV-1 to
 * EV-9): return values of dispatch and loop, EVLOOP_ONCE and
 * EVLOOP_NONBLOCK, loopexit, loopbreak, got_exit and got_break, and the
 * backend's name.
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "check.h"

/* What the callbacks below saw. */
static int calls;
static int other_calls;
static int nested_result;
static int warnings;

static void
count_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	calls++;
}

static void
other_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	other_calls++;
}

static void
log_cb(int severity, const char *msg)
{
	(void)msg;
	if (severity == EVENT_LOG_WARN)
		warnings++;
}

static void
base_new_free(void)
{
	struct event_base *base = event_base_new();
	struct event_base *other = event_base_new();

	check(base != NULL);
	check(other != NULL);
	check_ptr(base, !=, other);
end:
	if (base)
		event_base_free(base);
	if (other)
		event_base_free(other);
}

static void
method_is_epoll(void)
{
	struct event_base *base = event_base_new();
	int features;

	check(base != NULL);
	check_str(event_base_get_method(base), "epoll");
	features = event_base_get_features(base);
	check(features & EV_FEATURE_ET);
	check(features & EV_FEATURE_O1);
	check(features & EV_FEATURE_EARLY_CLOSE);
end:
	if (base)
		event_base_free(base);
}

/* EV-1: an empty base returns 1 at once, whatever the flags. */
static void
empty_loop_returns_one(void)
{
	struct event_base *base = event_base_new();
	long long start = check_now_ms();

	check(base != NULL);
	check_int(event_base_dispatch(base), ==, 1);
	check_int(event_base_loop(base, 0), ==, 1);
	check_int(event_base_loop(base, EVLOOP_NONBLOCK), ==, 1);
	check_int(event_base_loop(base, EVLOOP_ONCE), ==, 1);
	check_int(event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK), ==, 1);
	check_int(check_now_ms() - start, <, 100 * check_time_scale());
end:
	if (base)
		event_base_free(base);
}

/* EV-1: the loop also returns 1 when its last event is used up. */
static void
last_event_used_up_returns_one(void)
{
	struct event_base *base = event_base_new();
	struct event *ev = NULL;
	struct timeval tv;

	calls = 0;
	check(base != NULL);
	ev = evtimer_new(base, count_cb, NULL);
	check(ev != NULL);
	check_set_ms(&tv, 5);
	check_int(evtimer_add(ev, &tv), ==, 0);
	check_int(event_base_dispatch(base), ==, 1);
	check_int(calls, ==, 1);
	check(!event_base_got_exit(base));
	check(!event_base_got_break(base));
end:
	if (ev)
		event_free(ev);
	if (base)
		event_base_free(base);
}

static void
nested_cb(evutil_socket_t fd, short what, void *arg)
{
	struct event_base *base = arg;

	(void)fd;
	(void)what;
	nested_result = event_base_loop(base, EVLOOP_NONBLOCK);
}

/* EV-2: a loop started from inside the running loop fails with a warning. */
static void
nested_loop_fails(void)
{
	struct event_base *base = event_base_new();
	struct event *ev = NULL;

	nested_result = 0;
	warnings = 0;
	check(base != NULL);
	ev = event_new(base, -1, 0, nested_cb, base);
	check(ev != NULL);
	event_set_log_callback(log_cb);
	event_active(ev, EV_TIMEOUT, 0);
	check_int(event_base_dispatch(base), ==, 1);
	check_int(nested_result, ==, -1);
	check_int(warnings, >=, 1);
end:
	event_set_log_callback(NULL);
	if (ev)
		event_free(ev);
	if (base)
		event_base_free(base);
}

/* EV-2, EV-9: loopexit with a timeout ends the loop with 0 after it. */
static void
loopexit_timeout(void)
{
	struct event_base *base = event_base_new();
	struct event *tick = NULL;
	struct timeval tv;
	long long start, took;
	int scale = check_time_scale();

	calls = 0;
	check(base != NULL);
	tick = event_new(base, -1, EV_PERSIST, count_cb, NULL);
	check(tick != NULL);
	check_set_ms(&tv, 5);
	check_int(event_add(tick, &tv), ==, 0);
	check_set_ms(&tv, 60);
	start = check_now_ms();
	check_int(event_base_loopexit(base, &tv), ==, 0);
	check_int(event_base_dispatch(base), ==, 0);
	took = check_now_ms() - start;
	check_int(took, >=, 50);
	check_int(took, <, 60 + 300 * scale);
	check_int(calls, >=, 2);
	check(event_base_got_exit(base));
	check(!event_base_got_break(base));
	/* The tick is still pending: the base is not empty. */
	check(event_pending(tick, EV_TIMEOUT, NULL));
end:
	if (tick)
		event_free(tick);
	if (base)
		event_base_free(base);
}

static void
break_after_three_cb(evutil_socket_t fd, short what, void *arg)
{
	struct event_base *base = arg;

	(void)fd;
	(void)what;
	if (++calls == 3)
		event_base_loopbreak(base);
}

/* EV-2, EV-9: loopbreak from a callback ends the loop with 0. */
static void
loopbreak_from_callback(void)
{
	struct event_base *base = event_base_new();
	struct event *tick = NULL;
	struct timeval tv;

	calls = 0;
	check(base != NULL);
	tick = event_new(base, -1, EV_PERSIST, break_after_three_cb, base);
	check(tick != NULL);
	check_set_ms(&tv, 2);
	check_int(event_add(tick, &tv), ==, 0);
	check_int(event_base_dispatch(base), ==, 0);
	check_int(calls, ==, 3);
	check(event_base_got_break(base));
	check(!event_base_got_exit(base));
end:
	if (tick)
		event_free(tick);
	if (base)
		event_base_free(base);
}

/* EV-3: NONBLOCK never waits for a timer that is not due. */
static void
nonblock_does_not_wait(void)
{
	struct event_base *base = event_base_new();
	struct event *ev = NULL;
	struct timeval tv;
	long long start;

	calls = 0;
	check(base != NULL);
	ev = evtimer_new(base, count_cb, NULL);
	check(ev != NULL);
	check_set_ms(&tv, 1000);
	check_int(evtimer_add(ev, &tv), ==, 0);
	start = check_now_ms();
	check_int(event_base_loop(base, EVLOOP_NONBLOCK), ==, 0);
	check_int(event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK), ==, 0);
	check_int(check_now_ms() - start, <, 100 * check_time_scale());
	check_int(calls, ==, 0);
	check(evtimer_pending(ev, NULL));
end:
	if (ev)
		event_free(ev);
	if (base)
		event_base_free(base);
}

static void
drain_on_fifth_cb(evutil_socket_t fd, short what, void *arg)
{
	char c;

	(void)what;
	(void)arg;
	if (++calls == 5 && read(fd, &c, 1) != 1)
		calls = -100;
}

/*
 * EV-3: NONBLOCK keeps making passes while an fd stays ready; ONCE|NONBLOCK
 * makes exactly one.
 */
static void
nonblock_repeats_while_ready(void)
{
	struct event_base *base = event_base_new();
	struct event *ev = NULL;
	int fds[2] = {-1, -1};

	calls = 0;
	check(base != NULL);
	check_int(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
	check_int(write(fds[1], "x", 1), ==, 1);
	ev = event_new(base, fds[0], EV_READ | EV_PERSIST, drain_on_fifth_cb,
	    NULL);
	check(ev != NULL);
	check_int(event_add(ev, NULL), ==, 0);

	check_int(event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK), ==, 0);
	check_int(calls, ==, 1);
	check_int(event_base_loop(base, EVLOOP_NONBLOCK), ==, 0);
	check_int(calls, ==, 5);
	check_int(event_base_loop(base, EVLOOP_NONBLOCK), ==, 0);
	check_int(calls, ==, 5);
end:
	if (ev)
		event_free(ev);
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	if (base)
		event_base_free(base);
}

/* EV-4: ONCE waits until something is active, runs it, returns 0. */
static void
once_waits_then_returns(void)
{
	struct event_base *base = event_base_new();
	struct event *soon = NULL, *later = NULL;
	struct timeval tv;
	long long start, took;

	calls = 0;
	other_calls = 0;
	check(base != NULL);
	soon = evtimer_new(base, count_cb, NULL);
	later = evtimer_new(base, other_cb, NULL);
	check(soon != NULL);
	check(later != NULL);
	start = check_now_ms();
	check_set_ms(&tv, 30);
	check_int(evtimer_add(soon, &tv), ==, 0);
	check_set_ms(&tv, 5000);
	check_int(evtimer_add(later, &tv), ==, 0);
	check_int(event_base_loop(base, EVLOOP_ONCE), ==, 0);
	took = check_now_ms() - start;
	check_int(calls, ==, 1);
	check_int(other_calls, ==, 0);
	check_int(took, >=, 20);
	check_int(took, <, 30 + 300 * check_time_scale());
	check(evtimer_pending(later, NULL));
end:
	if (soon)
		event_free(soon);
	if (later)
		event_free(later);
	if (base)
		event_base_free(base);
}

/* EV-5: NO_EXIT_ON_EMPTY with NONBLOCK on an empty base returns 0. */
static void
no_exit_on_empty_nonblock(void)
{
	struct event_base *base = event_base_new();

	check(base != NULL);
	check_int(event_base_loop(base,
	    EVLOOP_NO_EXIT_ON_EMPTY | EVLOOP_NONBLOCK), ==, 0);
end:
	if (base)
		event_base_free(base);
}

/* EV-6: a loopbreak while no loop runs is forgotten by the next loop. */
static void
loopbreak_before_loop_is_lost(void)
{
	struct event_base *base = event_base_new();
	struct event *ev = NULL;
	struct timeval tv;

	calls = 0;
	check(base != NULL);
	ev = evtimer_new(base, count_cb, NULL);
	check(ev != NULL);
	check_int(event_base_loopbreak(base), ==, 0);
	check_set_ms(&tv, 5);
	check_int(evtimer_add(ev, &tv), ==, 0);
	check_int(event_base_dispatch(base), ==, 1);
	check_int(calls, ==, 1);
	check(!event_base_got_break(base));
end:
	if (ev)
		event_free(ev);
	if (base)
		event_base_free(base);
}

/*
 * EV-7: loopexit(NULL) before the loop: the next loop runs what is
 * already active, then returns 0 with got_exit set.
 */
static void
loopexit_null_before_loop(void)
{
	struct event_base *base = event_base_new();
	struct event *ev = NULL, *keep = NULL;
	struct timeval tv;
	long long start;

	calls = 0;
	other_calls = 0;
	check(base != NULL);
	ev = event_new(base, -1, 0, count_cb, NULL);
	keep = evtimer_new(base, other_cb, NULL);
	check(ev != NULL);
	check(keep != NULL);
	check_set_ms(&tv, 5000);
	check_int(evtimer_add(keep, &tv), ==, 0);
	event_active(ev, EV_TIMEOUT, 0);
	check_int(event_base_loopexit(base, NULL), ==, 0);
	start = check_now_ms();
	check_int(event_base_dispatch(base), ==, 0);
	check_int(check_now_ms() - start, <, 1000);
	check_int(calls, ==, 1);
	check_int(other_calls, ==, 0);
	check(event_base_got_exit(base));
	check(!event_base_got_break(base));
end:
	if (ev)
		event_free(ev);
	if (keep)
		event_free(keep);
	if (base)
		event_base_free(base);
}

static void
break_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	calls++;
	event_base_loopbreak(arg);
}

static void
exit_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	calls++;
	event_base_loopexit(arg, NULL);
}

/*
 * EV-8: loopbreak from a callback stops right after it (the others active
 * in that pass stay active); EV-9: flags reset when the next loop starts.
 */
static void
loopbreak_skips_rest_of_pass(void)
{
	struct event_base *base = event_base_new();
	struct event *first = NULL, *second = NULL, *third = NULL;

	calls = 0;
	other_calls = 0;
	check(base != NULL);
	first = event_new(base, -1, 0, break_cb, base);
	second = event_new(base, -1, 0, other_cb, NULL);
	third = event_new(base, -1, 0, other_cb, NULL);
	check(first && second && third);
	event_active(first, EV_TIMEOUT, 0);
	event_active(second, EV_TIMEOUT, 0);
	event_active(third, EV_TIMEOUT, 0);
	check_int(event_base_dispatch(base), ==, 0);
	check_int(calls, ==, 1);
	check_int(other_calls, ==, 0);
	check(event_base_got_break(base));

	/* The other two are still active; the next loop runs them. */
	check_int(event_base_loop(base, EVLOOP_NONBLOCK), ==, 1);
	check_int(other_calls, ==, 2);
	check(!event_base_got_break(base));
	check(!event_base_got_exit(base));
end:
	if (first)
		event_free(first);
	if (second)
		event_free(second);
	if (third)
		event_free(third);
	if (base)
		event_base_free(base);
}

/* EV-8: loopexit(NULL) from a callback lets the rest of the pass run. */
static void
loopexit_finishes_pass(void)
{
	struct event_base *base = event_base_new();
	struct event *first = NULL, *second = NULL, *keep = NULL;
	struct timeval tv;

	calls = 0;
	other_calls = 0;
	check(base != NULL);
	first = event_new(base, -1, 0, exit_cb, base);
	second = event_new(base, -1, 0, other_cb, NULL);
	keep = evtimer_new(base, other_cb, NULL);
	check(first && second && keep);
	check_set_ms(&tv, 5000);
	check_int(evtimer_add(keep, &tv), ==, 0);
	event_active(first, EV_TIMEOUT, 0);
	event_active(second, EV_TIMEOUT, 0);
	check_int(event_base_dispatch(base), ==, 0);
	check_int(calls, ==, 1);
	check_int(other_calls, ==, 1);
	check(event_base_got_exit(base));
	check(!event_base_got_break(base));
end:
	if (first)
		event_free(first);
	if (second)
		event_free(second);
	if (keep)
		event_free(keep);
	if (base)
		event_base_free(base);
}

/* EV-9: got_exit from one loop is cleared when the next one starts. */
static void
got_exit_reset_by_next_loop(void)
{
	struct event_base *base = event_base_new();
	struct event *ev = NULL;
	struct timeval tv;

	calls = 0;
	check(base != NULL);
	check_set_ms(&tv, 1);
	check_int(event_base_loopexit(base, &tv), ==, 0);
	check_int(event_base_dispatch(base), ==, 0);
	check(event_base_got_exit(base));

	ev = evtimer_new(base, count_cb, NULL);
	check(ev != NULL);
	check_int(evtimer_add(ev, &tv), ==, 0);
	check_int(event_base_dispatch(base), ==, 1);
	check_int(calls, ==, 1);
	check(!event_base_got_exit(base));
	check(!event_base_got_break(base));
end:
	if (ev)
		event_free(ev);
	if (base)
		event_base_free(base);
}

static const struct check_case cases[] = {
	{"base_new_free", base_new_free},
	{"method_is_epoll", method_is_epoll},
	{"empty_loop_returns_one", empty_loop_returns_one},
	{"last_event_used_up_returns_one", last_event_used_up_returns_one},
	{"nested_loop_fails", nested_loop_fails},
	{"loopexit_timeout", loopexit_timeout},
	{"loopbreak_from_callback", loopbreak_from_callback},
	{"nonblock_does_not_wait", nonblock_does_not_wait},
	{"nonblock_repeats_while_ready", nonblock_repeats_while_ready},
	{"once_waits_then_returns", once_waits_then_returns},
	{"no_exit_on_empty_nonblock", no_exit_on_empty_nonblock},
	{"loopbreak_before_loop_is_lost", loopbreak_before_loop_is_lost},
	{"loopexit_null_before_loop", loopexit_null_before_loop},
	{"loopbreak_skips_rest_of_pass", loopbreak_skips_rest_of_pass},
	{"loopexit_finishes_pass", loopexit_finishes_pass},
	{"got_exit_reset_by_next_loop", got_exit_reset_by_next_loop},
	{NULL, NULL}
};

int
main(int argc, char **argv)
{
	return check_main(cases, argc, argv);
}
