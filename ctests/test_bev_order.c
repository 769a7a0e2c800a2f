/*
 * test_bev_order.c: what the bufferevent differential driver
 * (ctests/diff/bev_diff.c) found to matter about when a socket
 * bufferevent's events run.
 *
 * In libevent 2.1.12 a bufferevent's fd is watched level-triggered: an
 * event added while its fd is ready is reported by the next epoll_wait, so
 * its callback runs after every callback that was active already; of the
 * events of one fd, the one added last runs first; and an fd with nothing
 * to read is not reported at all, so nothing about its read event (its
 * timeout included) changes.
 */
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>

#include "check.h"
#include "loop_util.h"

/* What ran, in order: one letter per callback. */
static char order[32];

static void
note(char c)
{
	size_t n = strlen(order);

	if (n + 1 < sizeof(order)) {
		order[n] = c;
		order[n + 1] = 0;
	}
}

static void
user_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	note('u');
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	(void)arg;
	evbuffer_drain(bufferevent_get_input(bev), (size_t)-1);
	note('r');
}

static void
write_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	(void)arg;
	note('w');
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)arg;
	if (what == (BEV_EVENT_EOF | BEV_EVENT_READING))
		note('e');
	else if (what == (BEV_EVENT_ERROR | BEV_EVENT_WRITING))
		note('x');
	else
		note('?');
}

/*
 * A socket bufferevent (closing its fd) on sv[0] of a new socket pair;
 * sv[1] is the peer. NULL on failure; what was made is left in sv.
 */
static struct bufferevent *
socket_bev(struct event_base *base, int sv[2])
{
	struct bufferevent *bev;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return NULL;
	evutil_make_socket_nonblocking(sv[0]);
	bev = bufferevent_socket_new(base, sv[0], BEV_OPT_CLOSE_ON_FREE);
	if (bev)
		sv[0] = -1;
	return bev;
}

/* Frees what a case made, whichever of it exists. */
static void
case_free(struct event_base *base, struct bufferevent *bev, int sv[2])
{
	if (bev)
		bufferevent_free(bev);
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	if (base)
		event_base_free(base);
}

/*
 * A socket bufferevent that has seen EOF is enabled for reading again
 * (BEV-35), and only then is a user event activated: the user event still
 * runs first, because the EOF is only found by the next poll.
 */
static void
reenabled_read_runs_after_active_callbacks(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *bev = NULL;
	struct event *user = NULL;
	int sv[2] = { -1, -1 };

	order[0] = 0;
	check(base != NULL);
	bev = socket_bev(base, sv);
	check(bev != NULL);
	bufferevent_setcb(bev, read_cb, NULL, event_cb, NULL);
	check_int(bufferevent_enable(bev, EV_READ), ==, 0);
	check_int(write(sv[1], "hello", 5), ==, 5);
	close(sv[1]);
	sv[1] = -1;
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_str(order, "re");
	check_int(bufferevent_get_enabled(bev), ==, EV_WRITE);

	order[0] = 0;
	user = event_new(base, -1, 0, user_cb, NULL);
	check(user != NULL);
	check_int(bufferevent_enable(bev, EV_READ), ==, 0);
	event_active(user, EV_READ, 1);
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_str(order, "ue");
end:
	if (user)
		event_free(user);
	case_free(base, bev, sv);
}

/*
 * Output written to a socket bufferevent whose fd is known writable: the
 * write (and its write callback) comes with the next poll, after a user
 * event that was activated after the write.
 */
static void
write_runs_after_active_callbacks(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *bev = NULL;
	struct event *user = NULL;
	int sv[2] = { -1, -1 };
	char buf[8];

	order[0] = 0;
	check(base != NULL);
	bev = socket_bev(base, sv);
	check(bev != NULL);
	bufferevent_setcb(bev, NULL, write_cb, event_cb, NULL);
	/* A first write teaches both libraries that the fd is writable. */
	check_int(bufferevent_write(bev, "a", 1), ==, 0);
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_str(order, "w");

	order[0] = 0;
	user = event_new(base, -1, 0, user_cb, NULL);
	check(user != NULL);
	check_int(bufferevent_write(bev, "b", 1), ==, 0);
	event_active(user, EV_READ, 1);
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_str(order, "uw");
	check_int(read(sv[1], buf, sizeof(buf)), ==, 2);
	check_mem(buf, "ab", 2);
end:
	if (user)
		event_free(user);
	case_free(base, bev, sv);
}

/*
 * A socket bufferevent whose peer sent a byte and closed, with reading
 * enabled and output waiting: both sides are ready in the same pass, and
 * 2.1.12 runs the event added last first (its per-fd list puts new events
 * at the head). write_last: the output came after reading was enabled.
 */
