/*
 * test_event: single events (BEHAVIOUR EV-10 to EV-15, EV-20, EV-21,
 * EV-27, ABI-1): event_new, event_assign into the program's own memory,
 * add with and without a timeout, del, free, active, pending, the evtimer
 * macros, EV_PERSIST and level-triggered reads.
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "check.h"

/* What the last callback saw. */
static int calls;
static evutil_socket_t seen_fd;
static short seen_what;
static void *seen_arg;
static int seen_pending;

static void
record_cb(evutil_socket_t fd, short what, void *arg)
{
	calls++;
	seen_fd = fd;
	seen_what = what;
	seen_arg = arg;
}

static void
reset(void)
{
	calls = 0;
	seen_fd = -2;
	seen_what = 0;
	seen_arg = NULL;
	seen_pending = -1;
}

/* ABI-1: struct event is 128 bytes and the library's size fits in it. */
static void
struct_event_size(void)
{
	check_int(sizeof(struct event), ==, 128);
	check_int(event_get_struct_event_size(), <=, sizeof(struct event));
	check_int(event_get_struct_event_size(), >, 0);
end:
	;
}

struct holder {
	unsigned char before[16];
	struct event ev;
	unsigned char after[16];
};

/* ABI-1: event_assign on an event inside the program's own struct. */
static void
assign_embedded(void)
{
	struct event_base *base = event_base_new();
	struct holder *h = malloc(sizeof(*h));
	struct timeval tv;
	size_t i;
	int added = 0;

	reset();
	check(base != NULL);
	check(h != NULL);
	memset(h, 0, sizeof(*h));
	memset(h->before, 0xa5, sizeof(h->before));
	memset(h->after, 0x5a, sizeof(h->after));
	check(!event_initialized(&h->ev));
	check_int(event_assign(&h->ev, base, -1, 0, record_cb, h), ==, 0);
	check(event_initialized(&h->ev));
	check_int(event_get_fd(&h->ev), ==, -1);
	check_ptr(event_get_base(&h->ev), ==, base);
	check_ptr(event_get_callback_arg(&h->ev), ==, h);
	check(event_get_callback(&h->ev) == record_cb);
	check_int(event_get_events(&h->ev), ==, 0);
	check_set_ms(&tv, 2);
	check_int(event_add(&h->ev, &tv), ==, 0);
	added = 1;
	check_int(event_base_dispatch(base), ==, 1);
	added = 0;
	check_int(calls, ==, 1);
	check_ptr(seen_arg, ==, h);
	check_int(seen_what, ==, EV_TIMEOUT);
	for (i = 0; i < sizeof(h->before); i++) {
		check_int(h->before[i], ==, 0xa5);
		check_int(h->after[i], ==, 0x5a);
	}
end:
	if (h && added)
		event_del(&h->ev);
	free(h);
	if (base)
		event_base_free(base);
}

