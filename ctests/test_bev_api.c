/*
 * test_bev_api.c: the rest of bufferevent.h and bufferevent_compat.h for
 * socket bufferevents (BEHAVIOUR.md sections 3, 4 and 12): connecting by
 * host name without an evdns base, moving to another base, priorities,
 * references and the lock, triggers, flush, the deferred callback order,
 * creation options, frozen buffer ends, teardown by event_base_free, the
 * old bufferevent_new and bufferevent_settimeout, and the public events.
 *
 * Peers are plain sockets the test drives itself; everything stays on
 * 127.0.0.1 or a socket pair.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_compat.h>
#include <event2/bufferevent_struct.h>
#include <event2/event.h>
#include <event2/util.h>

#include "check.h"
#include "loop_util.h"

/* What the callbacks saw. */
struct seen {
	struct event_base *base;
	int nread, nwrite, nevent;
	short what;		/* flags of the last event callback */
	int err;		/* errno inside the last event callback */
	char order[32];		/* r, w, e (event) and c (CONNECTED) in turn */
	int stop_on_event;
	int drain_after;	/* read_cb drains once called this often */
};

static void
note(struct seen *s, char c)
{
	size_t n = strlen(s->order);

	if (n + 1 < sizeof(s->order)) {
		s->order[n] = c;
		s->order[n + 1] = '\0';
	}
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct seen *s = arg;

	s->nread++;
	note(s, 'r');
	if (s->drain_after && s->nread == s->drain_after) {
		struct evbuffer *in = bufferevent_get_input(bev);

		evbuffer_drain(in, evbuffer_get_length(in));
	}
}

static void
write_cb(struct bufferevent *bev, void *arg)
{
	struct seen *s = arg;

	(void)bev;
	s->nwrite++;
	note(s, 'w');
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct seen *s = arg;

	(void)bev;
	s->err = EVUTIL_SOCKET_ERROR();
	s->nevent++;
	s->what = what;
	note(s, what == BEV_EVENT_CONNECTED ? 'c' : 'e');
	if (s->stop_on_event)
		event_base_loopbreak(s->base);
}

static void
seen_init(struct seen *s, struct event_base *base)
{
	memset(s, 0, sizeof(*s));
	s->base = base;
}

static int
fd_is_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1 || errno != EBADF;
}

/* A listening socket on 127.0.0.1 with a port the kernel picks. */
static int
listen_loopback(int *port)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    listen(fd, 8) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(sin.sin_port);
	return fd;
}

/* A nonblocking socket pair. */
static int
stream_pair(int fds[2])
{
	if (evutil_socketpair(AF_UNIX, SOCK_STREAM, 0, fds) < 0)
		return -1;
	evutil_make_socket_nonblocking(fds[0]);
	evutil_make_socket_nonblocking(fds[1]);
	return 0;
}

/* SOCK-7: families and ports connect_hostname refuses. */
static void
hostname_bad_arguments(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *bev = NULL;

	check(base != NULL);
	bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	check(bev != NULL);
	check_int(bufferevent_socket_connect_hostname(bev, NULL, AF_UNIX,
	    "localhost", 80), ==, -1);
	check_int(bufferevent_socket_connect_hostname(bev, NULL, AF_INET,
	    "localhost", 0), ==, -1);
	check_int(bufferevent_socket_connect_hostname(bev, NULL, AF_INET,
	    "localhost", 65536), ==, -1);
	check_int(bufferevent_socket_connect_hostname(bev, NULL, AF_INET,
	    "localhost", -1), ==, -1);
	check_int(bufferevent_getfd(bev), ==, -1);
end:
	if (bev)
		bufferevent_free(bev);
	if (base)
		event_base_free(base);
}

/*
 * SOCK-8: with no evdns base the name is looked up inside the call, the
 * socket exists when it returns, and CONNECTED follows from the loop.
 */
