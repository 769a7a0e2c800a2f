/*
 * Connection churn over loopback TCP: <total> short connections, at most
 * <conc> at a time. Each client connects, sends a <size>-byte hello, reads
 * the server's answer (the hello with every byte flipped with 0x5a),
 * checks it and frees its bufferevent; the server's end, created in the
 * listener callback, frees itself when it sees the EOF. A new connection
 * starts as soon as one ends.
 *
 * Arguments: total=3000 conc=16 size=64 timeout=60
 */
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "bench.h"
#include "bench_net.h"

struct client {
	struct bufferevent *bev;
	unsigned id;
	int connected;
};

static long total;
static long msg_size;
static long started;
static long finished;
static long server_accepted;
static long server_closed;
static struct sockaddr_in server_addr;
static struct event_base *base;

static void
maybe_finish(void)
{
	if (finished == total && server_closed == total)
		event_base_loopexit(base, NULL);
}

static void
server_read(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	unsigned char buf[1024];
	long i;

	(void)arg;
	if ((long)evbuffer_get_length(in) < msg_size)
		return;
	if (evbuffer_get_length(in) != (size_t)msg_size)
		bench_fail("server: more than one hello on a connection");
	if (evbuffer_remove(in, buf, (size_t)msg_size) != (int)msg_size)
		bench_fail("server: short evbuffer_remove");
	for (i = 0; i < msg_size; i++)
		buf[i] ^= 0x5a;
	if (bufferevent_write(bev, buf, (size_t)msg_size) != 0)
		bench_fail("server: bufferevent_write failed");
}

static void
server_event(struct bufferevent *bev, short what, void *arg)
{
	(void)arg;
	if (!(what & BEV_EVENT_EOF) || (what & BEV_EVENT_ERROR))
		bench_fail("server: unexpected event 0x%x", what);
	bufferevent_free(bev);
	server_closed++;
	maybe_finish();
}

static void
on_accept(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int socklen, void *arg)
{
	struct bufferevent *bev;

	(void)lev;
	(void)sa;
	(void)socklen;
	(void)arg;
	bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!bev)
		bench_fail("server: bufferevent_socket_new failed");
	server_accepted++;
	bufferevent_setcb(bev, server_read, NULL, server_event, NULL);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void client_read(struct bufferevent *bev, void *arg);
static void client_event(struct bufferevent *bev, short what, void *arg);

static void
start_client(struct client *c)
{
	c->id = (unsigned)started++;
	c->connected = 0;
	c->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev)
		bench_fail("client bufferevent_socket_new failed");
	bufferevent_setcb(c->bev, client_read, NULL, client_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(c->bev,
	    (struct sockaddr *)&server_addr, sizeof(server_addr)) != 0)
		bench_fail("bufferevent_socket_connect failed (client %u)",
		    c->id);
}

static void
client_read(struct bufferevent *bev, void *arg)
{
	struct client *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	unsigned char buf[1024];
	long i;

	if ((long)evbuffer_get_length(in) < msg_size)
		return;
	if (evbuffer_get_length(in) != (size_t)msg_size)
		bench_fail("client %u: answer longer than the hello", c->id);
	if (evbuffer_remove(in, buf, (size_t)msg_size) != (int)msg_size)
		bench_fail("client %u: short evbuffer_remove", c->id);
	for (i = 0; i < msg_size; i++)
		buf[i] ^= 0x5a;
	i = bench_check(buf, (size_t)msg_size, c->id, 0);
	if (i >= 0)
		bench_fail("client %u: wrong byte at %ld", c->id, i);
	bufferevent_free(bev);
	c->bev = NULL;
	finished++;
	if (started < total)
		start_client(c);
	maybe_finish();
}

static void
client_event(struct bufferevent *bev, short what, void *arg)
{
	struct client *c = arg;
	unsigned char buf[1024];

	if (what == BEV_EVENT_CONNECTED && !c->connected) {
		c->connected = 1;
		bench_fill(buf, (size_t)msg_size, c->id, 0);
		if (bufferevent_write(bev, buf, (size_t)msg_size) != 0)
			bench_fail("client %u: bufferevent_write failed",
			    c->id);
		return;
	}
	bench_fail("client %u: unexpected event 0x%x", c->id, what);
}

static void
on_stuck(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	bench_fail("timed out: %ld of %ld finished, %ld accepted, %ld closed",
	    finished, total, server_accepted, server_closed);
}

int
main(int argc, char **argv)
{
	struct evconnlistener *lev;
	struct client *clients;
	struct event *guard;
	struct timeval limit = { 0, 0 };
	double t0, t1;
	long conc, i;
	char extra[64];

	bench_set_name("churn");
	total = bench_arg(argc, argv, "total", 3000);
	conc = bench_arg(argc, argv, "conc", 16);
	msg_size = bench_arg(argc, argv, "size", 64);
	limit.tv_sec = bench_arg(argc, argv, "timeout", 60);
	if (total < 1 || conc < 1 || msg_size < 1 || msg_size > 1024)
		bench_fail("need total >= 1, conc >= 1, 1 <= size <= 1024");
	if (conc > total)
		conc = total;

	base = event_base_new();
	clients = calloc((size_t)conc, sizeof(*clients));
	if (!base || !clients)
		bench_fail("setup failed");
	lev = bench_listen_loopback(base, on_accept, &server_addr);
	guard = evtimer_new(base, on_stuck, NULL);
	if (!guard || evtimer_add(guard, &limit) != 0)
		bench_fail("guard timer failed");

	t0 = bench_now();
	for (i = 0; i < conc; i++)
		start_client(&clients[i]);
	if (event_base_dispatch(base) < 0)
		bench_fail("event_base_dispatch failed");
	t1 = bench_now();

	if (finished != total || server_closed != total ||
	    server_accepted != total)
		bench_fail("loop ended with %ld finished, %ld accepted, "
		    "%ld closed of %ld", finished, server_accepted,
		    server_closed, total);
	evconnlistener_free(lev);
	event_free(guard);
	event_base_free(base);
	free(clients);

	snprintf(extra, sizeof(extra), "conc=%ld size=%ld", conc, msg_size);
	bench_result_rate(total, t1 - t0, extra);
	return 0;
}