/* event_new records what it was given; event_get_assignment returns it. */
static void
new_records_fields(void)
{
	struct event_base *base = event_base_new();
	struct event *ev = NULL;
	struct event_base *b_out = NULL;
	evutil_socket_t fd_out = -1;
	short what_out = 0;
	event_callback_fn cb_out = NULL;
	void *arg_out = NULL;
	int fds[2] = {-1, -1};
	int token;

	check(base != NULL);
	check_int(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
	ev = event_new(base, fds[0], EV_READ | EV_PERSIST, record_cb, &token);
	check(ev != NULL);
	check(event_initialized(ev));
	check_int(event_get_fd(ev), ==, fds[0]);
	check_int(event_get_events(ev), ==, EV_READ | EV_PERSIST);
	check_ptr(event_get_base(ev), ==, base);
	check_ptr(event_get_callback_arg(ev), ==, &token);
	check(event_get_callback(ev) == record_cb);
	event_get_assignment(ev, &b_out, &fd_out, &what_out, &cb_out,
	    &arg_out);
	check_ptr(b_out, ==, base);
	check_int(fd_out, ==, fds[0]);
	check_int(what_out, ==, EV_READ | EV_PERSIST);
	check(cb_out == record_cb);
	check_ptr(arg_out, ==, &token);
	check_int(event_pending(ev, EV_READ | EV_WRITE | EV_TIMEOUT, NULL), ==,
	    0);
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

/* event_pending reports the parts (fd, timeout) that were added. */
static void
pending_reports_parts(void)
{
	struct event_base *base = event_base_new();
	struct event *ev = NULL;
	struct timeval tv;
	int fds[2] = {-1, -1};
	int all = EV_READ | EV_WRITE | EV_TIMEOUT;

	check(base != NULL);
	check_int(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
	ev = event_new(base, fds[0], EV_READ, record_cb, NULL);
	check(ev != NULL);
	check_int(event_add(ev, NULL), ==, 0);
	check_int(event_pending(ev, all, NULL), ==, EV_READ);
	check_set_ms(&tv, 5000);
	check_int(event_add(ev, &tv), ==, 0);
	check_int(event_pending(ev, all, NULL), ==, EV_READ | EV_TIMEOUT);
	check_int(event_pending(ev, EV_WRITE, NULL), ==, 0);
	check_int(event_del(ev), ==, 0);
	check_int(event_pending(ev, all, NULL), ==, 0);
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

static void
pending_in_cb(evutil_socket_t fd, short what, void *arg)
{
	struct event *self = arg;

	(void)fd;
	(void)what;
	calls++;
	seen_pending = event_pending(self, EV_TIMEOUT, NULL);
	if (calls >= 2)
		event_del(self);
}

/*
 * EV-10: a non-persistent event is no longer pending in its callback, a
 * persistent one still is; event_self_cbarg() hands the callback its event.
 */
static void
pending_inside_callback(void)
{
	struct event_base *base = event_base_new();
	struct event *once = NULL, *persist = NULL;
	struct timeval tv;

	reset();
	check(base != NULL);
	once = event_new(base, -1, 0, pending_in_cb, event_self_cbarg());
	check(once != NULL);
	check_ptr(event_get_callback_arg(once), ==, once);
	check_set_ms(&tv, 1);
	check_int(event_add(once, &tv), ==, 0);
	check_int(event_base_dispatch(base), ==, 1);
	check_int(calls, ==, 1);
	check_int(seen_pending, ==, 0);

	reset();
	persist = event_new(base, -1, EV_PERSIST, pending_in_cb,
	    event_self_cbarg());
	check(persist != NULL);
	check_int(event_add(persist, &tv), ==, 0);
	check_int(event_base_dispatch(base), ==, 1);
	check_int(calls, ==, 2);
	check(seen_pending != 0);
end:
	if (once)
		event_free(once);
	if (persist)
		event_free(persist);
	if (base)
		event_base_free(base);
}

/*
 * EV-11: event_add(ev, NULL) keeps the timeout already set; a new timeval
 * replaces it.
 */
static void
readd_timeout_rules(void)
{
	struct event_base *base = event_base_new();
	struct event *ev = NULL;
	struct timeval tv, out, wall;
	long long expiry, start, took;
	long long want;
	int scale = check_time_scale();

	reset();
	check(base != NULL);
	ev = evtimer_new(base, record_cb, NULL);
	check(ev != NULL);
	check_set_ms(&tv, 5000);
	check_int(evtimer_add(ev, &tv), ==, 0);
	check_int(event_add(ev, NULL), ==, 0);
	check(event_pending(ev, EV_TIMEOUT, &out));
	/* EV-28: tv_out is an absolute wall-clock time. */
	gettimeofday(&wall, NULL);
	expiry = (long long)out.tv_sec * 1000 + out.tv_usec / 1000;
	want = (long long)wall.tv_sec * 1000 + wall.tv_usec / 1000 + 5000;
	check_int(expiry, >, want - 500 * scale);
	check_int(expiry, <=, want + 50);

	check_set_ms(&tv, 20);
	check_int(evtimer_add(ev, &tv), ==, 0);
	start = check_now_ms();
	check_int(event_base_dispatch(base), ==, 1);
	took = check_now_ms() - start;
	check_int(calls, ==, 1);
	check_int(took, <, 20 + 300 * scale);
end:
	if (ev)
		event_free(ev);
	if (base)
		event_base_free(base);
}

/*
 * EV-12: an I/O event with a timeout gets exactly EV_TIMEOUT when it times
 * out and exactly EV_READ when the fd is ready.
 */
static void
io_event_flags(void)
{
	struct event_base *base = event_base_new();
	struct event *ev = NULL;
	struct timeval tv;
	int fds[2] = {-1, -1};

	reset();
	check(base != NULL);
	check_int(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
	ev = event_new(base, fds[0], EV_READ, record_cb, NULL);
	check(ev != NULL);
	check_set_ms(&tv, 10);
	check_int(event_add(ev, &tv), ==, 0);
	check_int(event_base_dispatch(base), ==, 1);
	check_int(calls, ==, 1);
	check_int(seen_what, ==, EV_TIMEOUT);
	check_int(seen_fd, ==, fds[0]);

	reset();
	check_set_ms(&tv, 5000);
	check_int(event_add(ev, &tv), ==, 0);
	check_int(write(fds[1], "y", 1), ==, 1);
	check_int(event_base_dispatch(base), ==, 1);
	check_int(calls, ==, 1);
	check_int(seen_what, ==, EV_READ);
	check_int(seen_fd, ==, fds[0]);
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

static void
persist_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct event *self = arg;

	(void)fd;
	calls++;
	seen_what |= what;
	if (!event_pending(self, EV_READ, NULL) ||
	    !event_pending(self, EV_TIMEOUT, NULL))
		seen_pending = 0;
	if (calls == 3)
		event_del(self);
}

/*
 * EV-13: a persistent I/O event with a timeout fires once per interval
 * while idle and stays pending (fd and timer) after each call.
 */
static void
persist_timeout_repeats(void)
{
	struct event_base *base = event_base_new();
	struct event *ev = NULL;
	struct timeval tv;
	int fds[2] = {-1, -1};
	long long start, took;

	reset();
	seen_pending = 1;
	check(base != NULL);
	check_int(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
	ev = event_new(base, fds[0], EV_READ | EV_PERSIST, persist_timeout_cb,
	    event_self_cbarg());
	check(ev != NULL);
	check_set_ms(&tv, 15);
	start = check_now_ms();
	check_int(event_add(ev, &tv), ==, 0);
	check_int(event_base_dispatch(base), ==, 1);
	took = check_now_ms() - start;
	check_int(calls, ==, 3);
	check_int(seen_what, ==, EV_TIMEOUT);
	check_int(seen_pending, ==, 1);
	check_int(took, >=, 40);
	check_int(took, <, 45 + 500 * check_time_scale());
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

/*
 * EV-14: event_active on an event never added runs it with exactly the
 * given flags and its fd; two activations merge into one call.
 */
static void
active_without_add(void)
{
	struct event_base *base = event_base_new();
	struct event *ev = NULL;
	int fds[2] = {-1, -1};

	reset();
	check(base != NULL);
	check_int(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
	ev = event_new(base, fds[0], EV_READ, record_cb, NULL);
	check(ev != NULL);
	event_active(ev, EV_WRITE, 0);
	event_active(ev, EV_TIMEOUT, 0);
	check_int(event_base_dispatch(base), ==, 1);
	check_int(calls, ==, 1);
	check_int(seen_what, ==, EV_WRITE | EV_TIMEOUT);
	check_int(seen_fd, ==, fds[0]);
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

static struct event *victim;
static int victim_calls;
static int free_victim;

static void
victim_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	victim_calls++;
}

static void
killer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	calls++;
	if (free_victim) {
		event_free(victim);
		victim = NULL;
	} else {
		event_del(victim);
	}
}

/*
 * EV-20: event_del or event_free, from another callback of the same pass,
 * of an event that is already active keeps it from running.
 */
static void
del_or_free_active_event(void)
{
	struct event_base *base = event_base_new();
	struct event *killer = NULL;

	victim = NULL;
	check(base != NULL);
	killer = event_new(base, -1, 0, killer_cb, NULL);
	check(killer != NULL);
	for (free_victim = 0; free_victim < 2; free_victim++) {
		reset();
		victim_calls = 0;
		victim = event_new(base, -1, 0, victim_cb, NULL);
		check(victim != NULL);
		event_active(killer, EV_TIMEOUT, 0);
		event_active(victim, EV_TIMEOUT, 0);
		check_int(event_base_dispatch(base), ==, 1);
		check_int(calls, ==, 1);
		check_int(victim_calls, ==, 0);
		if (victim) {
			event_free(victim);
			victim = NULL;
		}
	}
end:
	if (victim)
		event_free(victim);
	if (killer)
		event_free(killer);
	if (base)
		event_base_free(base);
}

/*
 * EV-21: event_free of a pending event (fd and timer) removes it; its
 * callback never runs and the loop returns 1.
 */
static void
free_pending_event(void)
{
	struct event_base *base = event_base_new();
	struct event *ev = NULL;
	struct timeval tv;
	int fds[2] = {-1, -1};

	reset();
	check(base != NULL);
	check_int(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
	ev = event_new(base, fds[0], EV_READ, record_cb, NULL);
	check(ev != NULL);
	check_set_ms(&tv, 1);
	check_int(event_add(ev, &tv), ==, 0);
	check_int(write(fds[1], "z", 1), ==, 1);
	event_free(ev);
	ev = NULL;
	check_int(event_base_dispatch(base), ==, 1);
	check_int(calls, ==, 0);
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

/*
 * EV-27: adding a pending event again does not duplicate it; deleting one
 * that is not pending returns 0.
 */
static void
add_twice_del_twice(void)
{
	struct event_base *base = event_base_new();
	struct event *ev = NULL;
	struct timeval tv;

	reset();
	check(base != NULL);
	ev = evtimer_new(base, record_cb, NULL);
	check(ev != NULL);
	check_int(event_del(ev), ==, 0);
	check_set_ms(&tv, 5);
	check_int(evtimer_add(ev, &tv), ==, 0);
	check_int(evtimer_add(ev, &tv), ==, 0);
	check_int(event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED), ==,
	    1);
	check_int(event_base_dispatch(base), ==, 1);
	check_int(calls, ==, 1);
	check_int(event_del(ev), ==, 0);
	check_int(event_del(ev), ==, 0);
	check_int(event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED), ==,
	    0);
end:
	if (ev)
		event_free(ev);
	if (base)
		event_base_free(base);
}

/* The evtimer_* macros over a heap event and an assigned one. */
static void
evtimer_macros(void)
{
	struct event_base *base = event_base_new();
	struct event *ev = NULL;
	struct event own;
	struct timeval tv;
	int own_assigned = 0;

	reset();
	check(base != NULL);
	ev = evtimer_new(base, record_cb, NULL);
	check(ev != NULL);
	check(evtimer_initialized(ev));
	check(!evtimer_pending(ev, NULL));
	check_set_ms(&tv, 5000);
	check_int(evtimer_add(ev, &tv), ==, 0);
	check(evtimer_pending(ev, NULL));
	check_int(evtimer_del(ev), ==, 0);
	check(!evtimer_pending(ev, NULL));

	memset(&own, 0, sizeof(own));
	check_int(evtimer_assign(&own, base, record_cb, &own), ==, 0);
	own_assigned = 1;
	check(evtimer_initialized(&own));
	check_int(event_get_fd(&own), ==, -1);
	check_set_ms(&tv, 2);
	check_int(evtimer_add(&own, &tv), ==, 0);
	check_int(event_base_dispatch(base), ==, 1);
	check_int(calls, ==, 1);
	check_ptr(seen_arg, ==, &own);
	check_int(seen_what, ==, EV_TIMEOUT);
	check(!evtimer_pending(&own, NULL));
end:
	if (own_assigned)
		evtimer_del(&own);
	if (ev)
		event_free(ev);
	if (base)
		event_base_free(base);
}

static void
count_persist_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)arg;
	calls++;
	seen_what = what;
}

/*
 * EV-15 (first half): a level-triggered read event runs again on every
 * pass while unread data remains; EV_PERSIST keeps it pending.
 */
static void
level_triggered_refires(void)
{
	struct event_base *base = event_base_new();
	struct event *ev = NULL;
	int fds[2] = {-1, -1};
	int i;
	char buf[8];

	reset();
	check(base != NULL);
	check_int(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
	ev = event_new(base, fds[0], EV_READ | EV_PERSIST, count_persist_cb,
	    NULL);
	check(ev != NULL);
	check_int(event_add(ev, NULL), ==, 0);
	check_int(write(fds[1], "abc", 3), ==, 3);
	for (i = 1; i <= 3; i++) {
		check_int(event_base_loop(base, EVLOOP_ONCE), ==, 0);
		check_int(calls, ==, i);
		check_int(seen_what, ==, EV_READ);
		check(event_pending(ev, EV_READ, NULL));
	}
	/* Drained: a non-blocking pass finds nothing. */
	check_int(read(fds[0], buf, sizeof(buf)), ==, 3);
	check_int(event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK), ==, 0);
	check_int(calls, ==, 3);
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

static const struct check_case cases[] = {
	{"struct_event_size", struct_event_size},
	{"assign_embedded", assign_embedded},
	{"new_records_fields", new_records_fields},
	{"pending_reports_parts", pending_reports_parts},
	{"pending_inside_callback", pending_inside_callback},
	{"readd_timeout_rules", readd_timeout_rules},
	{"io_event_flags", io_event_flags},
	{"persist_timeout_repeats", persist_timeout_repeats},
	{"active_without_add", active_without_add},
	{"del_or_free_active_event", del_or_free_active_event},
	{"free_pending_event", free_pending_event},
	{"add_twice_del_twice", add_twice_del_twice},
	{"evtimer_macros", evtimer_macros},
	{"level_triggered_refires", level_triggered_refires},
	{NULL, NULL}
};

int
main(int argc, char **argv)
{
	return check_main(cases, argc, argv);
}
