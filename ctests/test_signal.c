/*
 * test_signal: signal events (BEHAVIOUR EV-16, EV-38): what the callback
 * receives, EV_PERSIST, several events on one signal, the disposition
 * a signal gets back when its last event goes, which base receives
 * signals, and a signal that arrives while the loop waits.
 */
#include <signal.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "check.h"

static int calls;
static int calls2;
static int last_fd;
static int last_what;
static int warnings;
static int old_handler_calls;

static void
sig_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)arg;
	calls++;
	last_fd = (int)fd;
	last_what = what;
}

static void
sig_cb2(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	calls2++;
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
log_cb(int severity, const char *msg)
{
	(void)msg;
	if (severity == EVENT_LOG_WARN)
		warnings++;
}

static void
old_handler(int sig)
{
	(void)sig;
	old_handler_calls++;
}

static void
reset(void)
{
	calls = calls2 = last_fd = last_what = warnings = 0;
	old_handler_calls = 0;
}

/* The handler now installed for sig. */
static void (*
current_handler(int sig))(int)
{
	struct sigaction sa;

	sigaction(sig, NULL, &sa);
	return sa.sa_handler;
}

static void
delivers_number_and_flag(void)
{
	struct event_base *base = event_base_new();
	struct event *ev = NULL;

	reset();
	check(base != NULL);
	ev = evsignal_new(base, SIGUSR1, sig_cb, NULL);
	check(ev != NULL);
	check_int(event_get_signal(ev), ==, SIGUSR1);
	check_int(evsignal_add(ev, NULL), ==, 0);
	check_int(evsignal_pending(ev, NULL), ==, EV_SIGNAL);
	raise(SIGUSR1);
	check_int(event_base_loop(base, EVLOOP_ONCE), ==, 0);
	check_int(calls, ==, 1);
	check_int(last_fd, ==, SIGUSR1);
	check_int(last_what, ==, EV_SIGNAL);
	/* evsignal_new is persistent: still pending after delivery. */
	check_int(evsignal_pending(ev, NULL), ==, EV_SIGNAL);
end:
	if (ev)
		event_free(ev);
	if (base)
		event_base_free(base);
}

static void
non_persistent_runs_once(void)
{
	struct event_base *base = event_base_new();
	struct event *ev = NULL;

	reset();
	check(base != NULL);
	ev = event_new(base, SIGUSR1, EV_SIGNAL, sig_cb, NULL);
	check(ev != NULL);
	check_int(event_add(ev, NULL), ==, 0);
	raise(SIGUSR1);
	check_int(event_base_loop(base, EVLOOP_ONCE), ==, 0);
	check_int(calls, ==, 1);
	check_int(event_pending(ev, EV_SIGNAL, NULL), ==, 0);
	/* Nothing left: the loop ends at once. */
	check_int(event_base_dispatch(base), ==, 1);
end:
	if (ev)
		event_free(ev);
	if (base)
		event_base_free(base);
}

static void
two_events_one_signal(void)
{
	struct event_base *base = event_base_new();
	struct event *a = NULL, *b = NULL;

	reset();
	check(base != NULL);
	a = evsignal_new(base, SIGUSR2, sig_cb, NULL);
	b = evsignal_new(base, SIGUSR2, sig_cb2, NULL);
	check(a != NULL && b != NULL);
	check_int(evsignal_add(a, NULL), ==, 0);
	check_int(evsignal_add(b, NULL), ==, 0);
	raise(SIGUSR2);
	check_int(event_base_loop(base, EVLOOP_ONCE), ==, 0);
	check_int(calls, ==, 1);
	check_int(calls2, ==, 1);
	/* With one of them gone, the other still receives the signal. */
	check_int(evsignal_del(a), ==, 0);
	raise(SIGUSR2);
	check_int(event_base_loop(base, EVLOOP_ONCE), ==, 0);
	check_int(calls, ==, 1);
	check_int(calls2, ==, 2);
end:
	if (a)
		event_free(a);
	if (b)
		event_free(b);
	if (base)
		event_base_free(base);
}

static void
disposition_restored(void)
{
	struct event_base *base = event_base_new();
	struct event *a = NULL, *b = NULL;

	reset();
	check(base != NULL);
	signal(SIGUSR2, old_handler);
	a = evsignal_new(base, SIGUSR2, sig_cb, NULL);
	b = evsignal_new(base, SIGUSR2, sig_cb2, NULL);
	check(a != NULL && b != NULL);
	check_int(evsignal_add(a, NULL), ==, 0);
	check_int(evsignal_add(b, NULL), ==, 0);
	check(current_handler(SIGUSR2) != old_handler);
	check_int(evsignal_del(a), ==, 0);
	check(current_handler(SIGUSR2) != old_handler);
	check_int(evsignal_del(b), ==, 0);
	check(current_handler(SIGUSR2) == old_handler);
	raise(SIGUSR2);
	check_int(old_handler_calls, ==, 1);
	check_int(calls + calls2, ==, 0);
end:
	signal(SIGUSR2, SIG_DFL);
	if (a)
		event_free(a);
	if (b)
		event_free(b);
	if (base)
		event_base_free(base);
}

static void
freeing_base_restores(void)
{
	struct event_base *base = event_base_new();
	struct event *ev = NULL;

	reset();
	check(base != NULL);
	signal(SIGUSR1, old_handler);
	ev = evsignal_new(base, SIGUSR1, sig_cb, NULL);
	check(ev != NULL);
	check_int(evsignal_add(ev, NULL), ==, 0);
	check(current_handler(SIGUSR1) != old_handler);
	event_free(ev);
	ev = NULL;
	check(current_handler(SIGUSR1) == old_handler);
end:
	signal(SIGUSR1, SIG_DFL);
	if (ev)
		event_free(ev);
	if (base)
		event_base_free(base);
}

static void
signal_while_waiting(void)
{
	struct event_base *base = event_base_new();
	struct event *ev = NULL;
	struct timeval limit = {5, 0};
	pid_t child = -1;
	int status;

	reset();
	check(base != NULL);
	ev = evsignal_new(base, SIGUSR1, break_cb, base);
	check(ev != NULL);
	check_int(evsignal_add(ev, NULL), ==, 0);
	check_int(event_base_loopexit(base, &limit), ==, 0);
	child = fork();
	check(child >= 0);
	if (child == 0) {
		usleep(50000);
		kill(getppid(), SIGUSR1);
		_exit(0);
	}
	check_int(event_base_dispatch(base), ==, 0);
	check_int(calls, ==, 1);
	check(event_base_got_break(base));
end:
	if (child > 0)
		waitpid(child, &status, 0);
	if (ev)
		event_free(ev);
	if (base)
		event_base_free(base);
}

static void
signal_keeps_loop_alive(void)
{
	struct event_base *base = event_base_new();
	struct event *ev = NULL;

	reset();
	check(base != NULL);
	ev = evsignal_new(base, SIGUSR1, sig_cb, NULL);
	check(ev != NULL);
	check_int(evsignal_add(ev, NULL), ==, 0);
	check_int(event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED),
	    ==, 1);
	/* A pending signal event keeps the loop from reporting "empty". */
	check_int(event_base_loop(base, EVLOOP_NONBLOCK), ==, 0);
	check_int(calls, ==, 0);
end:
	if (ev)
		event_free(ev);
	if (base)
		event_base_free(base);
}

