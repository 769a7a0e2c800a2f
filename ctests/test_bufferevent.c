/*
 * test_bufferevent.c: socket bufferevents over socket pairs and loopback
 * TCP (BEHAVIOUR.md sections 3, 4 and 12): creation defaults, callbacks,
 * enabled flags, reading and writing, connecting, watermarks, timeouts,
 * file descriptors, freeing, end of file and the public struct fields.
 *
 * The peer of a bufferevent is a plain socket the test reads and writes
 * itself. Read sizes are never asserted, only the bytes delivered, their
 * order and the event flags.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_struct.h>
#include <event2/event.h>
#include <event2/util.h>

#include "check.h"

/* What the callbacks saw; the tests check it once the loop returns. */
struct state {
	struct event_base *base;
	struct bufferevent *bev;
	struct evbuffer *got;	/* bytes the read callback took */
	int stop;		/* set to end run_loop */
	int read_mode;		/* READ_BUFFER, READ_COPY or READ_LEAVE */
	size_t stop_at;		/* stop once this many bytes are seen */
	int stop_on_write;
	int stop_on_event;
	int free_in_read;
	int nread, nwrite, nevent;
	int read_after_event;
	int input_left;		/* read_buffer left bytes behind */
	size_t max_input;	/* largest input length seen */
	size_t out_at_write;	/* output length in the write callback */
	short first_what, last_what;
	int err;		/* socket error in the first event */
	short enabled_at_event;
	size_t got_at_event;
};

enum { READ_BUFFER, READ_COPY, READ_LEAVE };

static void
stop_loop(struct state *st)
{
	st->stop = 1;
	event_base_loopbreak(st->base);
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct state *st = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t len = evbuffer_get_length(in);
	char tmp[1000];
	size_t n;

	st->nread++;
	if (st->nevent)
		st->read_after_event = 1;
	if (len > st->max_input)
		st->max_input = len;
	if (st->read_mode == READ_BUFFER) {
		if (bufferevent_read_buffer(bev, st->got) != 0)
			st->input_left = 1;
		if (evbuffer_get_length(in) != 0)
			st->input_left = 1;
	} else if (st->read_mode == READ_COPY) {
		while ((n = bufferevent_read(bev, tmp, sizeof(tmp))) > 0)
			evbuffer_add(st->got, tmp, n);
	}
	if (st->free_in_read) {
		bufferevent_free(bev);
		st->bev = NULL;
		stop_loop(st);
		return;
	}
	if (st->stop_at) {
		if (st->read_mode == READ_LEAVE)
			len = evbuffer_get_length(in);
		else
			len = evbuffer_get_length(st->got);
		if (len >= st->stop_at)
			stop_loop(st);
	}
}

static void
write_cb(struct bufferevent *bev, void *arg)
{
	struct state *st = arg;

	st->nwrite++;
	st->out_at_write = evbuffer_get_length(bufferevent_get_output(bev));
	if (st->stop_on_write)
		stop_loop(st);
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct state *st = arg;

	if (st->nevent++ == 0) {
		st->first_what = what;
		st->err = EVUTIL_SOCKET_ERROR();
		st->enabled_at_event = bufferevent_get_enabled(bev);
		st->got_at_event = st->got ? evbuffer_get_length(st->got) : 0;
	}
	st->last_what = what;
	if (st->stop_on_event)
		stop_loop(st);
}

struct guard {
	struct event_base *base;
	int fired;
};

static void
guard_cb(evutil_socket_t fd, short what, void *arg)
{
	struct guard *g = arg;

	(void)fd;
	(void)what;
	g->fired = 1;
	event_base_loopbreak(g->base);
}

/*
 * Runs the loop until *stop is set (then returns 0) or ms milliseconds,
 * stretched by check_time_scale(), have passed (then -1). With a NULL
 * stop it just runs for that long and returns 0.
 */
static int
run_loop(struct event_base *base, const int *stop, int ms)
{
	struct guard g;
	struct event *ev;
	struct timeval tv;
	long t = (long)ms * check_time_scale();

	g.base = base;
	g.fired = 0;
	ev = event_new(base, -1, 0, guard_cb, &g);
	if (!ev)
		return -1;
	tv.tv_sec = t / 1000;
	tv.tv_usec = (t % 1000) * 1000;
	event_add(ev, &tv);
	while (!g.fired && !(stop && *stop)) {
		if (event_base_loop(base, EVLOOP_ONCE) < 0)
			break;
	}
	event_free(ev);
	if (!stop)
		return 0;
	return *stop ? 0 : -1;
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* A listening TCP socket on 127.0.0.1 with a kernel-chosen port. */
static int
tcp_listener(struct sockaddr_in *sin)
{
	socklen_t len = sizeof(*sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)sin, sizeof(*sin)) < 0 ||
	    listen(fd, 16) < 0 ||
	    getsockname(fd, (struct sockaddr *)sin, &len) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * A connected pair of stream sockets: a socket pair, or a loopback TCP
 * connection, both ends nonblocking. fds[0] is for the bufferevent, fds[1]
 * is the test's peer, with a send buffer large enough for what the tests
 * write before the loop runs.
 */
static int
make_pair(int tcp, int fds[2])
{
	struct sockaddr_in sin;
	int lfd, sndbuf = 512 * 1024;

	fds[0] = fds[1] = -1;
	if (!tcp) {
		if (evutil_socketpair(AF_UNIX, SOCK_STREAM, 0, fds) < 0)
			return -1;
	} else {
		lfd = tcp_listener(&sin);
		if (lfd < 0)
			return -1;
		fds[0] = socket(AF_INET, SOCK_STREAM, 0);
		if (fds[0] < 0 || connect(fds[0], (struct sockaddr *)&sin,
		    sizeof(sin)) < 0) {
			close(lfd);
			return -1;
		}
		fds[1] = accept(lfd, NULL, NULL);
		close(lfd);
		if (fds[1] < 0)
			return -1;
	}
	if (setsockopt(fds[1], SOL_SOCKET, SO_SNDBUF, &sndbuf,
	    sizeof(sndbuf)) < 0)
		return -1;
	if (evutil_make_socket_nonblocking(fds[1]) < 0)
		return -1;
	return evutil_make_socket_nonblocking(fds[0]);
}

static void
close_pair(int fds[2])
{
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	fds[0] = fds[1] = -1;
}

/*
 * Writes all n bytes to a nonblocking fd, waiting while it is full; fails
 * after two seconds without progress rather than hanging.
 */
static int
write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	struct pollfd pfd;

	pfd.fd = fd;
	pfd.events = POLLOUT;
	while (n > 0) {
		ssize_t r = write(fd, c, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN) {
			if (poll(&pfd, 1, 2000 * check_time_scale()) <= 0)
				return -1;
			continue;
		}
		if (r <= 0)
			return -1;
		c += r;
		n -= (size_t)r;
	}
	return 0;
}

