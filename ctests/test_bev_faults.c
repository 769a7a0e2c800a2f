/*
 * test_bev_faults.c: socket bufferevents over other kinds of fd (pipes and
 * pseudo-terminals, as tmux uses them) and under faults: a peer that
 * resets in the middle of a large write, a peer that half-closes with data
 * not yet read, a slow reader, reads capped by max_single_read, and a
 * write of zero bytes (BEHAVIOUR.md sections 3 and 4, DESIGN.md section 7).
 *
 * Only the bytes delivered, their order and the event flags are checked,
 * never the size or the number of reads.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>

#include "check.h"
#include "loop_util.h"
#include "tcp_util.h"

/* What the callbacks saw. */
struct seen {
	struct event_base *base;
	struct evbuffer *got;	/* everything the read callback took */
	int nwrite, nevent;
	short what;		/* flags of the first event callback */
	int err;		/* errno in the first event callback */
	size_t got_at_event;	/* bytes taken before the first event */
	size_t max_input;	/* the largest input seen */
	size_t take;		/* read_cb takes at most this much (0: all) */
	size_t stop_at;		/* break once this much was taken */
	int stop_on_write;
};

static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct seen *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t len = evbuffer_get_length(in);

	if (len > s->max_input)
		s->max_input = len;
	if (s->take && len > s->take)
		len = s->take;
	evbuffer_remove_buffer(in, s->got, len);
	if (s->stop_at && evbuffer_get_length(s->got) >= s->stop_at)
		event_base_loopbreak(s->base);
}

static void
write_cb(struct bufferevent *bev, void *arg)
{
	struct seen *s = arg;

	(void)bev;
	s->nwrite++;
	if (s->stop_on_write)
		event_base_loopbreak(s->base);
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct seen *s = arg;

	if (s->nevent++ == 0) {
		s->what = what;
		s->err = EVUTIL_SOCKET_ERROR();
		/* Bytes delivered: taken, or still waiting in the input. */
		s->got_at_event = evbuffer_get_length(s->got) +
		    evbuffer_get_length(bufferevent_get_input(bev));
	}
	event_base_loopbreak(s->base);
}

static void
seen_init(struct seen *s, struct event_base *base)
{
	memset(s, 0, sizeof(*s));
	s->base = base;
	s->got = evbuffer_new();
}

/* A deterministic pattern, so order and content can be checked. */
static void
fill(char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (char)('a' + (i * 7 + i / 251) % 26);
}

static int
same_as_pattern(struct evbuffer *buf, size_t n)
{
	char *want = malloc(n), *have = malloc(n);
	int ok;

	fill(want, n);
	ok = want && have && evbuffer_get_length(buf) == n &&
	    evbuffer_copyout(buf, have, n) == (ev_ssize_t)n &&
	    memcmp(want, have, n) == 0;
	free(want);
	free(have);
	return ok;
}

