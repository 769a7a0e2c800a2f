/*
 * Request/response over loopback TCP: a listener on 127.0.0.1 (port 0) and
 * <conns> client bufferevents connected to it with
 * bufferevent_socket_connect. Each client sends a <size>-byte request and
 * waits for the response, <reqs> times; the server answers each request
 * with the same number of bytes, every byte flipped with 0xa5, so the
 * client can tell that the answer was computed from its own request.
 *
 * Arguments: conns=32 size=512 reqs=2000 timeout=60
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
	unsigned index;
	unsigned done;
	int connected;
};

static long req_size;
static long reqs_per_conn;
static long nconns;
static long clients_finished;
static long server_closed;
static long server_accepted;
static unsigned char *scratch;
static struct event_base *base;

static void
maybe_finish(void)
{
	if (clients_finished == nconns && server_closed == nconns)
		event_base_loopexit(base, NULL);
}

static void
server_read(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	unsigned char req[4096];
	long i;

	(void)arg;
	while ((long)evbuffer_get_length(in) >= req_size) {
		if (evbuffer_remove(in, req, (size_t)req_size) !=
		    (int)req_size)
			bench_fail("server: short evbuffer_remove");
		for (i = 0; i < req_size; i++)
			req[i] ^= 0xa5;
		if (bufferevent_write(bev, req, (size_t)req_size) != 0)
			bench_fail("server: bufferevent_write failed");
	}
}

static void
server_event(struct bufferevent *bev, short what, void *arg)
{
	(void)arg;
	if (!(what & BEV_EVENT_EOF) || (what & BEV_EVENT_ERROR))
		bench_fail("server: unexpected event 0x%x", what);
	if (evbuffer_get_length(bufferevent_get_input(bev)) != 0)
		bench_fail("server: partial request left at EOF");
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

static void
send_request(struct client *c)
{
	bench_fill(scratch, (size_t)req_size, c->index, c->done);
	if (bufferevent_write(c->bev, scratch, (size_t)req_size) != 0)
		bench_fail("client %u: bufferevent_write failed", c->index);
}

static void
client_read(struct bufferevent *bev, void *arg)
{
	struct client *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	long i;

	while ((long)evbuffer_get_length(in) >= req_size) {
		if (c->done >= reqs_per_conn)
			bench_fail("client %u: more data than asked for",
			    c->index);
		if (evbuffer_remove(in, scratch, (size_t)req_size) !=
		    (int)req_size)
			bench_fail("client %u: short evbuffer_remove",
			    c->index);
		for (i = 0; i < req_size; i++)
			scratch[i] ^= 0xa5;
		i = bench_check(scratch, (size_t)req_size, c->index, c->done);
		if (i >= 0)
			bench_fail("client %u response %u: wrong byte at %ld",
			    c->index, c->done, i);
		c->done++;
		if (c->done < reqs_per_conn) {
			send_request(c);
		} else {
			/* Closing makes the server see EOF and free its end. */
			bufferevent_free(bev);
			c->bev = NULL;
			clients_finished++;
			maybe_finish();
			return;
		}
	}
}

static void
client_event(struct bufferevent *bev, short what, void *arg)
{
	struct client *c = arg;

	(void)bev;
	if (what == BEV_EVENT_CONNECTED && !c->connected) {
		c->connected = 1;
		send_request(c);
		return;
	}
	bench_fail("client %u: unexpected event 0x%x", c->index, what);
}

static void
on_stuck(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	bench_fail("timed out: %ld of %ld clients finished, %ld accepted",
	    clients_finished, nconns, server_accepted);
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sin;
	struct evconnlistener *lev;
	struct client *clients;
	struct event *guard;
	struct timeval limit = { 0, 0 };
	double t0, t1;
	long i;
	char extra[64];

	bench_set_name("tcp_rr");
	nconns = bench_arg(argc, argv, "conns", 32);
	req_size = bench_arg(argc, argv, "size", 512);
	reqs_per_conn = bench_arg(argc, argv, "reqs", 2000);
	limit.tv_sec = bench_arg(argc, argv, "timeout", 60);
	if (nconns < 1 || req_size < 1 || req_size > 4096 ||
	    reqs_per_conn < 1)
		bench_fail("need conns >= 1, 1 <= size <= 4096, reqs >= 1");

	base = event_base_new();
	clients = calloc((size_t)nconns, sizeof(*clients));
	scratch = malloc((size_t)req_size);
	if (!base || !clients || !scratch)
		bench_fail("setup failed");

	lev = bench_listen_loopback(base, on_accept, &sin);

	guard = evtimer_new(base, on_stuck, NULL);
	if (!guard || evtimer_add(guard, &limit) != 0)
		bench_fail("guard timer failed");

	t0 = bench_now();
	for (i = 0; i < nconns; i++) {
		struct client *c = &clients[i];

		c->index = (unsigned)i;
		c->bev = bufferevent_socket_new(base, -1,
		    BEV_OPT_CLOSE_ON_FREE);
		if (!c->bev)
			bench_fail("client bufferevent_socket_new failed");
		bufferevent_setcb(c->bev, client_read, NULL, client_event, c);
		bufferevent_enable(c->bev, EV_READ | EV_WRITE);
		if (bufferevent_socket_connect(c->bev,
		    (struct sockaddr *)&sin, sizeof(sin)) != 0)
			bench_fail("bufferevent_socket_connect failed");
	}
	if (event_base_dispatch(base) < 0)
		bench_fail("event_base_dispatch failed");
	t1 = bench_now();

	if (clients_finished != nconns || server_closed != nconns)
		bench_fail("loop ended with %ld/%ld clients and %ld/%ld "
		    "server ends done", clients_finished, nconns,
		    server_closed, nconns);
	for (i = 0; i < nconns; i++) {
		if (clients[i].done != reqs_per_conn)
			bench_fail("client %ld did %u requests", i,
			    clients[i].done);
	}
	evconnlistener_free(lev);
	event_free(guard);
	event_base_free(base);
	free(clients);
	free(scratch);

	snprintf(extra, sizeof(extra), "conns=%ld size=%ld", nconns,
	    req_size);
	bench_result_rate((long long)nconns * reqs_per_conn, t1 - t0, extra);
	return 0;
}