static void
active_by_signal(void)
{
	struct event_base *base = event_base_new();
	struct event *ev = NULL;

	reset();
	check(base != NULL);
	ev = evsignal_new(base, SIGUSR1, sig_cb, NULL);
	check(ev != NULL);
	check_int(evsignal_add(ev, NULL), ==, 0);
	event_base_active_by_signal(base, SIGUSR1);
	check_int(event_base_loop(base, EVLOOP_ONCE), ==, 0);
	check_int(calls, ==, 1);
	check_int(last_fd, ==, SIGUSR1);
	check_int(last_what, ==, EV_SIGNAL);
end:
	if (ev)
		event_free(ev);
	if (base)
		event_base_free(base);
}

static void
signal_mixed_with_io_refused(void)
{
	struct event_base *base = event_base_new();
	struct event *ev = NULL;

	reset();
	event_set_log_callback(log_cb);
	check(base != NULL);
	ev = event_new(base, SIGUSR1, EV_SIGNAL | EV_READ, sig_cb, NULL);
	check(ev == NULL);
	check_int(warnings, >=, 1);
end:
	event_set_log_callback(NULL);
	if (ev)
		event_free(ev);
	if (base)
		event_base_free(base);
}

static void
one_base_receives(void)
{
	struct event_base *b1 = event_base_new();
	struct event_base *b2 = event_base_new();
	struct event *e1 = NULL, *e2 = NULL;

	reset();
	event_set_log_callback(log_cb);
	check(b1 != NULL && b2 != NULL);
	e1 = evsignal_new(b1, SIGUSR1, sig_cb, NULL);
	e2 = evsignal_new(b2, SIGUSR1, sig_cb2, NULL);
	check(e1 != NULL && e2 != NULL);
	check_int(evsignal_add(e1, NULL), ==, 0);
	check_int(warnings, ==, 0);
	check_int(evsignal_add(e2, NULL), ==, 0);
	check_int(warnings, ==, 1);
	/* The base that added last receives the signal. */
	raise(SIGUSR1);
	check_int(event_base_loop(b1, EVLOOP_NONBLOCK), ==, 0);
	check_int(calls, ==, 0);
	/* b1's loop started after the last add: now b1 receives. */
	raise(SIGUSR1);
	check_int(event_base_loop(b1, EVLOOP_NONBLOCK), ==, 0);
	check_int(calls, ==, 1);
	check_int(event_base_loop(b2, EVLOOP_NONBLOCK), ==, 0);
	check_int(calls2, ==, 1);
end:
	event_set_log_callback(NULL);
	if (e1)
		event_free(e1);
	if (e2)
		event_free(e2);
	if (b1)
		event_base_free(b1);
	if (b2)
		event_base_free(b2);
}

