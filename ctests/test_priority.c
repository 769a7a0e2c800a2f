/*
 * test_priority: priorities (BEHAVIOUR EV-18, EV-19, EV-37) and
 * event_base_loopcontinue.
 */
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "check.h"

static char order[64];
static int norder;

static void
mark_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	if (norder < (int)sizeof(order) - 1)
		order[norder++] = *(const char *)arg;
}

static void
reset(void)
{
	norder = 0;
	memset(order, 0, sizeof(order));
}

static void
defaults_and_limits(void)
{
	struct event_base *base = event_base_new();
	struct event *ev = NULL;

	check(base != NULL);
	check_int(event_base_get_npriorities(base), ==, 1);
	check_int(event_base_priority_init(base, 0), ==, -1);
	check_int(event_base_priority_init(base, 256), ==, -1);
	check_int(event_base_priority_init(base, 255), ==, 0);
	check_int(event_base_priority_init(base, 5), ==, 0);
	ev = event_new(base, -1, 0, mark_cb, "x");
	check(ev != NULL);
	check_int(event_get_priority(ev), ==, 2);
	check_int(event_priority_set(ev, 5), ==, -1);
	check_int(event_priority_set(ev, -1), ==, -1);
	check_int(event_priority_set(ev, 4), ==, 0);
	check_int(event_get_priority(ev), ==, 4);
	event_active(ev, EV_TIMEOUT, 1);
	/* Active events keep their priority, and the base its count. */
	check_int(event_priority_set(ev, 0), ==, -1);
	check_int(event_base_priority_init(base, 3), ==, -1);
end:
	if (ev)
		event_free(ev);
	if (base)
		event_base_free(base);
}

static void
urgent_first(void)
{
	struct event_base *base = event_base_new();
	struct event *lo = NULL, *hi = NULL, *mid = NULL;

	reset();
	check(base != NULL);
	check_int(event_base_priority_init(base, 3), ==, 0);
	lo = event_new(base, -1, 0, mark_cb, "l");
	mid = event_new(base, -1, 0, mark_cb, "m");
	hi = event_new(base, -1, 0, mark_cb, "h");
	check(lo && mid && hi);
	check_int(event_priority_set(lo, 2), ==, 0);
	check_int(event_priority_set(hi, 0), ==, 0);
	event_active(lo, EV_TIMEOUT, 1);
	event_active(mid, EV_TIMEOUT, 1);
	event_active(hi, EV_TIMEOUT, 1);
	check_int(event_base_dispatch(base), ==, 1);
	check_str(order, "hml");
end:
	if (lo)
		event_free(lo);
	if (mid)
		event_free(mid);
	if (hi)
		event_free(hi);
	if (base)
		event_base_free(base);
}

static struct event *writable_ev;

/* Marks, and stops watching after the third call. */
static void
writable_cb(evutil_socket_t fd, short what, void *arg)
{
	mark_cb(fd, what, arg);
	if (norder == 3)
		event_del(writable_ev);
}