/* Writes all n bytes to a nonblocking fd, waiting while it is full. */
static int
write_all(int fd, const char *p, size_t n)
{
	struct pollfd pfd;

	pfd.fd = fd;
	pfd.events = POLLOUT;
	while (n > 0) {
		ssize_t r = write(fd, p, n);

		if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (poll(&pfd, 1, 2000 * check_time_scale()) <= 0)
				return -1;
			continue;
		}
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/*
 * A pipe: a bufferevent on the read end delivers what was written, then
 * EOF|READING; one on the write end sends its output.
 */
static void
pipe_ends(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *rd = NULL, *wr = NULL;
	struct seen s;
	int p[2] = { -1, -1 }, q[2] = { -1, -1 };
	char buf[16];

	seen_init(&s, base);
	check(base != NULL);
	check_int(pipe(p), ==, 0);
	check_int(pipe(q), ==, 0);
	evutil_make_socket_nonblocking(p[0]);
	evutil_make_socket_nonblocking(q[1]);

	rd = bufferevent_socket_new(base, p[0], BEV_OPT_CLOSE_ON_FREE);
	check(rd != NULL);
	p[0] = -1;
	bufferevent_setcb(rd, read_cb, NULL, event_cb, &s);
	bufferevent_enable(rd, EV_READ);
	check_int(write(p[1], "hello", 5), ==, 5);
	close(p[1]);
	p[1] = -1;
	run_for(base, 2000);
	check_int(s.nevent, ==, 1);
	check_int(s.what, ==, BEV_EVENT_EOF | BEV_EVENT_READING);
	check_int(s.got_at_event, ==, 5);

	wr = bufferevent_socket_new(base, q[1], BEV_OPT_CLOSE_ON_FREE);
	check(wr != NULL);
	q[1] = -1;
	bufferevent_setcb(wr, NULL, write_cb, NULL, &s);
	s.stop_on_write = 1;
	check_int(bufferevent_write(wr, "world", 5), ==, 0);
	run_for(base, 2000);
	check_int(s.nwrite, ==, 1);
	check_int(read(q[0], buf, sizeof(buf)), ==, 5);
	check_mem(buf, "world", 5);
end:
	if (rd)
		bufferevent_free(rd);
	if (wr)
		bufferevent_free(wr);
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	if (q[0] >= 0)
		close(q[0]);
	if (q[1] >= 0)
		close(q[1]);
	if (s.got)
		evbuffer_free(s.got);
	if (base)
		event_base_free(base);
}

/*
 * A pseudo-terminal master, as tmux drives one: both directions work, and
 * when the slave side goes away the master's read fails (EIO on Linux),
 * reported as ERROR|READING after all data.
 */
static void
pty_master(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *bev = NULL;
	struct termios tio;
	struct seen s;
	int master = -1, slave = -1;
	char buf[16];

	seen_init(&s, base);
	check(base != NULL);
	master = posix_openpt(O_RDWR | O_NOCTTY);
	check(master >= 0);
	check_int(grantpt(master), ==, 0);
	check_int(unlockpt(master), ==, 0);
	slave = open(ptsname(master), O_RDWR | O_NOCTTY);
	check(slave >= 0);
	check_int(tcgetattr(slave, &tio), ==, 0);
	cfmakeraw(&tio);
	check_int(tcsetattr(slave, TCSANOW, &tio), ==, 0);
	evutil_make_socket_nonblocking(master);

	bev = bufferevent_socket_new(base, master, BEV_OPT_CLOSE_ON_FREE);
	check(bev != NULL);
	master = -1;
	bufferevent_setcb(bev, read_cb, write_cb, event_cb, &s);
	bufferevent_enable(bev, EV_READ);
	s.stop_at = 6;
	check_int(write(slave, "to-tty", 6), ==, 6);
	run_for(base, 2000);
	check_int(evbuffer_get_length(s.got), ==, 6);
	check_mem(evbuffer_pullup(s.got, -1), "to-tty", 6);

	s.stop_on_write = 1;
	check_int(bufferevent_write(bev, "keys", 4), ==, 0);
	run_for(base, 2000);
	check_int(s.nwrite, ==, 1);
	check_int(read(slave, buf, sizeof(buf)), ==, 4);
	check_mem(buf, "keys", 4);

	check_int(write(slave, "bye", 3), ==, 3);
	close(slave);
	slave = -1;
	s.stop_at = 0;
	run_for(base, 2000);
	check_int(s.nevent, ==, 1);
	check_int(s.what, ==, BEV_EVENT_ERROR | BEV_EVENT_READING);
	check_int(s.err, ==, EIO);
	check_int(s.got_at_event, ==, 9);
end:
	if (bev)
		bufferevent_free(bev);
	if (master >= 0)
		close(master);
	if (slave >= 0)
		close(slave);
	if (s.got)
		evbuffer_free(s.got);
	if (base)
		event_base_free(base);
}

/*
 * SOCK-13: the peer resets while a large write is under way: the event
 * callback gets ERROR|WRITING with EPIPE or ECONNRESET, and EV_WRITE is
 * disabled.
 */
static void
reset_during_large_write(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *bev = NULL;
	struct linger lg;
	struct seen s;
	size_t n = 1024 * 1024;
	char *data = malloc(n);
	int fds[2] = { -1, -1 }, small = 16384;

	seen_init(&s, base);
	check(base != NULL && data != NULL);
	check_int(tcp_pair(fds), ==, 0);
	/* Small buffers, so most of the output is still queued. */
	setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(fds[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	fill(data, n);
	bev = bufferevent_socket_new(base, fds[0], BEV_OPT_CLOSE_ON_FREE);
	check(bev != NULL);
	fds[0] = -1;
	bufferevent_setcb(bev, NULL, write_cb, event_cb, &s);
	check_int(bufferevent_write(bev, data, n), ==, 0);
	run_for(base, 20);
	check_int(s.nevent, ==, 0);
	lg.l_onoff = 1;
	lg.l_linger = 0;
	check_int(setsockopt(fds[1], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)),
	    ==, 0);
	close(fds[1]);
	fds[1] = -1;
	run_for(base, 2000);
	check_int(s.nevent, ==, 1);
	check_int(s.what, ==, BEV_EVENT_ERROR | BEV_EVENT_WRITING);
	check(s.err == EPIPE || s.err == ECONNRESET);
	check_int(bufferevent_get_enabled(bev) & EV_WRITE, ==, 0);
	check_int(s.nwrite, ==, 0);
end:
	free(data);
	if (bev)
		bufferevent_free(bev);
	if (fds[1] >= 0)
		close(fds[1]);
	if (s.got)
		evbuffer_free(s.got);
	if (base)
		event_base_free(base);
}

/*
 * SOCK-10 with a reader slower than the sender: the peer writes a lot and
 * half-closes; the bufferevent's input stays under its high watermark,
 * and every byte arrives, in order, before EOF|READING.
 */
static void
half_close_with_unread_data(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *bev = NULL;
	struct seen s;
	size_t n = 300 * 1000 / check_size_div();
	char *data = malloc(n);
	int fds[2] = { -1, -1 };

	seen_init(&s, base);
	check(base != NULL && data != NULL);
	check_int(tcp_pair(fds), ==, 0);
	fill(data, n);
	bev = bufferevent_socket_new(base, fds[0], BEV_OPT_CLOSE_ON_FREE);
	check(bev != NULL);
	fds[0] = -1;
	s.take = 1000;
	bufferevent_setwatermark(bev, EV_READ, 0, 4096);
	bufferevent_setcb(bev, read_cb, NULL, event_cb, &s);
	bufferevent_enable(bev, EV_READ);
	/* The kernel buffers hold all of it; the loop reads it later. */
	{
		int big = 1024 * 1024;

		setsockopt(fds[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	}
	while (n > 0) {
		struct pollfd pfd;
		ssize_t r = write(fds[1], data, n);

		if (r > 0) {
			memmove(data, data + r, n - (size_t)r);
			n -= (size_t)r;
			continue;
		}
		check(r < 0 && errno == EAGAIN);
		/* Full: let the bufferevent take some. */
		event_base_loop(base, EVLOOP_NONBLOCK);
		pfd.fd = fds[1];
		pfd.events = POLLOUT;
		poll(&pfd, 1, 10);
	}
	check_int(shutdown(fds[1], SHUT_WR), ==, 0);
	run_for(base, 5000);
	check_int(s.nevent, ==, 1);
	check_int(s.what, ==, BEV_EVENT_EOF | BEV_EVENT_READING);
	n = 300 * 1000 / check_size_div();
	check_int(s.got_at_event, ==, n);
	evbuffer_add_buffer(s.got, bufferevent_get_input(bev));
	check(same_as_pattern(s.got, n));
	check_int(s.max_input, <=, 4096);
end:
	free(data);
	if (bev)
		bufferevent_free(bev);
	if (fds[1] >= 0)
		close(fds[1]);
	if (s.got)
		evbuffer_free(s.got);
	if (base)
		event_base_free(base);
}

/* A peer that reads slowly: a little on each tick of a timer. */
struct slow_peer {
	int fd;
	struct evbuffer *got;
	size_t want;
	struct event_base *base;
};

static void
slow_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct slow_peer *p = arg;
	char buf[32 * 1024];
	ssize_t r;

	(void)fd;
	(void)what;
	r = read(p->fd, buf, sizeof(buf));
	if (r > 0)
		evbuffer_add(p->got, buf, (size_t)r);
	if (evbuffer_get_length(p->got) >= p->want)
		event_base_loopbreak(p->base);
}

/*
 * A slow reader makes the bufferevent's writes come up short again and
 * again (EAGAIN): all the output still arrives in order, and the write
 * callback runs once, when the output is empty.
 */
static void
slow_reader(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *bev = NULL;
	struct event *tick = NULL;
	struct slow_peer peer;
	struct timeval tv = { 0, 1000 };
	struct seen s;
	size_t n = 2 * 1024 * 1024 / check_size_div();
	char *data = malloc(n);
	int fds[2] = { -1, -1 }, small = 65536;

	seen_init(&s, base);
	memset(&peer, 0, sizeof(peer));
	peer.got = evbuffer_new();
	check(base != NULL && data != NULL && peer.got != NULL);
	check_int(tcp_pair(fds), ==, 0);
	setsockopt(fds[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	fill(data, n);
	bev = bufferevent_socket_new(base, fds[0], BEV_OPT_CLOSE_ON_FREE);
	check(bev != NULL);
	fds[0] = -1;
	bufferevent_setcb(bev, NULL, write_cb, event_cb, &s);
	check_int(bufferevent_write(bev, data, n), ==, 0);
	peer.fd = fds[1];
	peer.want = n;
	peer.base = base;
	tick = event_new(base, -1, EV_PERSIST, slow_read_cb, &peer);
	check(tick != NULL);
	event_add(tick, &tv);
	run_for(base, 20000);
	check_int(evbuffer_get_length(peer.got), ==, n);
	check(same_as_pattern(peer.got, n));
	run_for(base, 20);
	check_int(s.nwrite, ==, 1);
	check_int(s.nevent, ==, 0);
end:
	free(data);
	if (tick)
		event_free(tick);
	if (peer.got)
		evbuffer_free(peer.got);
	if (bev)
		bufferevent_free(bev);
	if (fds[1] >= 0)
		close(fds[1]);
	if (s.got)
		evbuffer_free(s.got);
	if (base)
		event_base_free(base);
}

/*
 * More data than max_single_read allows in one read: it all arrives, in
 * order, and no read callback sees more than the data sent so far.
 */
static void
reads_beyond_max_single_read(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *bev = NULL;
	struct seen s;
	size_t n = 200 * 1000 / check_size_div();
	char *data = malloc(n);
	int fds[2] = { -1, -1 };

	seen_init(&s, base);
	check(base != NULL && data != NULL);
	check_int(tcp_pair(fds), ==, 0);
	fill(data, n);
	bev = bufferevent_socket_new(base, fds[0], BEV_OPT_CLOSE_ON_FREE);
	check(bev != NULL);
	fds[0] = -1;
	check_int(bufferevent_set_max_single_read(bev, 100), ==, 0);
	bufferevent_setcb(bev, read_cb, NULL, event_cb, &s);
	bufferevent_enable(bev, EV_READ);
	check_int(write_all(fds[1], data, n), ==, 0);
	close(fds[1]);
	fds[1] = -1;
	run_for(base, 5000);
	check_int(s.what, ==, BEV_EVENT_EOF | BEV_EVENT_READING);
	check(same_as_pattern(s.got, n));
end:
	free(data);
	if (bev)
		bufferevent_free(bev);
	if (fds[1] >= 0)
		close(fds[1]);
	if (s.got)
		evbuffer_free(s.got);
	if (base)
		event_base_free(base);
}

/*
 * A write of zero bytes succeeds, queues nothing and, since nothing was
 * written, runs no write callback (BEV-13).
 */
static void
zero_byte_write(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *bev = NULL;
	struct seen s;
	int fds[2] = { -1, -1 };
	char c;

	seen_init(&s, base);
	check(base != NULL);
	check_int(tcp_pair(fds), ==, 0);
	bev = bufferevent_socket_new(base, fds[0], BEV_OPT_CLOSE_ON_FREE);
	check(bev != NULL);
	fds[0] = -1;
	bufferevent_setcb(bev, NULL, write_cb, event_cb, &s);
	check_int(bufferevent_write(bev, "", 0), ==, 0);
	check_int(bufferevent_write(bev, NULL, 0), ==, 0);
	check_int(evbuffer_get_length(bufferevent_get_output(bev)), ==, 0);
	run_for(base, 100);
	check_int(s.nwrite, ==, 0);
	check_int(s.nevent, ==, 0);
	check_int(read(fds[1], &c, 1), ==, -1);
	check_int(errno, ==, EAGAIN);
end:
	if (bev)
		bufferevent_free(bev);
	if (fds[1] >= 0)
		close(fds[1]);
	if (s.got)
		evbuffer_free(s.got);
	if (base)
		event_base_free(base);
}

static const struct check_case cases[] = {
	{ "pipe_ends", pipe_ends },
	{ "pty_master", pty_master },
	{ "reset_during_large_write", reset_during_large_write },
	{ "half_close_with_unread_data", half_close_with_unread_data },
	{ "slow_reader", slow_reader },
	{ "reads_beyond_max_single_read", reads_beyond_max_single_read },
	{ "zero_byte_write", zero_byte_write },
	{ NULL, NULL }
};

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	return check_main(cases, argc, argv);
}