static void
signal_after_fork_and_reinit(void)
{
	struct event_base *base = event_base_new();
	struct event *ev = NULL;
	pid_t child = -1;
	int status = -1;

	reset();
	check(base != NULL);
	ev = evsignal_new(base, SIGUSR1, sig_cb, NULL);
	check(ev != NULL);
	check_int(evsignal_add(ev, NULL), ==, 0);
	child = fork();
	check(child >= 0);
	if (child == 0) {
		int ok = event_reinit(base) == 0;

		raise(SIGUSR1);
		ok = ok && event_base_loop(base, EVLOOP_ONCE) == 0;
		ok = ok && calls == 1 && last_fd == SIGUSR1;
		_exit(ok ? 0 : 1);
	}
	check_int(waitpid(child, &status, 0), ==, child);
	check(WIFEXITED(status));
	check_int(WEXITSTATUS(status), ==, 0);
	/* The child's signal was its own: the parent saw nothing. */
	check_int(event_base_loop(base, EVLOOP_NONBLOCK), ==, 0);
	check_int(calls, ==, 0);
end:
	if (ev)
		event_free(ev);
	if (base)
		event_base_free(base);
}

static void
each_arrival_is_a_call(void)
{
	struct event_base *base = event_base_new();
	struct event *ev = NULL;

	reset();
	check(base != NULL);
	ev = evsignal_new(base, SIGUSR1, sig_cb, NULL);
	check(ev != NULL);
	check_int(evsignal_add(ev, NULL), ==, 0);
	raise(SIGUSR1);
	raise(SIGUSR1);
	raise(SIGUSR1);
	check_int(event_base_loop(base, EVLOOP_ONCE), ==, 0);
	check_int(calls, ==, 3);
end:
	if (ev)
		event_free(ev);
	if (base)
		event_base_free(base);
}

static int free_calls;

static void
free_self_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	free_calls++;
	event_free(arg);
}

static void
freed_in_callback_stops_repeats(void)
{
	struct event_base *base = event_base_new();
	struct event *ev = NULL;

	reset();
	free_calls = 0;
	check(base != NULL);
	ev = event_new(base, SIGUSR1, EV_SIGNAL | EV_PERSIST, free_self_cb,
	    event_self_cbarg());
	check(ev != NULL);
	check_int(evsignal_add(ev, NULL), ==, 0);
	raise(SIGUSR1);
	raise(SIGUSR1);
	check_int(event_base_loop(base, EVLOOP_ONCE), ==, 0);
	check_int(free_calls, ==, 1);
end:
	if (base)
		event_base_free(base);
}

static const struct check_case cases[] = {
	{"each_arrival_is_a_call", each_arrival_is_a_call},
	{"freed_in_callback_stops_repeats", freed_in_callback_stops_repeats},
	{"signal_after_fork_and_reinit", signal_after_fork_and_reinit},
	{"delivers_number_and_flag", delivers_number_and_flag},
	{"non_persistent_runs_once", non_persistent_runs_once},
	{"two_events_one_signal", two_events_one_signal},
	{"disposition_restored", disposition_restored},
	{"freeing_base_restores", freeing_base_restores},
	{"signal_while_waiting", signal_while_waiting},
	{"signal_keeps_loop_alive", signal_keeps_loop_alive},
	{"active_by_signal", active_by_signal},
	{"signal_mixed_with_io_refused", signal_mixed_with_io_refused},
	{"one_base_receives", one_base_receives},
	{NULL, NULL}
};

int
main(int argc, char **argv)
{
	return check_main(cases, argc, argv);
}
