/*
 * test_bev_load.c: socket bufferevents under load and against peers that
 * misbehave slowly (DESIGN.md section 7): a peer that stops reading, a peer
 * that trickles one byte at a time, and thousands of loopback connections
 * on one base. (An accept with the fd table exhausted is covered by
 * test_listener.c and test_listener_opts.c.)
 *
 * Only bytes, their order and event flags are checked, never the size or
 * the number of reads; timings are lower bounds scaled by
 * check_time_scale().
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "check.h"
#include "loop_util.h"
#include "tcp_util.h"

/* A deterministic pattern, so content and order can be checked. */
static void
fill(char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (char)('a' + (i * 5 + i / 509) % 26);
}

/* What the callbacks of one bufferevent saw. */
struct seen {
	struct event_base *base;
	struct evbuffer *got;
	int nread, nwrite, nevent;
	short what;		/* flags of the latest event */
	long long at_event;	/* check_now_ms() at the latest event */
	int stop_on_event;
};

static void
seen_read_cb(struct bufferevent *bev, void *arg)
{
	struct seen *s = arg;

	s->nread++;
	evbuffer_add_buffer(s->got, bufferevent_get_input(bev));
}

static void
seen_write_cb(struct bufferevent *bev, void *arg)
{
	struct seen *s = arg;

	(void)bev;
	s->nwrite++;
}

static void
seen_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct seen *s = arg;

	(void)bev;
	s->nevent++;
	s->what = what;
	s->at_event = check_now_ms();
	if (s->stop_on_event)
		event_base_loopbreak(s->base);
}

/* Frees what a one-socket case made: bev, the fds still open, the base. */
static void
free_socket_case(struct event_base *base, struct bufferevent *bev, int *fds)
{
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
 * Reads up to n bytes from the peer end fd into back, running the loop
 * whenever the socket is empty so bev goes on sending; sleeps a little
 * only once bev has sent all it had and its write callback (counted in
 * *nwrite) has run. Gives up after limit_ms (0: never). Returns how many
 * bytes came, or -1 on a read error.
 */
static size_t
read_while_sending(struct event_base *base, struct bufferevent *bev, int fd,
    char *back, size_t n, const int *nwrite, long long limit_ms)
{
	long long t0 = check_now_ms();
	size_t got = 0;

	while (got < n && (!limit_ms || check_now_ms() - t0 < limit_ms)) {
		ssize_t r = read(fd, back + got, n - got);

		if (r > 0) {
			got += (size_t)r;
			continue;
		}
		if (r == 0 || errno != EAGAIN)
			return (size_t)-1;
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		/* All sent: what is left is in the kernel; wait for it. */
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0 &&
		    *nwrite > 0)
			usleep(1000);
	}
	return got;
}

/*
 * A peer that reads a little and then stops: the output holds exactly
 * what the peer has not taken, never more than was written, and after the
 * write timeout (TIMEOUT|WRITING, EV_WRITE off) nothing is lost: once the
 * peer reads again and writing is enabled, it gets every byte in order.
 */