static void
connect_by_name(const char *name, int family)
{
	struct event_base *base = event_base_new();
	struct bufferevent *bev = NULL;
	struct seen s;
	int lfd = -1, port = 0, peer = -1;

	seen_init(&s, base);
	check(base != NULL);
	lfd = listen_loopback(&port);
	check(lfd >= 0);
	bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	check(bev != NULL);
	bufferevent_setcb(bev, read_cb, write_cb, event_cb, &s);
	check_int(bufferevent_socket_connect_hostname(bev, NULL, family, name,
	    port), ==, 0);
	check(bufferevent_getfd(bev) >= 0);
	check_int(bufferevent_socket_get_dns_error(bev), ==, 0);
	check_int(s.nevent, ==, 0);
	bufferevent_write(bev, "hi", 2);
	s.stop_on_event = 1;
	run_for(base, 3000);
	check_int(s.nevent, ==, 1);
	check_int(s.what, ==, BEV_EVENT_CONNECTED);
	peer = accept(lfd, NULL, NULL);
	check(peer >= 0);
	run_for(base, 50);
	{
		char buf[4] = { 0 };

		check_int(recv(peer, buf, sizeof(buf), MSG_DONTWAIT), ==, 2);
		check_mem(buf, "hi", 2);
	}
end:
	if (peer >= 0)
		close(peer);
	if (lfd >= 0)
		close(lfd);
	if (bev)
		bufferevent_free(bev);
	if (base)
		event_base_free(base);
}

static void
hostname_numeric(void)
{
	connect_by_name("127.0.0.1", AF_INET);
}

static void
hostname_localhost(void)
{
	connect_by_name("localhost", AF_INET);
}

static void
hostname_unspec(void)
{
	connect_by_name("127.0.0.1", AF_UNSPEC);
}

/*
 * SOCK-9: a name that cannot resolve: the call returns 0, ERROR arrives
 * inside it (no DEFER_CALLBACKS), the error code is kept, no socket.
 */
static void
hostname_unresolvable(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *bev = NULL;
	struct seen s;

	seen_init(&s, base);
	check(base != NULL);
	bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	check(bev != NULL);
	bufferevent_setcb(bev, read_cb, write_cb, event_cb, &s);
	check_int(bufferevent_socket_connect_hostname(bev, NULL, AF_INET,
	    "nonexistent.invalid", 80), ==, 0);
	check_int(s.nevent, ==, 1);
	check_int(s.what, ==, BEV_EVENT_ERROR);
	check(bufferevent_socket_get_dns_error(bev) != 0);
	check_int(bufferevent_getfd(bev), ==, -1);
	/* A later successful lookup resets the stored error (DNS-6). */
	{
		int port = 0, lfd = listen_loopback(&port);

		check(lfd >= 0);
		check_int(bufferevent_socket_connect_hostname(bev, NULL,
		    AF_INET, "127.0.0.1", port), ==, 0);
		check_int(bufferevent_socket_get_dns_error(bev), ==, 0);
		close(lfd);
	}
end:
	if (bev)
		bufferevent_free(bev);
	if (base)
		event_base_free(base);
}

/*
 * BEV-7, BEV-36: priorities default to the middle one, refuse values
 * out of range, and deferred callbacks run at the bufferevent's priority.
 */
static char pri_order[8];

static void
pri_event_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	strcat(pri_order, "x");
}

static void
pri_read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	(void)arg;
	strcat(pri_order, "r");
}

static void
priorities(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *bev = NULL;
	struct event *ev = NULL;
	int i;

	check(base != NULL);
	check_int(event_base_priority_init(base, 3), ==, 0);
	bev = bufferevent_socket_new(base, -1, BEV_OPT_DEFER_CALLBACKS);
	check(bev != NULL);
	check_int(bufferevent_get_priority(bev), ==, 1);
	check_int(bufferevent_priority_set(bev, 3), ==, -1);
	check_int(bufferevent_priority_set(bev, -1), ==, -1);
	check_int(bufferevent_get_priority(bev), ==, 1);
	check_int(bufferevent_priority_set(bev, 2), ==, 0);
	check_int(bufferevent_get_priority(bev), ==, 2);
	check_int(bev->ev_read.ev_evcallback.evcb_pri, ==, 2);
	check_int(bev->ev_write.ev_evcallback.evcb_pri, ==, 2);
	bufferevent_setcb(bev, pri_read_cb, NULL, NULL, NULL);
	ev = event_new(base, -1, 0, pri_event_cb, NULL);
	check(ev != NULL);
	check_int(event_priority_set(ev, 1), ==, 0);

	/* The bufferevent at 2, the event at 1: the event runs first... */
	for (i = 0; i < 2; i++) {
		pri_order[0] = '\0';
		bufferevent_trigger(bev, EV_READ, 0);
		event_active(ev, EV_READ, 0);
		check_int(event_base_loop(base, EVLOOP_ONCE), ==, 0);
		check_str(pri_order, i == 0 ? "xr" : "rx");
		/* ...then the bufferevent at 0: it runs first. */
		check_int(bufferevent_priority_set(bev, 0), ==, 0);
	}
end:
	if (ev)
		event_free(ev);
	if (bev)
		bufferevent_free(bev);
	if (base)
		event_base_free(base);
}