static void
ready_urgent_fd_starves_others(void)
{
	struct event_base *base = event_base_new();
	struct event *fd_ev = NULL, *lo = NULL;
	int fds[2] = {-1, -1};

	reset();
	check(base != NULL);
	check_int(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
	check_int(event_base_priority_init(base, 2), ==, 0);
	/* fds[1] stays writable: its event is active on every pass. */
	fd_ev = event_new(base, fds[1], EV_WRITE | EV_PERSIST, writable_cb,
	    "w");
	writable_ev = fd_ev;
	lo = event_new(base, -1, 0, mark_cb, "l");
	check(fd_ev && lo);
	check_int(event_priority_set(fd_ev, 0), ==, 0);
	check_int(event_priority_set(lo, 1), ==, 0);
	check_int(event_add(fd_ev, NULL), ==, 0);
	event_active(lo, EV_TIMEOUT, 1);
	check_int(event_base_dispatch(base), ==, 1);
	check_str(order, "wwwl");
end:
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	if (fd_ev)
		event_free(fd_ev);
	if (lo)
		event_free(lo);
	if (base)
		event_base_free(base);
}

static struct event *second;

static void
continue_cb(evutil_socket_t fd, short what, void *arg)
{
	mark_cb(fd, what, arg);
	event_base_loopcontinue(event_get_base(second));
}

static void
loopcontinue_returns_to_poll(void)
{
	struct event_base *base = event_base_new();
	struct event *first = NULL;

	reset();
	second = NULL;
	check(base != NULL);
	first = event_new(base, -1, 0, continue_cb, "a");
	second = event_new(base, -1, 0, mark_cb, "b");
	check(first && second);
	event_active(first, EV_TIMEOUT, 1);
	event_active(second, EV_TIMEOUT, 1);
	/* After the first callback asks to continue, the pass ends; the
	 * second runs in a later pass of the same loop. */
	check_int(event_base_loop(base, EVLOOP_ONCE), ==, 0);
	check_str(order, "ab");
	check_int(event_base_loopcontinue(base), ==, 0);
end:
	if (first)
		event_free(first);
	if (second)
		event_free(second);
	if (base)
		event_base_free(base);
}

static int wake_fd = -1;

/* Marks, and makes the urgent fd event ready. */
static void
wake_cb(evutil_socket_t fd, short what, void *arg)
{
	mark_cb(fd, what, arg);
	if (write(wake_fd, "x", 1) != 1)
		mark_cb(fd, what, "!");
}

/* Runs a, b (priority 1) where a makes c (priority 0) ready; returns the
 * order seen, with at most max_callbacks per pass when it is >= 0. */
static void
dispatch_order(int max_callbacks)
{
	struct event_config *cfg = event_config_new();
	struct event_base *base = NULL;
	struct event *a = NULL, *b = NULL, *c = NULL;
	int fds[2] = {-1, -1};

	reset();
	check(cfg != NULL);
	if (max_callbacks >= 0)
		check_int(event_config_set_max_dispatch_interval(cfg, NULL,
		    max_callbacks, 0), ==, 0);
	base = event_base_new_with_config(cfg);
	check(base != NULL);
	check_int(event_base_priority_init(base, 2), ==, 0);
	check_int(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
	wake_fd = fds[1];
	a = event_new(base, -1, 0, wake_cb, "a");
	b = event_new(base, -1, 0, mark_cb, "b");
	c = event_new(base, fds[0], EV_READ, mark_cb, "c");
	check(a && b && c);
	check_int(event_priority_set(a, 1), ==, 0);
	check_int(event_priority_set(b, 1), ==, 0);
	check_int(event_priority_set(c, 0), ==, 0);
	check_int(event_add(c, NULL), ==, 0);
	event_active(a, EV_TIMEOUT, 1);
	event_active(b, EV_TIMEOUT, 1);
	check_int(event_base_dispatch(base), ==, 1);
end:
	if (a)
		event_free(a);
	if (b)
		event_free(b);
	if (c)
		event_free(c);
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	if (base)
		event_base_free(base);
	if (cfg)
		event_config_free(cfg);
}

static void
max_dispatch_callbacks(void)
{
	dispatch_order(-1);
	check_str(order, "abc");
	/* One callback per pass: the loop polls after a and finds c. */
	dispatch_order(1);
	check_str(order, "acb");
end:
	;
}

static const struct check_case cases[] = {
	{"max_dispatch_callbacks", max_dispatch_callbacks},
	{"defaults_and_limits", defaults_and_limits},
	{"urgent_first", urgent_first},
	{"ready_urgent_fd_starves_others", ready_urgent_fd_starves_others},
	{"loopcontinue_returns_to_poll", loopcontinue_returns_to_poll},
	{NULL, NULL}
};

int
main(int argc, char **argv)
{
	return check_main(cases, argc, argv);
}