/*
 * Reads from fd until n bytes arrived, EOF, or ms without progress;
 * returns the count read.
 */
static size_t
read_some(int fd, void *p, size_t n, int ms)
{
	struct pollfd pfd;
	size_t got = 0;

	pfd.fd = fd;
	pfd.events = POLLIN;
	while (got < n) {
		ssize_t r;

		if (poll(&pfd, 1, ms * check_time_scale()) <= 0)
			break;
		r = read(fd, (char *)p + got, n - got);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	return got;
}

static int
fd_is_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1 || errno != EBADF;
}

static void
state_init(struct state *st, struct event_base *base)
{
	memset(st, 0, sizeof(*st));
	st->base = base;
	st->got = evbuffer_new();
}

static void
state_free(struct state *st)
{
	if (st->bev)
		bufferevent_free(st->bev);
	if (st->got)
		evbuffer_free(st->got);
	st->bev = NULL;
	st->got = NULL;
}

static void
new_defaults(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *bev = NULL, *bev2 = NULL;
	bufferevent_data_cb rcb = read_cb, wcb = write_cb;
	bufferevent_event_cb ecb = event_cb;
	void *arg = &rcb;
	size_t lo = 9, hi = 9;
	int fds[2] = { -1, -1 };

	check(base != NULL);
	check_int(make_pair(0, fds), ==, 0);
	bev = bufferevent_socket_new(base, fds[0], 0);
	check(bev != NULL);
	/* BEV-1: writing only. */
	check_int(bufferevent_get_enabled(bev), ==, EV_WRITE);
	check_int(bufferevent_getfd(bev), ==, fds[0]);
	check_ptr(bufferevent_get_base(bev), ==, base);
	check(bufferevent_get_input(bev) != NULL);
	check(bufferevent_get_output(bev) != NULL);
	check_ptr(bufferevent_get_input(bev), !=, bufferevent_get_output(bev));
	check_int(evbuffer_get_length(bufferevent_get_input(bev)), ==, 0);
	check_int(evbuffer_get_length(bufferevent_get_output(bev)), ==, 0);
	/* BEV-2: no callbacks yet. */
	bufferevent_getcb(bev, &rcb, &wcb, &ecb, &arg);
	check(rcb == NULL);
	check(wcb == NULL);
	check(ecb == NULL);
	check_ptr(arg, ==, NULL);
	/* BEV-4: watermarks 0/0, and both directions at once is refused. */
	check_int(bufferevent_getwatermark(bev, EV_READ, &lo, &hi), ==, 0);
	check_int(lo, ==, 0);
	check_int(hi, ==, 0);
	lo = hi = 9;
	check_int(bufferevent_getwatermark(bev, EV_WRITE, &lo, &hi), ==, 0);
	check_int(lo, ==, 0);
	check_int(hi, ==, 0);
	check_int(bufferevent_getwatermark(bev, EV_READ | EV_WRITE, &lo, &hi),
	    ==, -1);

	/* BEV-6: a socket bufferevent may start without an fd. */
	bev2 = bufferevent_socket_new(base, -1, 0);
	check(bev2 != NULL);
	check_int(bufferevent_getfd(bev2), ==, -1);
	check_int(bufferevent_get_enabled(bev2), ==, EV_WRITE);
	check_ptr(bufferevent_get_base(bev2), ==, base);
end:
	if (bev)
		bufferevent_free(bev);
	if (bev2)
		bufferevent_free(bev2);
	close_pair(fds);
	if (base)
		event_base_free(base);
}

static void
setcb_getcb(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *bev = NULL;
	bufferevent_data_cb rcb = NULL, wcb = NULL;
	bufferevent_event_cb ecb = NULL;
	void *arg = NULL;
	int token;

	check(base != NULL);
	bev = bufferevent_socket_new(base, -1, 0);
	check(bev != NULL);
	bufferevent_setcb(bev, read_cb, write_cb, event_cb, &token);
	bufferevent_getcb(bev, &rcb, &wcb, &ecb, &arg);
	check(rcb == read_cb);
	check(wcb == write_cb);
	check(ecb == event_cb);
	check_ptr(arg, ==, &token);
	/* BEV-2: NULL output pointers are accepted. */
	rcb = NULL;
	bufferevent_getcb(bev, &rcb, NULL, NULL, NULL);
	check(rcb == read_cb);
	arg = NULL;
	bufferevent_getcb(bev, NULL, NULL, NULL, &arg);
	check_ptr(arg, ==, &token);
	/* Replacing them replaces all four. */
	bufferevent_setcb(bev, NULL, write_cb, NULL, NULL);
	bufferevent_getcb(bev, &rcb, &wcb, &ecb, &arg);
	check(rcb == NULL);
	check(wcb == write_cb);
	check(ecb == NULL);
	check_ptr(arg, ==, NULL);
end:
	if (bev)
		bufferevent_free(bev);
	if (base)
		event_base_free(base);
}