/*
 * SOCK-17: base_set works only while no event of the bufferevent is
 * pending; afterwards it runs on the new base.
 */
static void
base_set_moves(void)
{
	struct event_base *one = event_base_new(), *two = event_base_new();
	struct bufferevent *bev = NULL;
	struct seen s;
	int fds[2] = { -1, -1 };

	seen_init(&s, two);
	check(one != NULL && two != NULL);
	check_int(event_base_priority_init(two, 5), ==, 0);
	check_int(stream_pair(fds), ==, 0);
	bev = bufferevent_socket_new(one, fds[0], BEV_OPT_CLOSE_ON_FREE);
	check(bev != NULL);
	fds[0] = -1;
	bufferevent_setcb(bev, read_cb, NULL, event_cb, &s);
	check_int(bufferevent_enable(bev, EV_READ), ==, 0);
	check_int(bufferevent_base_set(two, bev), ==, -1);
	check_int(bufferevent_disable(bev, EV_READ | EV_WRITE), ==, 0);
	check_int(bufferevent_base_set(two, bev), ==, 0);
	check_ptr(bufferevent_get_base(bev), ==, two);
	check_ptr(bev->ev_base, ==, two);
	check_ptr(event_get_base(&bev->ev_read), ==, two);
	check_int(bufferevent_get_priority(bev), ==, 2);
	check_int(bufferevent_enable(bev, EV_READ), ==, 0);
	check_int(write(fds[1], "abc", 3), ==, 3);
	/* Nothing on the old base any more. */
	check_int(event_base_loop(one, EVLOOP_NONBLOCK), ==, 1);
	check_int(s.nread, ==, 0);
	check_int(event_base_loop(two, EVLOOP_ONCE), ==, 0);
	check_int(s.nread, ==, 1);
	check_int(evbuffer_get_length(bufferevent_get_input(bev)), ==, 3);
end:
	if (bev)
		bufferevent_free(bev);
	if (fds[1] >= 0)
		close(fds[1]);
	if (two)
		event_base_free(two);
	if (one)
		event_base_free(one);
}

/* BEV-22, BEV-23: decref's result; free drops one reference only. */
static void
references(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *bev = NULL;
	struct seen s;
	bufferevent_data_cb rcb = read_cb;
	void *arg = &s;

	seen_init(&s, base);
	check(base != NULL);
	bev = bufferevent_socket_new(base, -1, 0);
	check(bev != NULL);
	bufferevent_setcb(bev, read_cb, write_cb, event_cb, &s);
	bufferevent_incref(bev);
	bufferevent_incref(bev);
	check_int(bufferevent_decref(bev), ==, 0);
	bufferevent_free(bev);
	/* Callbacks are gone, the bufferevent is still usable. */
	bufferevent_getcb(bev, &rcb, NULL, NULL, &arg);
	check(rcb == NULL);
	check_ptr(arg, ==, NULL);
	check_int(bufferevent_write(bev, "x", 1), ==, 0);
	bufferevent_trigger(bev, EV_READ | EV_WRITE, BEV_TRIG_IGNORE_WATERMARKS);
	check_int(s.nread + s.nwrite, ==, 0);
	check_int(bufferevent_decref(bev), ==, 1);
	bev = NULL;
	event_base_loop(base, EVLOOP_NONBLOCK);
end:
	if (base)
		event_base_free(base);
}

