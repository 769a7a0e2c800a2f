/*
 * echo_client: drives an echo server on 127.0.0.1 and checks its answers.
 *
 *	echo_client PORT CONNS BYTES
 *
 * Opens CONNS connections at once and sends BYTES of a pseudo-random
 * pattern (a different one per connection) on each, in chunks, keeping a
 * bounded amount queued. Everything echoed is compared with what was sent.
 * On success it prints one summary line and exits 0; on a wrong byte, a
 * connection error, an early close, or no progress for STALL_SECONDS it
 * says why on stderr and exits 1.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>

#define CHUNK (16 * 1024)
/* Keep at most about this much queued for sending per connection. */
#define QUEUE_LOW (64 * 1024)
#define STALL_SECONDS 10

/* The pattern: a small linear congruential generator, one per stream. */
struct pattern {
	uint32_t state;
};

static void
pattern_init(struct pattern *p, long conn)
{
	p->state = (uint32_t)(conn + 1) * 2654435761u;
}

static unsigned char
pattern_next(struct pattern *p)
{
	p->state = p->state * 1103515245u + 12345u;
	return (unsigned char)(p->state >> 16);
}

struct client;

struct conn {
	struct client *cl;
	long id;
	struct bufferevent *bev;
	struct pattern send_pat, check_pat;
	uint64_t sent;		/* bytes queued for sending */
	uint64_t checked;	/* bytes echoed and verified */
};

struct client {
	struct event_base *base;
	struct conn *conns;
	long nconns;
	long done;
	uint64_t bytes;		/* per connection */
	uint64_t progress;	/* bytes verified, all connections */
	uint64_t last_progress;
	int idle_seconds;
	int failed;
};

/* Reports a failure and ends the loop; the first reason wins. */
static void
fail(struct client *cl, const char *fmt, ...)
{
	va_list ap;

	if (!cl->failed) {
		fprintf(stderr, "echo_client: ");
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	cl->failed = 1;
	event_base_loopbreak(cl->base);
}

static void
conn_finish(struct conn *c)
{
	struct client *cl = c->cl;

	bufferevent_free(c->bev);
	c->bev = NULL;
	if (++cl->done == cl->nconns)
		event_base_loopexit(cl->base, NULL);
}

/* Queues more of the pattern, up to one chunk at a time. */
static void
conn_fill(struct conn *c)
{
	unsigned char buf[CHUNK];
	struct evbuffer *out = bufferevent_get_output(c->bev);
	uint64_t left;
	size_t i, n;

	while (c->sent < c->cl->bytes &&
	    evbuffer_get_length(out) < QUEUE_LOW) {
		left = c->cl->bytes - c->sent;
		n = left < CHUNK ? (size_t)left : CHUNK;
		for (i = 0; i < n; i++)
			buf[i] = pattern_next(&c->send_pat);
		if (bufferevent_write(c->bev, buf, n) < 0) {
			fail(c->cl, "connection %ld: cannot queue data", c->id);
			return;
		}
		c->sent += n;
	}
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct client *cl = c->cl;
	unsigned char buf[CHUNK];
	size_t i, n;

	while ((n = bufferevent_read(bev, buf, sizeof(buf))) > 0) {
		if (c->checked + n > c->sent) {
			fail(cl, "connection %ld: %llu bytes back but only "
			    "%llu sent", c->id,
			    (unsigned long long)(c->checked + n),
			    (unsigned long long)c->sent);
			return;
		}
		for (i = 0; i < n; i++) {
			if (buf[i] != pattern_next(&c->check_pat)) {
				fail(cl, "connection %ld: wrong byte at "
				    "offset %llu", c->id,
				    (unsigned long long)(c->checked + i));
				return;
			}
		}
		c->checked += n;
		cl->progress += n;
	}
	if (c->checked == cl->bytes)
		conn_finish(c);
}

static void
write_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	conn_fill(arg);
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	struct client *cl = c->cl;
	int err = EVUTIL_SOCKET_ERROR();

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		if (cl->bytes == 0)
			conn_finish(c);
		return;
	}
	if (what & BEV_EVENT_ERROR)
		fail(cl, "connection %ld: %s after %llu of %llu bytes",
		    c->id, evutil_socket_error_to_string(err),
		    (unsigned long long)c->checked,
		    (unsigned long long)cl->bytes);
	else if (what & BEV_EVENT_EOF)
		fail(cl, "connection %ld: closed by the server after %llu of "
		    "%llu bytes", c->id, (unsigned long long)c->checked,
		    (unsigned long long)cl->bytes);
	else
		fail(cl, "connection %ld: unexpected event 0x%x", c->id,
		    (unsigned)what);
}