static void
stalled_reader_write_timeout(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *bev = NULL;
	struct seen s;
	struct timeval tv;
	size_t n = 8 * 1024 * 1024 / check_size_div(), got = 0, out;
	char *data = malloc(n), *back = malloc(n);
	int fds[2] = { -1, -1 }, small = 32768, ms = 150;
	long long t0;

	memset(&s, 0, sizeof(s));
	s.base = base;
	check(base != NULL && data != NULL && back != NULL);
	check_int(tcp_pair(fds), ==, 0);
	/* Small socket buffers, so the kernel cannot take it all (loopback
	 * TCP buffers grow to megabytes otherwise). */
	setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(fds[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	fill(data, n);
	bev = bufferevent_socket_new(base, fds[0], BEV_OPT_CLOSE_ON_FREE);
	check(bev != NULL);
	fds[0] = -1;
	bufferevent_setcb(bev, NULL, seen_write_cb, seen_event_cb, &s);
	check_set_ms(&tv, ms * check_time_scale());
	check_int(bufferevent_set_timeouts(bev, NULL, &tv), ==, 0);
	check_int(bufferevent_write(bev, data, n), ==, 0);
	check_int(evbuffer_get_length(bufferevent_get_output(bev)), ==, n);

	/* The peer takes a first piece, then stops reading. */
	t0 = check_now_ms();
	s.stop_on_event = 1;
	run_for(base, 50);
	{
		ssize_t r = read(fds[1], back, 1000);

		check_int(r, >, 0);
		got = (size_t)r;
	}
	run_for(base, 5000);
	check_int(s.nevent, ==, 1);
	check_int(s.what, ==, BEV_EVENT_TIMEOUT | BEV_EVENT_WRITING);
	check_int(s.at_event - t0, >=, ms - 10);
	check_int(bufferevent_get_enabled(bev) & EV_WRITE, ==, 0);
	check_int(s.nwrite, ==, 0);
	out = evbuffer_get_length(bufferevent_get_output(bev));
	check_int(out, >, 0);
	check_int(out, <, n - got);

	/* Nothing more moves while EV_WRITE is off. */
	run_for(base, 50);
	check_int(evbuffer_get_length(bufferevent_get_output(bev)), ==, out);

	/* The peer drains everything once writing is on again. */
	check_int(bufferevent_set_timeouts(bev, NULL, NULL), ==, 0);
	check_int(bufferevent_enable(bev, EV_WRITE), ==, 0);
	s.stop_on_event = 0;
	got += read_while_sending(base, bev, fds[1], back + got, n - got,
	    &s.nwrite, 0);
	check_int(got, ==, n);
	check_mem(back, data, n);
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_int(s.nwrite, ==, 1);
	check_int(s.nevent, ==, 1);
end:
	free(data);
	free(back);
	free_socket_case(base, bev, fds);
}

/*
 * An AF_UNIX socket that the peer has been reading from (each read makes
 * the socket writable again) and that then fills up: the bufferevent
 * still learns when the peer makes room, sends every byte in order, runs
 * the write callback once the output is empty, and its write timeout
 * never fires while the peer keeps reading.
 */
static void
unix_socket_fills_after_traffic(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *bev = NULL;
	struct seen s;
	struct timeval tv;
	size_t n = 4 * 1024 * 1024 / check_size_div(), got = 0, out;
	char *data = malloc(n), *back = malloc(n), small[64];
	int fds[2] = { -1, -1 }, i;

	memset(&s, 0, sizeof(s));
	s.base = base;
	check(base != NULL && data != NULL && back != NULL);
	check_int(evutil_socketpair(AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
	evutil_make_socket_nonblocking(fds[0]);
	evutil_make_socket_nonblocking(fds[1]);
	fill(data, n);
	bev = bufferevent_socket_new(base, fds[0], BEV_OPT_CLOSE_ON_FREE);
	check(bev != NULL);
	fds[0] = -1;
	bufferevent_setcb(bev, NULL, seen_write_cb, seen_event_cb, &s);
	check_int(bufferevent_enable(bev, EV_WRITE), ==, 0);

	/* Small messages the peer reads at once, with loop passes between
	 * the writes and the reads. */
	for (i = 0; i < 8; i++) {
		check_int(bufferevent_write(bev, data + i * 64, 64), ==, 0);
		event_base_loop(base, EVLOOP_NONBLOCK);
		check_int(evbuffer_get_length(bufferevent_get_output(bev)), ==,
		    0);
		check_int(read(fds[1], small, sizeof(small)), ==, 64);
		check_mem(small, data + i * 64, 64);
		event_base_loop(base, EVLOOP_NONBLOCK);
	}
	check_int(s.nwrite, ==, 8);
	check_int(s.nevent, ==, 0);

	/* Far more than the socket holds, with a write timeout. */
	check_set_ms(&tv, 2000 * check_time_scale());
	check_int(bufferevent_set_timeouts(bev, NULL, &tv), ==, 0);
	check_int(bufferevent_write(bev, data, n), ==, 0);
	/* Loop passes until the output stops shrinking: the socket is full. */
	do {
		out = evbuffer_get_length(bufferevent_get_output(bev));
		for (i = 0; i < 4; i++)
			event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	} while (evbuffer_get_length(bufferevent_get_output(bev)) != out);
	check_int(out, >, 0);
	check_int(s.nwrite, ==, 8);
	got = read_while_sending(base, bev, fds[1], back, n, &s.nwrite,
	    20000LL * check_time_scale());
	check_int(got, ==, n);
	check_mem(back, data, n);
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_int(s.nwrite, ==, 9);
	check_int(s.nevent, ==, 0);
end:
	free(data);
	free(back);
	free_socket_case(base, bev, fds);
}

/* The trickling peer: one byte per tick of a timer on the same base. */
struct trickle {
	int fd;
	int sent, limit;
};

static void
trickle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct trickle *t = arg;
	char c = (char)('A' + t->sent % 26);

	(void)fd;
	(void)what;
	if (t->sent < t->limit && write(t->fd, &c, 1) == 1)
		t->sent++;
}

/*
 * A peer that sends one byte at a time with gaps longer than the read
 * timeout: the timeout fires (TIMEOUT|READING, EV_READ off) after each
 * byte, every byte that came is delivered, and enabling reading again
 * picks up the next one.
 */
static void
trickling_peer_read_timeout(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *bev = NULL;
	struct event *tick = NULL;
	struct trickle t;
	struct seen s;
	struct timeval tv, gap;
	int fds[2] = { -1, -1 }, ms = 60, round;
	long long t0;

	memset(&s, 0, sizeof(s));
	memset(&t, 0, sizeof(t));
	s.base = base;
	s.got = evbuffer_new();
	check(base != NULL && s.got != NULL);
	check_int(tcp_pair(fds), ==, 0);
	bev = bufferevent_socket_new(base, fds[0], BEV_OPT_CLOSE_ON_FREE);
	check(bev != NULL);
	fds[0] = -1;
	bufferevent_setcb(bev, seen_read_cb, NULL, seen_event_cb, &s);
	check_set_ms(&tv, ms * check_time_scale());
	check_int(bufferevent_set_timeouts(bev, &tv, NULL), ==, 0);
	t.fd = fds[1];
	t.limit = 3;
	tick = event_new(base, -1, EV_PERSIST, trickle_cb, &t);
	check(tick != NULL);
	check_set_ms(&gap, 4 * ms * check_time_scale());
	/* The first byte goes now, the next after one gap each. */
	trickle_cb(-1, 0, &t);
	check_int(event_add(tick, &gap), ==, 0);
	s.stop_on_event = 1;
	for (round = 1; round <= 3; round++) {
		t0 = check_now_ms();
		check_int(bufferevent_enable(bev, EV_READ), ==, 0);
		run_for(base, 5000);
		check_int(s.nevent, ==, round);
		check_int(s.what, ==, BEV_EVENT_TIMEOUT | BEV_EVENT_READING);
		check_int(bufferevent_get_enabled(bev) & EV_READ, ==, 0);
		/* The byte of this round came before its timeout. */
		check_int(evbuffer_get_length(s.got), ==, round);
		check_int(s.nread, ==, round);
		check_int(check_now_ms() - t0, >=, ms - 10);
		s.what = 0;
		/* Wait for the next byte to be sent before reading again. */
		while (t.sent == round && round < 3)
			event_base_loop(base, EVLOOP_ONCE);
	}
	{
		char have[3];

		check_int(evbuffer_remove(s.got, have, 3), ==, 3);
		check_mem(have, "ABC", 3);
	}
end:
	if (tick)
		event_free(tick);
	if (bev)
		bufferevent_free(bev);
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	if (s.got)
		evbuffer_free(s.got);
	if (base)
		event_base_free(base);
}

/* Many connections: each client sends "q<index>\n", the server answers
 * "a<index>\n" on the same connection, the client checks it. */
#define MAX_CONNS 10000
#define MSG_LEN 8

struct conn {
	struct bufferevent *client, *server;
	int index;
	int answered;
};

struct farm {
	struct event_base *base;
	struct conn *conns;
	int nconns, accepted, answered, failures, want;
	struct bufferevent **servers;
};

static struct farm farm;

static void
format_msg(char *buf, char kind, int index)
{
	snprintf(buf, MSG_LEN + 1, "%c%06d\n", kind, index);
}

static void
server_read_cb(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	char msg[MSG_LEN + 1], reply[MSG_LEN + 1];
	int index;

	(void)arg;
	while (evbuffer_get_length(in) >= MSG_LEN) {
		evbuffer_remove(in, msg, MSG_LEN);
		msg[MSG_LEN] = 0;
		index = atoi(msg + 1);
		if (msg[0] != 'q' || msg[MSG_LEN - 1] != '\n' || index < 0 ||
		    index >= farm.nconns) {
			farm.failures++;
			return;
		}
		format_msg(reply, 'a', index);
		bufferevent_write(bev, reply, MSG_LEN);
	}
}

static void
client_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char msg[MSG_LEN + 1], want[MSG_LEN + 1];

	if (evbuffer_get_length(in) < MSG_LEN)
		return;
	evbuffer_remove(in, msg, MSG_LEN);
	format_msg(want, 'a', c->index);
	if (memcmp(msg, want, MSG_LEN) || c->answered)
		farm.failures++;
	c->answered = 1;
	if (++farm.answered >= farm.want)
		event_base_loopbreak(farm.base);
}

static void
farm_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)arg;
	if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF | BEV_EVENT_TIMEOUT)) {
		farm.failures++;
		event_base_loopbreak(farm.base);
	}
}