/* THR-3: the lock holds a reference, so a free completes at the unlock. */
static void
lock_holds_reference(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *bev = NULL;
	int fds[2] = { -1, -1 };

	check(base != NULL);
	check_int(stream_pair(fds), ==, 0);
	bev = bufferevent_socket_new(base, fds[0], BEV_OPT_CLOSE_ON_FREE);
	check(bev != NULL);
	bufferevent_lock(bev);
	bufferevent_lock(bev);
	bufferevent_free(bev);
	check_int(bufferevent_get_enabled(bev), ==, EV_WRITE);
	check_int(bufferevent_getfd(bev), ==, fds[0]);
	bufferevent_unlock(bev);
	check_int(bufferevent_getfd(bev), ==, fds[0]);
	bufferevent_unlock(bev);
	bev = NULL;
	event_base_loop(base, EVLOOP_NONBLOCK);
	check(!fd_is_open(fds[0]));
	fds[0] = -1;
end:
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	if (base)
		event_base_free(base);
}

/* BEV-26, BEV-27, BEV-28: triggers, watermarks and deferral. */
static void
triggers(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *bev = NULL;
	struct seen s;

	seen_init(&s, base);
	check(base != NULL);
	bev = bufferevent_socket_new(base, -1, 0);
	check(bev != NULL);
	bufferevent_setcb(bev, read_cb, write_cb, event_cb, &s);
	/* Empty input, low 0: qualifies, whatever is enabled. */
	bufferevent_disable(bev, EV_READ | EV_WRITE);
	bufferevent_trigger(bev, EV_READ, 0);
	check_int(s.nread, ==, 1);
	bufferevent_setwatermark(bev, EV_READ, 10, 0);
	bufferevent_trigger(bev, EV_READ, 0);
	check_int(s.nread, ==, 1);
	bufferevent_trigger(bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS);
	check_int(s.nread, ==, 2);
	bufferevent_trigger(bev, EV_WRITE, 0);
	check_int(s.nwrite, ==, 1);
	check_int(bufferevent_write(bev, "abc", 3), ==, 0);
	bufferevent_trigger(bev, EV_WRITE, 0);
	check_int(s.nwrite, ==, 1);
	bufferevent_trigger(bev, EV_WRITE, BEV_TRIG_IGNORE_WATERMARKS);
	check_int(s.nwrite, ==, 2);
	bufferevent_trigger_event(bev, BEV_EVENT_EOF, 0);
	check_int(s.nevent, ==, 1);
	check_int(s.what, ==, BEV_EVENT_EOF);

	/* Deferred: nothing until the loop runs. */
	bufferevent_trigger(bev, EV_READ | EV_WRITE,
	    BEV_TRIG_DEFER_CALLBACKS | BEV_TRIG_IGNORE_WATERMARKS);
	bufferevent_trigger_event(bev, BEV_EVENT_TIMEOUT,
	    BEV_TRIG_DEFER_CALLBACKS);
	check_int(s.nread, ==, 2);
	check_int(s.nwrite, ==, 2);
	check_int(s.nevent, ==, 1);
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_int(s.nread, ==, 3);
	check_int(s.nwrite, ==, 3);
	check_int(s.nevent, ==, 2);
	check_int(s.what, ==, BEV_EVENT_TIMEOUT);

	/* NULL callbacks are skipped silently. */
	bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
	bufferevent_trigger(bev, EV_READ | EV_WRITE, BEV_TRIG_IGNORE_WATERMARKS);
	bufferevent_trigger_event(bev, BEV_EVENT_ERROR, 0);
end:
	if (bev)
		bufferevent_free(bev);
	if (base)
		event_base_free(base);
}

/*
 * BEV-24, BEV-25, BEV-41: with DEFER_CALLBACKS nothing runs inside the
 * call; then CONNECTED alone, read, write, the other event flags merged,
 * with the errno saved when the event happened.
 */