/* Once a second: fail when nothing came back for STALL_SECONDS. */
static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client *cl = arg;

	(void)fd;
	(void)what;
	if (cl->progress != cl->last_progress) {
		cl->last_progress = cl->progress;
		cl->idle_seconds = 0;
		return;
	}
	if (++cl->idle_seconds >= STALL_SECONDS)
		fail(cl, "stalled: nothing echoed for %d s (%ld of %ld "
		    "connections done, %llu bytes verified)", STALL_SECONDS,
		    cl->done, cl->nconns, (unsigned long long)cl->progress);
}

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
usage(void)
{
	fprintf(stderr, "usage: echo_client PORT CONNS BYTES\n");
	exit(2);
}

static unsigned long long
parse_number(const char *s, unsigned long long max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (*s == '-')
		usage();
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || v > max)
		usage();
	return v;
}

int
main(int argc, char **argv)
{
	struct client cl;
	struct sockaddr_in sin;
	struct event *tick = NULL;
	struct timeval one_second = { 1, 0 };
	double t0, secs, mib;
	long i, port;
	int status = 1;

	if (argc != 4)
		usage();
	memset(&cl, 0, sizeof(cl));
	port = (long)parse_number(argv[1], 65535);
	cl.nconns = (long)parse_number(argv[2], 100000);
	cl.bytes = parse_number(argv[3], UINT64_MAX / 2);
	if (port == 0 || cl.nconns == 0)
		usage();
	signal(SIGPIPE, SIG_IGN);

	cl.base = event_base_new();
	cl.conns = calloc((size_t)cl.nconns, sizeof(*cl.conns));
	if (!cl.base || !cl.conns) {
		fprintf(stderr, "echo_client: out of memory\n");
		goto out;
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((unsigned short)port);

	t0 = now_seconds();
	for (i = 0; i < cl.nconns; i++) {
		struct conn *c = &cl.conns[i];

		c->cl = &cl;
		c->id = i;
		pattern_init(&c->send_pat, i);
		pattern_init(&c->check_pat, i);
		c->bev = bufferevent_socket_new(cl.base, -1,
		    BEV_OPT_CLOSE_ON_FREE);
		if (!c->bev) {
			fprintf(stderr, "echo_client: connection %ld: cannot "
			    "make a bufferevent\n", i);
			goto out;
		}
		bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
		bufferevent_setwatermark(c->bev, EV_WRITE, QUEUE_LOW / 2, 0);
		bufferevent_enable(c->bev, EV_READ | EV_WRITE);
		if (bufferevent_socket_connect(c->bev,
		    (struct sockaddr *)&sin, sizeof(sin)) < 0) {
			fprintf(stderr, "echo_client: connection %ld: cannot "
			    "connect: %s\n", i, strerror(errno));
			goto out;
		}
		/* Queued now, sent once the connection is up. */
		conn_fill(c);
	}

	tick = event_new(cl.base, -1, EV_PERSIST, tick_cb, &cl);
	if (!tick || event_add(tick, &one_second) < 0) {
		fprintf(stderr, "echo_client: cannot start the stall timer\n");
		goto out;
	}
	if (event_base_dispatch(cl.base) < 0) {
		fprintf(stderr, "echo_client: the event loop failed\n");
		goto out;
	}
	if (cl.failed)
		goto out;
	if (cl.done != cl.nconns) {
		fprintf(stderr, "echo_client: only %ld of %ld connections "
		    "finished\n", cl.done, cl.nconns);
		goto out;
	}
	secs = now_seconds() - t0;
	mib = (double)cl.bytes * cl.nconns / (1024.0 * 1024.0);
	printf("echo_client: %ld connection%s, %.1f MiB echoed and verified "
	    "in %.2f s (%.1f MiB/s)\n", cl.nconns, cl.nconns == 1 ? "" : "s",
	    mib, secs, secs > 0 ? mib / secs : 0.0);
	status = 0;
out:
	if (tick)
		event_free(tick);
	if (cl.conns) {
		for (i = 0; i < cl.nconns; i++)
			if (cl.conns[i].bev)
				bufferevent_free(cl.conns[i].bev);
		free(cl.conns);
	}
	if (cl.base)
		event_base_free(cl.base);
	return status;
}