static void
enable_disable(void)
{
	struct event_base *base = event_base_new();
	struct state st;
	int fds[2] = { -1, -1 };

	state_init(&st, base);
	check(base != NULL && st.got != NULL);
	check_int(make_pair(0, fds), ==, 0);
	st.bev = bufferevent_socket_new(base, fds[0], 0);
	check(st.bev != NULL);
	bufferevent_setcb(st.bev, read_cb, NULL, event_cb, &st);

	/* BEV-1: the flags as set. */
	check_int(bufferevent_enable(st.bev, EV_READ), ==, 0);
	check_int(bufferevent_get_enabled(st.bev), ==, EV_READ | EV_WRITE);
	check_int(bufferevent_disable(st.bev, EV_WRITE), ==, 0);
	check_int(bufferevent_get_enabled(st.bev), ==, EV_READ);
	check_int(bufferevent_disable(st.bev, EV_READ | EV_WRITE), ==, 0);
	check_int(bufferevent_get_enabled(st.bev), ==, 0);
	check_int(bufferevent_enable(st.bev, EV_READ | EV_WRITE), ==, 0);
	check_int(bufferevent_get_enabled(st.bev), ==, EV_READ | EV_WRITE);
	check_int(bufferevent_disable(st.bev, EV_READ), ==, 0);
	check_int(bufferevent_get_enabled(st.bev), ==, EV_WRITE);

	/* With reading disabled nothing is delivered... */
	check_int(write_all(fds[1], "hello", 5), ==, 0);
	check_int(run_loop(base, NULL, 100), ==, 0);
	check_int(st.nread, ==, 0);
	check_int(st.nevent, ==, 0);
	/* ...until it is enabled. */
	check_int(bufferevent_enable(st.bev, EV_READ), ==, 0);
	st.stop_at = 5;
	check_int(run_loop(base, &st.stop, 2000), ==, 0);
	check_int(evbuffer_get_length(st.got), ==, 5);
	check_mem(evbuffer_pullup(st.got, -1), "hello", 5);
	check_int(st.nevent, ==, 0);
end:
	state_free(&st);
	close_pair(fds);
	if (base)
		event_base_free(base);
}

/* BEV-33, BEV-13: write, write_buffer, read, read_buffer both ways. */
static void
write_and_read(int tcp, int mode)
{
	struct event_base *base = event_base_new();
	struct state st;
	struct evbuffer *src = evbuffer_new();
	int fds[2] = { -1, -1 };
	char *data = NULL, back[64];
	size_t i, n = 40000 / check_size_div();

	state_init(&st, base);
	check(base != NULL && src != NULL && st.got != NULL);
	check_int(make_pair(tcp, fds), ==, 0);
	st.bev = bufferevent_socket_new(base, fds[0], 0);
	check(st.bev != NULL);
	bufferevent_setcb(st.bev, read_cb, write_cb, event_cb, &st);
	st.read_mode = mode;
	data = malloc(n);
	check(data != NULL);
	for (i = 0; i < n; i++)
		data[i] = (char)(i % 251);

	/* Output is queued, not written inside the call. */
	check_int(bufferevent_write(st.bev, "head:", 5), ==, 0);
	check_int(evbuffer_get_length(bufferevent_get_output(st.bev)), ==, 5);
	check_int(evbuffer_add(src, data, n), ==, 0);
	check_int(bufferevent_write_buffer(st.bev, src), ==, 0);
	check_int(evbuffer_get_length(src), ==, 0);
	check_int(evbuffer_get_length(bufferevent_get_output(st.bev)), ==,
	    n + 5);
	check_int(st.nwrite, ==, 0);

	/* The write callback runs once all of it is sent. */
	st.stop_on_write = 1;
	check_int(run_loop(base, &st.stop, 3000), ==, 0);
	check_int(st.nwrite, ==, 1);
	check_int(st.out_at_write, ==, 0);
	check_int(read_some(fds[1], back, 5, 2000), ==, 5);
	check_mem(back, "head:", 5);
	for (i = 0; i < n; i += sizeof(back)) {
		size_t want = n - i < sizeof(back) ? n - i : sizeof(back);

		check_int(read_some(fds[1], back, want, 2000), ==, want);
		check_mem(back, data + i, want);
	}

	/* The other way: the peer writes, the read callback takes it. */
	check_int(bufferevent_enable(st.bev, EV_READ), ==, 0);
	st.stop = 0;
	st.stop_on_write = 0;
	st.stop_at = n;
	check_int(write_all(fds[1], data, n), ==, 0);
	check_int(run_loop(base, &st.stop, 3000), ==, 0);
	check_int(evbuffer_get_length(st.got), ==, n);
	check_mem(evbuffer_pullup(st.got, -1), data, n);
	check_int(st.input_left, ==, 0);
	check_int(st.nevent, ==, 0);
	/* Nothing to read now. */
	check_int(bufferevent_read(st.bev, back, sizeof(back)), ==, 0);
	check_int(st.nwrite, ==, 1);
end:
	free(data);
	if (src)
		evbuffer_free(src);
	state_free(&st);
	close_pair(fds);
	if (base)
		event_base_free(base);
}