static void
deferred_order(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *bev = NULL;
	struct seen s;

	seen_init(&s, base);
	check(base != NULL);
	bev = bufferevent_socket_new(base, -1, BEV_OPT_DEFER_CALLBACKS);
	check(bev != NULL);
	bufferevent_setcb(bev, read_cb, write_cb, event_cb, &s);
	errno = EPIPE;
	bufferevent_trigger_event(bev, BEV_EVENT_ERROR, 0);
	errno = 0;
	bufferevent_trigger(bev, EV_WRITE, 0);
	bufferevent_trigger_event(bev, BEV_EVENT_READING, 0);
	bufferevent_trigger(bev, EV_READ, 0);
	errno = EPIPE;
	bufferevent_trigger_event(bev, BEV_EVENT_CONNECTED, 0);
	errno = 0;
	check_str(s.order, "");
	check_int(event_base_loop(base, EVLOOP_NONBLOCK), ==, 1);
	check_str(s.order, "crwe");
	check_int(s.what, ==, BEV_EVENT_ERROR | BEV_EVENT_READING);
	check_int(s.err, ==, EPIPE);
end:
	if (bev)
		bufferevent_free(bev);
	if (base)
		event_base_free(base);
}

/*
 * BEV-34: with DEFER_CALLBACKS, data and EOF arriving together give the
 * read callback first, then one event callback.
 */