static void
read_and_write_ready_together(int write_last, const char *want)
{
	struct event_base *base = event_base_new();
	struct bufferevent *bev = NULL;
	int sv[2] = { -1, -1 };

	order[0] = 0;
	check(base != NULL);
	bev = socket_bev(base, sv);
	check(bev != NULL);
	bufferevent_setcb(bev, read_cb, write_cb, event_cb, NULL);
	check_int(write(sv[1], "x", 1), ==, 1);
	close(sv[1]);
	sv[1] = -1;
	if (write_last) {
		check_int(bufferevent_enable(bev, EV_READ), ==, 0);
		check_int(bufferevent_write(bev, "y", 1), ==, 0);
	} else {
		check_int(bufferevent_write(bev, "y", 1), ==, 0);
		check_int(bufferevent_enable(bev, EV_READ), ==, 0);
	}
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_str(order, want);
end:
	case_free(base, bev, sv);
}

static void
write_added_last_runs_first(void)
{
	read_and_write_ready_together(1, "xre");
}

static void
read_added_last_runs_first(void)
{
	read_and_write_ready_together(0, "rxe");
}

static int timeouts;

static void
count_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)arg;
	if (what == (BEV_EVENT_TIMEOUT | BEV_EVENT_READING))
		timeouts++;
}

/*
 * A socket bufferevent whose read event once had a timeout keeps that
 * interval in 2.1.12 even after set_timeouts(NULL, NULL): each read
 * re-arms it (both libraries do this). Reading up to a high watermark and
 * draining makes it read again with nothing there; that must not re-arm
 * the old timeout, or an idle connection times out and stops reading.
 */
static void
read_finding_nothing_keeps_timer(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *bev = NULL;
	struct evbuffer *in;
	struct timeval tv;
	int sv[2] = { -1, -1 }, i;

	timeouts = 0;
	check(base != NULL);
	bev = socket_bev(base, sv);
	check(bev != NULL);
	in = bufferevent_get_input(bev);
	bufferevent_setcb(bev, NULL, NULL, count_event_cb, NULL);
	check_int(bufferevent_enable(bev, EV_READ), ==, 0);
	check_set_ms(&tv, 20);
	check_int(bufferevent_set_timeouts(bev, &tv, NULL), ==, 0);
	run_for(base, 100);
	check_int(timeouts, ==, 1);
	check_int(bufferevent_set_timeouts(bev, NULL, NULL), ==, 0);
	check_int(bufferevent_enable(bev, EV_READ), ==, 0);

	/* Two reads that each stop at the high watermark, each drained. */
	bufferevent_setwatermark(bev, EV_READ, 0, 2);
	check_int(write(sv[1], "abcd", 4), ==, 4);
	for (i = 0; i < 2; i++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		check_int(evbuffer_get_length(in), ==, 2);
		check_int(evbuffer_drain(in, 2), ==, 0);
	}
	bufferevent_setwatermark(bev, EV_READ, 0, 0);

	/* Idle: no data, so no timeout and reading stays on. */
	run_for(base, 100);
	check_int(timeouts, ==, 1);
	check_int(bufferevent_get_enabled(bev) & EV_READ, ==, EV_READ);
	check_int(write(sv[1], "e", 1), ==, 1);
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_int(evbuffer_get_length(in), ==, 1);
end:
	case_free(base, bev, sv);
}

static void
read_then_write_cb(struct bufferevent *bev, void *arg)
{
	char buf[8];

	(void)arg;
	note('r');
	if (bufferevent_read(bev, buf, sizeof(buf)) > 0 && strlen(order) == 1)
		bufferevent_write(bev, "x", 1);
}

/*
 * A read that took all it was allowed (max_single_read) leaves the fd
 * readable; output written from the read callback makes the write event
 * the newest on the fd. 2.1.12's next epoll_wait reports both at once and
 * runs the write first; the second read follows.
 */
static void
unfinished_read_waits_for_next_poll(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *bev = NULL;
	int sv[2] = { -1, -1 };
	char buf[8];

	order[0] = 0;
	check(base != NULL);
	bev = socket_bev(base, sv);
	check(bev != NULL);
	check_int(bufferevent_set_max_single_read(bev, 4), ==, 0);
	bufferevent_setcb(bev, read_then_write_cb, write_cb, NULL, NULL);
	check_int(bufferevent_enable(bev, EV_READ), ==, 0);
	check_int(write(sv[1], "abcdefgh", 8), ==, 8);
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_str(order, "rwr");
	check_int(read(sv[1], buf, sizeof(buf)), ==, 1);
end:
	case_free(base, bev, sv);
}

static const struct check_case cases[] = {
	{ "unfinished_read_waits_for_next_poll",
	    unfinished_read_waits_for_next_poll },
	{ "read_finding_nothing_keeps_timer",
	    read_finding_nothing_keeps_timer },
	{ "write_added_last_runs_first", write_added_last_runs_first },
	{ "read_added_last_runs_first", read_added_last_runs_first },
	{ "reenabled_read_runs_after_active_callbacks",
	    reenabled_read_runs_after_active_callbacks },
	{ "write_runs_after_active_callbacks",
	    write_runs_after_active_callbacks },
	{ NULL, NULL }
};

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	return check_main(cases, argc, argv);
}