static void
farm_accept_cb(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int socklen, void *arg)
{
	struct bufferevent *bev;

	(void)lev;
	(void)sa;
	(void)socklen;
	(void)arg;
	bev = bufferevent_socket_new(farm.base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!bev) {
		close(fd);
		farm.failures++;
		return;
	}
	farm.servers[farm.accepted++] = bev;
	bufferevent_setcb(bev, server_read_cb, NULL, farm_event_cb, NULL);
	bufferevent_enable(bev, EV_READ);
}

static void
farm_listener_error_cb(struct evconnlistener *lev, void *arg)
{
	(void)lev;
	(void)arg;
	farm.failures++;
	event_base_loopbreak(farm.base);
}

/*
 * As many loopback TCP connections as the fd limit allows, up to 10,000
 * (fewer under valgrind), all on one base with a bufferevent on each end:
 * every connection carries one request and its answer, then all are
 * freed. The number reached is printed.
 */
static void
many_connections(void)
{
	struct rlimit saved, raised;
	struct evconnlistener *lev = NULL;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int want = MAX_CONNS / check_size_div(), room, probe, i, lowered = 0;
	int batch = 500, started;
	long long t0 = check_now_ms();

	memset(&farm, 0, sizeof(farm));
	check_int(getrlimit(RLIMIT_NOFILE, &saved), ==, 0);
	raised = saved;
	raised.rlim_cur = saved.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
		lowered = 1;
	else
		check_int(getrlimit(RLIMIT_NOFILE, &raised), ==, 0);
	farm.base = event_base_new();
	check(farm.base != NULL);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lev = evconnlistener_new_bind(farm.base, farm_accept_cb, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 1024,
	    (struct sockaddr *)&sin, sizeof(sin));
	check(lev != NULL);
	evconnlistener_set_error_cb(lev, farm_listener_error_cb);
	check_int(getsockname(evconnlistener_get_fd(lev),
	    (struct sockaddr *)&sin, &len), ==, 0);

	/* Two descriptors per connection, below the limit with some room
	 * for what the program and the libraries (or valgrind) hold. */
	probe = dup(0);
	check(probe >= 0);
	close(probe);
	room = ((int)(raised.rlim_cur > 1000000 ? 1000000 : raised.rlim_cur)
	    - probe - 64) / 2;
	if (want > room)
		want = room;
	check_int(want, >, 0);
	farm.conns = calloc((size_t)want, sizeof(*farm.conns));
	farm.servers = calloc((size_t)want, sizeof(*farm.servers));
	check(farm.conns != NULL && farm.servers != NULL);
	farm.nconns = want;

	/* In batches, so the listen backlog never overflows (a dropped SYN
	 * would be retried only a second later). */
	for (started = 0; started < want; started += batch) {
		int end = started + batch < want ? started + batch : want;

		for (i = started; i < end; i++) {
			struct conn *c = &farm.conns[i];
			char msg[MSG_LEN + 1];

			c->index = i;
			c->client = bufferevent_socket_new(farm.base, -1,
			    BEV_OPT_CLOSE_ON_FREE);
			check(c->client != NULL);
			bufferevent_setcb(c->client, client_read_cb, NULL,
			    farm_event_cb, c);
			check_int(bufferevent_enable(c->client, EV_READ), ==,
			    0);
			check_int(bufferevent_socket_connect(c->client,
			    (struct sockaddr *)&sin, sizeof(sin)), ==, 0);
			format_msg(msg, 'q', i);
			check_int(bufferevent_write(c->client, msg, MSG_LEN),
			    ==, 0);
		}
		farm.want = end;
		while (farm.answered < farm.want && !farm.failures &&
		    check_now_ms() - t0 < 60000LL * check_time_scale())
			event_base_loop(farm.base, EVLOOP_ONCE);
		check_int(farm.failures, ==, 0);
		check_int(farm.answered, ==, end);
	}
	check_int(farm.accepted, ==, want);
	for (i = 0; i < want; i++)
		check(farm.conns[i].answered);
	printf("many_connections: %d connections (%d descriptors) on one "
	    "base, fd limit %llu\n", want, 2 * want,
	    (unsigned long long)raised.rlim_cur);
end:
	if (farm.conns)
		for (i = 0; i < farm.nconns; i++)
			if (farm.conns[i].client)
				bufferevent_free(farm.conns[i].client);
	if (farm.servers)
		for (i = 0; i < farm.accepted; i++)
			bufferevent_free(farm.servers[i]);
	if (lev)
		evconnlistener_free(lev);
	if (farm.base) {
		/* The frees finish (and close the sockets) in the loop. */
		event_base_loop(farm.base, EVLOOP_NONBLOCK);
		event_base_free(farm.base);
	}
	free(farm.conns);
	free(farm.servers);
	if (lowered)
		setrlimit(RLIMIT_NOFILE, &saved);
}

static const struct check_case cases[] = {
	{ "stalled_reader_write_timeout", stalled_reader_write_timeout },
	{ "trickling_peer_read_timeout", trickling_peer_read_timeout },
	{ "unix_socket_fills_after_traffic",
	    unix_socket_fills_after_traffic },
	{ "many_connections", many_connections },
	{ NULL, NULL }
};

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	return check_main(cases, argc, argv);
}