static void
deferred_data_then_eof(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *bev = NULL;
	struct seen s;
	int fds[2] = { -1, -1 };

	seen_init(&s, base);
	check(base != NULL);
	check_int(stream_pair(fds), ==, 0);
	bev = bufferevent_socket_new(base, fds[0],
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	check(bev != NULL);
	fds[0] = -1;
	bufferevent_setcb(bev, read_cb, NULL, event_cb, &s);
	bufferevent_enable(bev, EV_READ);
	check_int(write(fds[1], "abc", 3), ==, 3);
	close(fds[1]);
	fds[1] = -1;
	s.stop_on_event = 1;
	run_for(base, 2000);
	check_str(s.order, "re");
	check_int(s.what, ==, BEV_EVENT_EOF | BEV_EVENT_READING);
	check_int(evbuffer_get_length(bufferevent_get_input(bev)), ==, 3);
end:
	if (bev)
		bufferevent_free(bev);
	if (fds[1] >= 0)
		close(fds[1]);
	if (base)
		event_base_free(base);
}

/* SOCK-6 with DEFER_CALLBACKS: a refused connect restores errno. */
static void
deferred_refused_errno(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *bev = NULL;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	struct seen s;
	int bound = -1;

	seen_init(&s, base);
	check(base != NULL);
	bound = socket(AF_INET, SOCK_STREAM, 0);
	check(bound >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	check_int(bind(bound, (struct sockaddr *)&sin, sizeof(sin)), ==, 0);
	check_int(getsockname(bound, (struct sockaddr *)&sin, &len), ==, 0);
	bev = bufferevent_socket_new(base, -1,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	check(bev != NULL);
	bufferevent_setcb(bev, read_cb, write_cb, event_cb, &s);
	bufferevent_enable(bev, EV_READ);
	check_int(bufferevent_socket_connect(bev, (struct sockaddr *)&sin,
	    sizeof(sin)), ==, 0);
	s.stop_on_event = 1;
	run_for(base, 3000);
	check_int(s.nevent, ==, 1);
	check_int(s.what, ==, BEV_EVENT_ERROR);
	check_int(s.err, ==, ECONNREFUSED);
end:
	if (bound >= 0)
		close(bound);
	if (bev)
		bufferevent_free(bev);
	if (base)
		event_base_free(base);
}

/*
 * BEV-5, BEV-31, BEV-3: flush does nothing on a socket bufferevent,
 * max_to_read/write follow max_single_*, no underlying bufferevent.
 */
static void
flush_limits_underlying(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *bev = NULL;

	check(base != NULL);
	bev = bufferevent_socket_new(base, -1, 0);
	check(bev != NULL);
	check_int(bufferevent_write(bev, "abc", 3), ==, 0);
	check_int(bufferevent_flush(bev, EV_WRITE, BEV_NORMAL), ==, 0);
	check_int(bufferevent_flush(bev, EV_WRITE, BEV_FLUSH), ==, 0);
	check_int(bufferevent_flush(bev, EV_READ | EV_WRITE, BEV_FINISHED),
	    ==, 0);
	check_int(evbuffer_get_length(bufferevent_get_output(bev)), ==, 3);
	check_int(bufferevent_get_max_to_read(bev), ==, 16384);
	check_int(bufferevent_get_max_to_write(bev), ==, 16384);
	check_int(bufferevent_set_max_single_read(bev, 1000), ==, 0);
	check_int(bufferevent_set_max_single_write(bev, 2000), ==, 0);
	check_int(bufferevent_get_max_to_read(bev), ==, 1000);
	check_int(bufferevent_get_max_to_write(bev), ==, 2000);
	check_ptr(bufferevent_get_underlying(bev), ==, NULL);
end:
	if (bev)
		bufferevent_free(bev);
	if (base)
		event_base_free(base);
}

/* BEV-6, THR-2: option combinations refused at creation. */
static void
creation_options(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *bev = NULL;

	check(base != NULL);
	check_ptr(bufferevent_socket_new(base, -1, BEV_OPT_UNLOCK_CALLBACKS),
	    ==, NULL);
	check_ptr(bufferevent_socket_new(base, -1, BEV_OPT_THREADSAFE), ==,
	    NULL);
	bev = bufferevent_socket_new(base, -1,
	    BEV_OPT_DEFER_CALLBACKS | BEV_OPT_UNLOCK_CALLBACKS);
	check(bev != NULL);
end:
	if (bev)
		bufferevent_free(bev);
	if (base)
		event_base_free(base);
}

/* BEV-29: the input's end and the output's front are frozen. */
static void
frozen_ends(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *bev = NULL;
	struct evbuffer *in, *out;
	char c;

	check(base != NULL);
	bev = bufferevent_socket_new(base, -1, 0);
	check(bev != NULL);
	in = bufferevent_get_input(bev);
	out = bufferevent_get_output(bev);
	check_int(evbuffer_add(in, "a", 1), ==, -1);
	check_int(evbuffer_prepend(in, "a", 1), ==, 0);
	check_int(evbuffer_get_length(in), ==, 1);
	check_int(evbuffer_add(out, "bc", 2), ==, 0);
	check_int(evbuffer_drain(out, 1), ==, -1);
	check_int(evbuffer_remove(out, &c, 1), ==, -1);
	check_int(evbuffer_copyout(out, &c, 1), ==, -1);
	check_int(evbuffer_get_length(out), ==, 2);
end:
	if (bev)
		bufferevent_free(bev);
	if (base)
		event_base_free(base);
}

/* BEV-32: event_base_free finishes freed bufferevents, closing fds. */
static void
base_free_finishes(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *bev = NULL;
	int fds[2] = { -1, -1 };

	check(base != NULL);
	check_int(stream_pair(fds), ==, 0);
	bev = bufferevent_socket_new(base, fds[0], BEV_OPT_CLOSE_ON_FREE);
	check(bev != NULL);
	bufferevent_enable(bev, EV_READ);
	bufferevent_write(bev, "abc", 3);
	bufferevent_free(bev);
	check(fd_is_open(fds[0]));
	event_base_free(base);
	base = NULL;
	check(!fd_is_open(fds[0]));
	fds[0] = -1;
end:
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	if (base)
		event_base_free(base);
}

/* BEV-35: reading again after EOF reports EOF again. */
static void
eof_again(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *bev = NULL;
	struct seen s;
	int fds[2] = { -1, -1 };

	seen_init(&s, base);
	check(base != NULL);
	check_int(stream_pair(fds), ==, 0);
	bev = bufferevent_socket_new(base, fds[0], BEV_OPT_CLOSE_ON_FREE);
	check(bev != NULL);
	fds[0] = -1;
	bufferevent_setcb(bev, read_cb, NULL, event_cb, &s);
	bufferevent_enable(bev, EV_READ);
	check_int(shutdown(fds[1], SHUT_WR), ==, 0);
	s.stop_on_event = 1;
	run_for(base, 2000);
	check_int(s.nevent, ==, 1);
	check_int(s.what, ==, BEV_EVENT_EOF | BEV_EVENT_READING);
	check_int(bufferevent_get_enabled(bev) & EV_READ, ==, 0);
	bufferevent_enable(bev, EV_READ);
	run_for(base, 2000);
	check_int(s.nevent, ==, 2);
	check_int(s.what, ==, BEV_EVENT_EOF | BEV_EVENT_READING);
end:
	if (bev)
		bufferevent_free(bev);
	if (fds[1] >= 0)
		close(fds[1]);
	if (base)
		event_base_free(base);
}

/*
 * BEV-38: a high watermark at or below the input length stops reading at
 * once; lifting it (high 0) resumes.
 */
static void
high_watermark_now(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *bev = NULL;
	struct seen s;
	int fds[2] = { -1, -1 };

	seen_init(&s, base);
	check(base != NULL);
	check_int(stream_pair(fds), ==, 0);
	bev = bufferevent_socket_new(base, fds[0], BEV_OPT_CLOSE_ON_FREE);
	check(bev != NULL);
	fds[0] = -1;
	bufferevent_enable(bev, EV_READ);
	check_int(write(fds[1], "abcd", 4), ==, 4);
	run_for(base, 50);
	check_int(evbuffer_get_length(bufferevent_get_input(bev)), ==, 4);
	bufferevent_setwatermark(bev, EV_READ, 0, 4);
	check_int(write(fds[1], "efgh", 4), ==, 4);
	run_for(base, 50);
	check_int(evbuffer_get_length(bufferevent_get_input(bev)), ==, 4);
	check_int(bufferevent_get_enabled(bev) & EV_READ, ==, EV_READ);
	bufferevent_setwatermark(bev, EV_READ, 0, 0);
	run_for(base, 50);
	check_int(evbuffer_get_length(bufferevent_get_input(bev)), ==, 8);
end:
	if (bev)
		bufferevent_free(bev);
	if (fds[1] >= 0)
		close(fds[1]);
	if (base)
		event_base_free(base);
}

/*
 * BEV-12: a read callback that leaves the input at the high watermark is
 * called again without new data until it drains.
 */
static void
read_again_at_high_watermark(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *bev = NULL;
	struct seen s;
	int fds[2] = { -1, -1 };

	seen_init(&s, base);
	check(base != NULL);
	check_int(stream_pair(fds), ==, 0);
	bev = bufferevent_socket_new(base, fds[0], BEV_OPT_CLOSE_ON_FREE);
	check(bev != NULL);
	fds[0] = -1;
	s.drain_after = 4;
	bufferevent_setcb(bev, read_cb, NULL, event_cb, &s);
	bufferevent_setwatermark(bev, EV_READ, 0, 8);
	bufferevent_enable(bev, EV_READ);
	check_int(write(fds[1], "0123456789", 10), ==, 10);
	run_for(base, 100);
	check_int(s.nread, >=, 4);
	/* After the drain the last two bytes came in and stayed. */
	check_int(evbuffer_get_length(bufferevent_get_input(bev)), ==, 2);
end:
	if (bev)
		bufferevent_free(bev);
	if (fds[1] >= 0)
		close(fds[1]);
	if (base)
		event_base_free(base);
}

/*
 * ABI-5: bufferevent_settimeout takes whole seconds into the public
 * fields; 0 means none.
 */
static void
settimeout_fields(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *bev = NULL;

	check(base != NULL);
	bev = bufferevent_socket_new(base, -1, 0);
	check(bev != NULL);
	bufferevent_settimeout(bev, 2, 3);
	check_int(bev->timeout_read.tv_sec, ==, 2);
	check_int(bev->timeout_read.tv_usec, ==, 0);
	check_int(bev->timeout_write.tv_sec, ==, 3);
	bufferevent_settimeout(bev, 0, 5);
	check_int(bev->timeout_read.tv_sec, ==, 0);
	check_int(bev->timeout_read.tv_usec, ==, 0);
	check_int(bev->timeout_write.tv_sec, ==, 5);
end:
	if (bev)
		bufferevent_free(bev);
	if (base)
		event_base_free(base);
}

/*
 * ABI-6: ev_read and ev_write are the registered events: their fd, and
 * event_pending while a side waits.
 */
static void
public_events(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *bev = NULL;
	int fds[2] = { -1, -1 };

	check(base != NULL);
	check_int(stream_pair(fds), ==, 0);
	bev = bufferevent_socket_new(base, fds[0], BEV_OPT_CLOSE_ON_FREE);
	check(bev != NULL);
	check_int(event_get_fd(&bev->ev_read), ==, fds[0]);
	check_int(event_get_fd(&bev->ev_write), ==, fds[0]);
	check_int(event_pending(&bev->ev_read, EV_READ, NULL), ==, 0);
	bufferevent_enable(bev, EV_READ);
	check(event_pending(&bev->ev_read, EV_READ, NULL));
	bufferevent_disable(bev, EV_READ);
	check_int(event_pending(&bev->ev_read, EV_READ, NULL), ==, 0);
	bufferevent_write(bev, "x", 1);
	check(event_pending(&bev->ev_write, EV_WRITE, NULL));
	fds[0] = -1;
end:
	if (bev)
		bufferevent_free(bev);
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	if (base)
		event_base_free(base);
}

/*
 * SOCK-25: bufferevent_new is socket_new on the current base of
 * event_init plus setcb. event_init is looked up at run time: the test
 * says why it skips when it is missing, or when it belongs to another
 * library than bufferevent_new (a preload over the reference).
 */
static void
compat_bufferevent_new(void)
{
	struct event_base *(*init)(void);
	struct bufferevent *(*make)(evutil_socket_t, bufferevent_data_cb,
	    bufferevent_data_cb, bufferevent_event_cb, void *) = bufferevent_new;
	struct bufferevent *bev = NULL;
	struct event_base *base = NULL;
	struct seen s;
	Dl_info a, b;
	int fds[2] = { -1, -1 };

	*(void **)&init = dlsym(RTLD_DEFAULT, "event_init");
	if (!init) {
		printf("SKIP compat_bufferevent_new: no event_init\n");
		return;
	}
	if (!dladdr(*(void **)&init, &a) ||
	    !dladdr(*(void **)&make, &b) ||
	    strcmp(a.dli_fname, b.dli_fname) != 0) {
		printf("SKIP compat_bufferevent_new: event_init comes from "
		    "another library\n");
		return;
	}
	base = init();
	check(base != NULL);
	seen_init(&s, base);
	check_int(stream_pair(fds), ==, 0);
	bev = bufferevent_new(fds[0], read_cb, write_cb, event_cb, &s);
	check(bev != NULL);
	check_int(bufferevent_getfd(bev), ==, fds[0]);
	check(bev->readcb == read_cb);
	check_ptr(bev->cbarg, ==, &s);
	check_ptr(event_get_base(&bev->ev_read), ==, base);
	bufferevent_enable(bev, EV_READ);
	check_int(write(fds[1], "abc", 3), ==, 3);
	check_int(event_base_loop(base, EVLOOP_ONCE), ==, 0);
	check_int(s.nread, ==, 1);
end:
	if (bev)
		bufferevent_free(bev);
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	if (base)
		event_base_free(base);
}

static const struct check_case cases[] = {
	{ "hostname_bad_arguments", hostname_bad_arguments },
	{ "hostname_numeric", hostname_numeric },
	{ "hostname_localhost", hostname_localhost },
	{ "hostname_unspec", hostname_unspec },
	{ "hostname_unresolvable", hostname_unresolvable },
	{ "priorities", priorities },
	{ "base_set_moves", base_set_moves },
	{ "references", references },
	{ "lock_holds_reference", lock_holds_reference },
	{ "triggers", triggers },
	{ "deferred_order", deferred_order },
	{ "deferred_data_then_eof", deferred_data_then_eof },
	{ "deferred_refused_errno", deferred_refused_errno },
	{ "flush_limits_underlying", flush_limits_underlying },
	{ "creation_options", creation_options },
	{ "frozen_ends", frozen_ends },
	{ "base_free_finishes", base_free_finishes },
	{ "eof_again", eof_again },
	{ "high_watermark_now", high_watermark_now },
	{ "read_again_at_high_watermark", read_again_at_high_watermark },
	{ "settimeout_fields", settimeout_fields },
	{ "public_events", public_events },
	{ "compat_bufferevent_new", compat_bufferevent_new },
	{ NULL, NULL }
};

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	return check_main(cases, argc, argv);
}