static void
write_read_buffer_socketpair(void)
{
	write_and_read(0, READ_BUFFER);
}

static void
write_read_copy_socketpair(void)
{
	write_and_read(0, READ_COPY);
}

static void
write_read_buffer_tcp(void)
{
	write_and_read(1, READ_BUFFER);
}

static void
write_read_copy_tcp(void)
{
	write_and_read(1, READ_COPY);
}

static void
connect_succeeds(void)
{
	struct event_base *base = event_base_new();
	struct sockaddr_in sin;
	struct state st;
	int lfd = -1, afd = -1;
	char buf[8];

	state_init(&st, base);
	check(base != NULL && st.got != NULL);
	lfd = tcp_listener(&sin);
	check_int(lfd, >=, 0);
	st.bev = bufferevent_socket_new(base, -1, 0);
	check(st.bev != NULL);
	bufferevent_setcb(st.bev, read_cb, write_cb, event_cb, &st);
	/* SOCK-3: no fd and no address fails. */
	check_int(bufferevent_socket_connect(st.bev, NULL, 0), ==, -1);
	check_int(bufferevent_getfd(st.bev), ==, -1);
	/* SOCK-1: the socket exists when the call returns. */
	check_int(bufferevent_socket_connect(st.bev, (struct sockaddr *)&sin,
	    sizeof(sin)), ==, 0);
	check_int(bufferevent_getfd(st.bev), >=, 0);
	check(fcntl(bufferevent_getfd(st.bev), F_GETFL) & O_NONBLOCK);
	/* SOCK-3: written before the connection is up. */
	check_int(bufferevent_write(st.bev, "ping", 4), ==, 0);
	check_int(st.nevent, ==, 0);

	/* SOCK-2: exactly CONNECTED, once. */
	st.stop_on_write = 1;
	check_int(run_loop(base, &st.stop, 3000), ==, 0);
	check_int(st.nevent, ==, 1);
	check_int(st.first_what, ==, BEV_EVENT_CONNECTED);
	check_int(st.first_what, ==, 0x80);
	afd = accept(lfd, NULL, NULL);
	check_int(afd, >=, 0);
	check_int(read_some(afd, buf, 4, 2000), ==, 4);
	check_mem(buf, "ping", 4);
	check_int(st.nevent, ==, 1);
end:
	if (afd >= 0)
		close(afd);
	if (lfd >= 0)
		close(lfd);
	state_free(&st);
	if (base)
		event_base_free(base);
}

static void
connect_started_by_caller(void)
{
	struct event_base *base = event_base_new();
	struct sockaddr_in sin;
	struct state st;
	int lfd = -1, fd = -1, r;

	state_init(&st, base);
	check(base != NULL && st.got != NULL);
	lfd = tcp_listener(&sin);
	check_int(lfd, >=, 0);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	check_int(fd, >=, 0);
	check_int(evutil_make_socket_nonblocking(fd), ==, 0);
	r = connect(fd, (struct sockaddr *)&sin, sizeof(sin));
	check(r == 0 || errno == EINPROGRESS);
	/* SOCK-4: wrap it and let the bufferevent finish the connect. */
	st.bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	check(st.bev != NULL);
	fd = -1;
	bufferevent_setcb(st.bev, read_cb, write_cb, event_cb, &st);
	check_int(bufferevent_socket_connect(st.bev, NULL, 0), ==, 0);
	st.stop_on_event = 1;
	check_int(run_loop(base, &st.stop, 3000), ==, 0);
	check_int(st.nevent, ==, 1);
	check_int(st.first_what, ==, BEV_EVENT_CONNECTED);
	/* SOCK-22: nothing was queued, so no write callback. */
	check_int(run_loop(base, NULL, 50), ==, 0);
	check_int(st.nwrite, ==, 0);
	check_int(st.nevent, ==, 1);
end:
	if (fd >= 0)
		close(fd);
	if (lfd >= 0)
		close(lfd);
	state_free(&st);
	if (base)
		event_base_free(base);
}

static void
connect_refused(void)
{
	struct event_base *base = event_base_new();
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	struct state st;
	int bound = -1;

	state_init(&st, base);
	check(base != NULL && st.got != NULL);
	/* A port that is bound (so nobody else takes it) but not listening. */
	bound = socket(AF_INET, SOCK_STREAM, 0);
	check_int(bound, >=, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	check_int(bind(bound, (struct sockaddr *)&sin, sizeof(sin)), ==, 0);
	check_int(getsockname(bound, (struct sockaddr *)&sin, &len), ==, 0);

	st.bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	check(st.bev != NULL);
	bufferevent_setcb(st.bev, read_cb, write_cb, event_cb, &st);
	check_int(bufferevent_enable(st.bev, EV_READ), ==, 0);
	/* SOCK-5: the call itself succeeds. */
	check_int(bufferevent_socket_connect(st.bev, (struct sockaddr *)&sin,
	    sizeof(sin)), ==, 0);
	st.stop_on_event = 1;
	check_int(run_loop(base, &st.stop, 3000), ==, 0);
	/* Exactly ERROR, with the reason in errno (SOCK-6)... */
	check_int(st.first_what, ==, BEV_EVENT_ERROR);
	check_int(st.first_what, ==, 0x20);
	check_int(st.err, ==, ECONNREFUSED);
	/* ...and only once. */
	check_int(run_loop(base, NULL, 100), ==, 0);
	check_int(st.nevent, ==, 1);
	check_int(st.nread, ==, 0);
	check_int(st.nwrite, ==, 0);
end:
	if (bound >= 0)
		close(bound);
	state_free(&st);
	if (base)
		event_base_free(base);
}

static void
read_watermarks(void)
{
	struct event_base *base = event_base_new();
	struct state st;
	int fds[2] = { -1, -1 };
	char *data = NULL;
	size_t lo = 1, hi = 1, i, n = 1000;

	state_init(&st, base);
	check(base != NULL && st.got != NULL);
	check_int(make_pair(0, fds), ==, 0);
	st.bev = bufferevent_socket_new(base, fds[0], 0);
	check(st.bev != NULL);
	bufferevent_setcb(st.bev, read_cb, NULL, event_cb, &st);
	check_int(bufferevent_enable(st.bev, EV_READ), ==, 0);
	data = malloc(n);
	check(data != NULL);
	for (i = 0; i < n; i++)
		data[i] = (char)('a' + i % 26);

	/* BEV-4: one direction at a time reads back what was set. */
	bufferevent_setwatermark(st.bev, EV_READ, 10, 0);
	check_int(bufferevent_getwatermark(st.bev, EV_READ, &lo, &hi), ==, 0);
	check_int(lo, ==, 10);
	check_int(hi, ==, 0);
	check_int(bufferevent_getwatermark(st.bev, EV_WRITE, &lo, &hi), ==, 0);
	check_int(lo, ==, 0);
	check_int(hi, ==, 0);

	/* BEV-9: below the low mark data is read, silently. */
	st.read_mode = READ_LEAVE;
	check_int(write_all(fds[1], data, 5), ==, 0);
	check_int(run_loop(base, NULL, 100), ==, 0);
	check_int(st.nread, ==, 0);
	check_int(evbuffer_get_length(bufferevent_get_input(st.bev)), ==, 5);
	/* Reaching it runs the callback. */
	st.stop_at = 10;
	check_int(write_all(fds[1], data + 5, 5), ==, 0);
	check_int(run_loop(base, &st.stop, 2000), ==, 0);
	check_int(st.nread, >=, 1);
	check_int(st.max_input, >=, 10);
	check_int(evbuffer_remove_buffer(bufferevent_get_input(st.bev),
	    st.got, 10), ==, 10);

	/* BEV-10: never past the high mark. */
	bufferevent_setwatermark(st.bev, EV_READ, 0, 100);
	check_int(bufferevent_getwatermark(st.bev, EV_READ, &lo, &hi), ==, 0);
	check_int(lo, ==, 0);
	check_int(hi, ==, 100);
	st.stop = 0;
	st.stop_at = 100;
	st.max_input = 0;
	check_int(write_all(fds[1], data + 10, n - 10), ==, 0);
	check_int(run_loop(base, &st.stop, 2000), ==, 0);
	check_int(evbuffer_get_length(bufferevent_get_input(st.bev)), ==, 100);
	check_int(run_loop(base, NULL, 50), ==, 0);
	check_int(evbuffer_get_length(bufferevent_get_input(st.bev)), ==, 100);
	check_int(st.max_input, ==, 100);
	/* BEV-11: still reported as enabled. */
	check(bufferevent_get_enabled(st.bev) & EV_READ);

	/* Draining below the mark resumes reading on its own. */
	st.read_mode = READ_BUFFER;
	check_int(evbuffer_remove_buffer(bufferevent_get_input(st.bev),
	    st.got, 100), ==, 100);
	st.stop = 0;
	st.stop_at = n;
	check_int(run_loop(base, &st.stop, 2000), ==, 0);
	check_int(evbuffer_get_length(st.got), ==, n);
	check_mem(evbuffer_pullup(st.got, -1), data, n);
	check_int(st.max_input, <=, 100);
	check_int(st.nevent, ==, 0);
end:
	free(data);
	state_free(&st);
	close_pair(fds);
	if (base)
		event_base_free(base);
}

static void
write_watermarks(void)
{
	struct event_base *base = event_base_new();
	struct state st;
	int fds[2] = { -1, -1 };
	size_t lo = 0, hi = 0;
	char buf[16];

	state_init(&st, base);
	check(base != NULL && st.got != NULL);
	check_int(make_pair(0, fds), ==, 0);
	st.bev = bufferevent_socket_new(base, fds[0], 0);
	check(st.bev != NULL);
	bufferevent_setcb(st.bev, NULL, write_cb, event_cb, &st);

	/* BEV-4: both flags set both directions. */
	bufferevent_setwatermark(st.bev, EV_READ | EV_WRITE, 3, 50);
	check_int(bufferevent_getwatermark(st.bev, EV_READ, &lo, &hi), ==, 0);
	check_int(lo, ==, 3);
	check_int(hi, ==, 50);
	lo = hi = 0;
	check_int(bufferevent_getwatermark(st.bev, EV_WRITE, &lo, &hi), ==, 0);
	check_int(lo, ==, 3);
	check_int(hi, ==, 50);
	check_int(bufferevent_getwatermark(st.bev, EV_WRITE, NULL, &hi), ==, 0);
	check_int(bufferevent_getwatermark(st.bev, EV_WRITE, &lo, NULL), ==, 0);

	/* BEV-13: no write, no write callback. */
	check_int(run_loop(base, NULL, 50), ==, 0);
	check_int(st.nwrite, ==, 0);
	/* A write drained to at most the low mark runs it. */
	check_int(bufferevent_write(st.bev, "0123456789", 10), ==, 0);
	st.stop_on_write = 1;
	check_int(run_loop(base, &st.stop, 2000), ==, 0);
	check_int(st.nwrite, ==, 1);
	check_int(st.out_at_write, <=, 3);
	check_int(read_some(fds[1], buf, 10, 2000), ==, 10);
	check_mem(buf, "0123456789", 10);
	check_int(st.nevent, ==, 0);
end:
	state_free(&st);
	close_pair(fds);
	if (base)
		event_base_free(base);
}

static void
read_timeout(void)
{
	struct event_base *base = event_base_new();
	struct state st;
	struct timeval tv;
	int fds[2] = { -1, -1 };
	double t0, el;
	int ms = 100;

	state_init(&st, base);
	check(base != NULL && st.got != NULL);
	check_int(make_pair(0, fds), ==, 0);
	st.bev = bufferevent_socket_new(base, fds[0], 0);
	check(st.bev != NULL);
	bufferevent_setcb(st.bev, read_cb, write_cb, event_cb, &st);
	check_int(bufferevent_enable(st.bev, EV_READ), ==, 0);
	tv.tv_sec = 0;
	tv.tv_usec = ms * 1000;
	/* The clock starts before the timeout is set: setting it may be slow
	 * (under valgrind), and the timeout counts from then. */
	t0 = now_ms();
	check_int(bufferevent_set_timeouts(st.bev, &tv, NULL), ==, 0);

	/* BEV-15: TIMEOUT|READING, and reading is switched off. */
	st.stop_on_event = 1;
	check_int(run_loop(base, &st.stop, 3000), ==, 0);
	el = now_ms() - t0;
	check_int(st.nevent, ==, 1);
	check_int(st.first_what, ==, BEV_EVENT_TIMEOUT | BEV_EVENT_READING);
	check_int(st.first_what, ==, 0x41);
	check_int(st.enabled_at_event, ==, EV_WRITE);
	check_int(bufferevent_get_enabled(st.bev), ==, EV_WRITE);
	check_int(el, >=, ms - 10);

	/* Disabled, so no second timeout. */
	check_int(run_loop(base, NULL, 2 * ms), ==, 0);
	check_int(st.nevent, ==, 1);

	/* BEV-16: enabling again restarts the whole timeout. */
	t0 = now_ms();
	check_int(bufferevent_enable(st.bev, EV_READ), ==, 0);
	st.stop = 0;
	check_int(run_loop(base, &st.stop, 3000), ==, 0);
	el = now_ms() - t0;
	check_int(st.nevent, ==, 2);
	check_int(st.last_what, ==, 0x41);
	check_int(el, >=, ms - 10);

	/* BEV-18: set_timeouts(NULL, NULL) clears it. */
	check_int(bufferevent_set_timeouts(st.bev, NULL, NULL), ==, 0);
	check_int(bufferevent_enable(st.bev, EV_READ), ==, 0);
	check_int(run_loop(base, NULL, 3 * ms), ==, 0);
	check_int(st.nevent, ==, 2);
	check_int(st.nread, ==, 0);
	check_int(bufferevent_get_enabled(st.bev), ==, EV_READ | EV_WRITE);
end:
	state_free(&st);
	close_pair(fds);
	if (base)
		event_base_free(base);
}

static void
write_timeout(void)
{
	struct event_base *base = event_base_new();
	struct state st;
	struct timeval tv;
	int fds[2] = { -1, -1 };
	char *data = NULL;
	size_t n = 4 << 20;
	int ms = 100;

	state_init(&st, base);
	check(base != NULL && st.got != NULL);
	check_int(make_pair(0, fds), ==, 0);
	st.bev = bufferevent_socket_new(base, fds[0], 0);
	check(st.bev != NULL);
	bufferevent_setcb(st.bev, NULL, write_cb, event_cb, &st);
	tv.tv_sec = 0;
	tv.tv_usec = ms * 1000;
	check_int(bufferevent_set_timeouts(st.bev, NULL, &tv), ==, 0);

	/* BEV-18: nothing waiting to be written, no timeout. */
	check_int(run_loop(base, NULL, 3 * ms), ==, 0);
	check_int(st.nevent, ==, 0);

	/* More than the socket holds, to a peer that never reads. */
	data = calloc(1, n);
	check(data != NULL);
	check_int(bufferevent_write(st.bev, data, n), ==, 0);
	st.stop_on_event = 1;
	check_int(run_loop(base, &st.stop, 3000), ==, 0);
	check_int(st.nevent, ==, 1);
	check_int(st.first_what, ==, BEV_EVENT_TIMEOUT | BEV_EVENT_WRITING);
	check_int(st.first_what, ==, 0x42);
	check_int(st.enabled_at_event, ==, 0);
	check_int(bufferevent_get_enabled(st.bev), ==, 0);
	check_int(evbuffer_get_length(bufferevent_get_output(st.bev)), >, 0);
	check_int(st.nwrite, ==, 0);
end:
	free(data);
	state_free(&st);
	close_pair(fds);
	if (base)
		event_base_free(base);
}

static void
setfd_moves_to_new_fd(void)
{
	struct event_base *base = event_base_new();
	struct state st;
	int a[2] = { -1, -1 }, b[2] = { -1, -1 };
	char buf[8];

	state_init(&st, base);
	check(base != NULL && st.got != NULL);
	check_int(make_pair(0, a), ==, 0);
	check_int(make_pair(1, b), ==, 0);
	st.bev = bufferevent_socket_new(base, -1, 0);
	check(st.bev != NULL);
	bufferevent_setcb(st.bev, read_cb, NULL, event_cb, &st);
	/* SOCK-15: flags set while there is no fd are honoured later. */
	check_int(bufferevent_enable(st.bev, EV_READ), ==, 0);
	check_int(bufferevent_setfd(st.bev, a[0]), ==, 0);
	check_int(bufferevent_getfd(st.bev), ==, a[0]);
	check_int(write_all(a[1], "first", 5), ==, 0);
	st.stop_at = 5;
	check_int(run_loop(base, &st.stop, 2000), ==, 0);
	check_mem(evbuffer_pullup(st.got, -1), "first", 5);

	/* SOCK-16: the old fd is neither closed nor watched any more. */
	check_int(bufferevent_setfd(st.bev, b[0]), ==, 0);
	check_int(bufferevent_getfd(st.bev), ==, b[0]);
	check(fd_is_open(a[0]));
	check_int(write_all(a[1], "old", 3), ==, 0);
	check_int(write_all(b[1], "new", 3), ==, 0);
	st.stop = 0;
	st.stop_at = 8;
	check_int(run_loop(base, &st.stop, 2000), ==, 0);
	check_int(run_loop(base, NULL, 50), ==, 0);
	check_int(evbuffer_get_length(st.got), ==, 8);
	check_mem(evbuffer_pullup(st.got, -1), "firstnew", 8);
	check_int(read_some(a[0], buf, 3, 1000), ==, 3);
	check_mem(buf, "old", 3);
	check_int(st.nevent, ==, 0);
end:
	state_free(&st);
	close_pair(a);
	close_pair(b);
	if (base)
		event_base_free(base);
}

static void
free_keeps_fd_open(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *bev = NULL;
	int fds[2] = { -1, -1 };
	char buf[8];

	check(base != NULL);
	check_int(make_pair(0, fds), ==, 0);
	bev = bufferevent_socket_new(base, fds[0], 0);
	check(bev != NULL);
	check_int(bufferevent_enable(bev, EV_READ), ==, 0);
	/* BEV-19: without CLOSE_ON_FREE the fd survives the free. */
	bufferevent_free(bev);
	bev = NULL;
	event_base_loop(base, EVLOOP_NONBLOCK);
	check(fd_is_open(fds[0]));
	check_int(write_all(fds[0], "still", 5), ==, 0);
	check_int(read_some(fds[1], buf, 5, 1000), ==, 5);
	check_mem(buf, "still", 5);
end:
	if (bev)
		bufferevent_free(bev);
	close_pair(fds);
	if (base)
		event_base_free(base);
}

static void
free_closes_fd(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *bev = NULL;
	int fds[2] = { -1, -1 };
	char buf[8];
	int i;

	check(base != NULL);
	check_int(make_pair(0, fds), ==, 0);
	bev = bufferevent_socket_new(base, fds[0], BEV_OPT_CLOSE_ON_FREE);
	check(bev != NULL);
	check_int(bufferevent_enable(bev, EV_READ), ==, 0);
	check_int(bufferevent_write(bev, "unsent", 6), ==, 0);
	bufferevent_free(bev);
	bev = NULL;
	/* BEV-19, BEV-20: closed once the loop has run; output dropped. */
	for (i = 0; i < 10; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
	check(!fd_is_open(fds[0]));
	fds[0] = -1;
	/* The peer sees EOF at once (not EAGAIN), and no data. */
	check_int(read(fds[1], buf, sizeof(buf)), ==, 0);
end:
	if (bev)
		bufferevent_free(bev);
	close_pair(fds);
	if (base)
		event_base_free(base);
}

/* SOCK-10, SOCK-11: everything sent before the close comes before EOF. */
static void
eof_after_data(int tcp)
{
	struct event_base *base = event_base_new();
	struct state st;
	int fds[2] = { -1, -1 };
	char *data = NULL;
	size_t i, n = 60000 / check_size_div();

	state_init(&st, base);
	check(base != NULL && st.got != NULL);
	check_int(make_pair(tcp, fds), ==, 0);
	st.bev = bufferevent_socket_new(base, fds[0], 0);
	check(st.bev != NULL);
	bufferevent_setcb(st.bev, read_cb, NULL, event_cb, &st);
	data = malloc(n);
	check(data != NULL);
	for (i = 0; i < n; i++)
		data[i] = (char)(i * 13 + 5);
	/* The peer sends and closes before the loop reads anything. */
	check_int(write_all(fds[1], data, n), ==, 0);
	close(fds[1]);
	fds[1] = -1;
	check_int(bufferevent_enable(st.bev, EV_READ), ==, 0);
	st.stop_on_event = 1;
	check_int(run_loop(base, &st.stop, 3000), ==, 0);
	check_int(st.nevent, ==, 1);
	check_int(st.first_what, ==, BEV_EVENT_EOF | BEV_EVENT_READING);
	check_int(st.first_what, ==, 0x11);
	check_int(st.got_at_event, ==, n);
	check_mem(evbuffer_pullup(st.got, -1), data, n);
	check_int(st.read_after_event, ==, 0);
	check_int(st.enabled_at_event & EV_READ, ==, 0);
	check_int(bufferevent_get_enabled(st.bev) & EV_READ, ==, 0);
	/* Nothing more is reported. */
	check_int(run_loop(base, NULL, 50), ==, 0);
	check_int(st.nevent, ==, 1);
end:
	free(data);
	state_free(&st);
	close_pair(fds);
	if (base)
		event_base_free(base);
}

static void
eof_after_data_socketpair(void)
{
	eof_after_data(0);
}

static void
eof_after_data_tcp(void)
{
	eof_after_data(1);
}

static void
free_inside_read_callback(void)
{
	struct event_base *base = event_base_new();
	struct state st;
	int fds[2] = { -1, -1 };
	int i, r = 0;

	state_init(&st, base);
	check(base != NULL && st.got != NULL);
	check_int(make_pair(0, fds), ==, 0);
	st.bev = bufferevent_socket_new(base, fds[0], BEV_OPT_CLOSE_ON_FREE);
	check(st.bev != NULL);
	fds[0] = -1;
	bufferevent_setcb(st.bev, read_cb, NULL, event_cb, &st);
	check_int(bufferevent_enable(st.bev, EV_READ), ==, 0);
	st.read_mode = READ_COPY;
	st.free_in_read = 1;
	/* Data and EOF are both waiting. */
	check_int(write_all(fds[1], "abc", 3), ==, 0);
	close(fds[1]);
	fds[1] = -1;
	check_int(run_loop(base, &st.stop, 2000), ==, 0);
	check_ptr(st.bev, ==, NULL);
	check_int(st.nread, ==, 1);
	check_mem(evbuffer_pullup(st.got, -1), "abc", 3);
	/* BEV-21: the EOF is not reported and nothing stays registered. */
	for (i = 0; i < 10 && r != 1; i++)
		r = event_base_loop(base, EVLOOP_NONBLOCK);
	check_int(r, ==, 1);
	check_int(st.nevent, ==, 0);
	check_int(st.nread, ==, 1);
end:
	state_free(&st);
	close_pair(fds);
	if (base)
		event_base_free(base);
}

static void
struct_offsets(void)
{
	if (sizeof(void *) != 8 || sizeof(long) != 8) {
		printf("struct_offsets: layout table is for LP64 only\n");
		return;
	}
	/* ABI-2. */
	check_int(sizeof(struct bufferevent), ==, 392);
	check_int(offsetof(struct bufferevent, ev_base), ==, 0);
	check_int(offsetof(struct bufferevent, ev_read), ==, 16);
	check_int(offsetof(struct bufferevent, ev_write), ==, 144);
	check_int(offsetof(struct bufferevent, input), ==, 272);
	check_int(offsetof(struct bufferevent, output), ==, 280);
	check_int(offsetof(struct bufferevent, wm_read), ==, 288);
	check_int(offsetof(struct bufferevent, wm_write), ==, 304);
	check_int(offsetof(struct bufferevent, readcb), ==, 320);
	check_int(offsetof(struct bufferevent, writecb), ==, 328);
	check_int(offsetof(struct bufferevent, errorcb), ==, 336);
	check_int(offsetof(struct bufferevent, cbarg), ==, 344);
	check_int(offsetof(struct bufferevent, timeout_read), ==, 352);
	check_int(offsetof(struct bufferevent, timeout_write), ==, 368);
	check_int(offsetof(struct bufferevent, enabled), ==, 384);
end:
	;
}

static void
struct_fields_live(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *bev = NULL;
	int fds[2] = { -1, -1 };
	int token;

	check(base != NULL);
	check_int(make_pair(0, fds), ==, 0);
	bev = bufferevent_socket_new(base, fds[0], 0);
	check(bev != NULL);
	/* ABI-4: the fields agree with the accessors... */
	check_ptr(bev->ev_base, ==, base);
	check_ptr(bev->input, ==, bufferevent_get_input(bev));
	check_ptr(bev->output, ==, bufferevent_get_output(bev));
	check_int(bev->enabled, ==, bufferevent_get_enabled(bev));
	check_int(bev->enabled, ==, EV_WRITE);
	check(bev->readcb == NULL);
	check_ptr(bev->cbarg, ==, NULL);
	/* ...and follow every change. */
	check_int(bufferevent_enable(bev, EV_READ), ==, 0);
	check_int(bev->enabled, ==, EV_READ | EV_WRITE);
	check_int(bufferevent_disable(bev, EV_WRITE), ==, 0);
	check_int(bev->enabled, ==, EV_READ);
	bufferevent_setcb(bev, read_cb, write_cb, event_cb, &token);
	check_ptr(bev->cbarg, ==, &token);
	check(bev->readcb == read_cb);
	check(bev->writecb == write_cb);
	check(bev->errorcb == event_cb);
	bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
	check_ptr(bev->cbarg, ==, NULL);
	check(bev->readcb == NULL);
	check(bev->errorcb == NULL);
	/* ABI-5: watermarks mirrored in the struct. */
	bufferevent_setwatermark(bev, EV_READ, 7, 70);
	check_int(bev->wm_read.low, ==, 7);
	check_int(bev->wm_read.high, ==, 70);
	check_int(bev->input == bufferevent_get_input(bev), ==, 1);
end:
	if (bev)
		bufferevent_free(bev);
	close_pair(fds);
	if (base)
		event_base_free(base);
}

static const struct check_case cases[] = {
	{ "new_defaults", new_defaults },
	{ "setcb_getcb", setcb_getcb },
	{ "enable_disable", enable_disable },
	{ "write_read_buffer_socketpair", write_read_buffer_socketpair },
	{ "write_read_copy_socketpair", write_read_copy_socketpair },
	{ "write_read_buffer_tcp", write_read_buffer_tcp },
	{ "write_read_copy_tcp", write_read_copy_tcp },
	{ "connect_succeeds", connect_succeeds },
	{ "connect_started_by_caller", connect_started_by_caller },
	{ "connect_refused", connect_refused },
	{ "read_watermarks", read_watermarks },
	{ "write_watermarks", write_watermarks },
	{ "read_timeout", read_timeout },
	{ "write_timeout", write_timeout },
	{ "setfd_moves_to_new_fd", setfd_moves_to_new_fd },
	{ "free_keeps_fd_open", free_keeps_fd_open },
	{ "free_closes_fd", free_closes_fd },
	{ "eof_after_data_socketpair", eof_after_data_socketpair },
	{ "eof_after_data_tcp", eof_after_data_tcp },
	{ "free_inside_read_callback", free_inside_read_callback },
	{ "struct_offsets", struct_offsets },
	{ "struct_fields_live", struct_fields_live },
	{ NULL, NULL }
};

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	return check_main(cases, argc, argv);
}
