/*
 * test_echo.c: an echo server (evconnlistener and socket bufferevents) and
 * its clients in one process over loopback TCP. Several connections carry
 * a deterministic pattern each; every byte that comes back is checked.
 * Then the same server meets peers that reset the connection in the middle
 * of a transfer, and a bufferevent client meets a server that does
 * (SOCK-13, SOCK-23): each side must end in its event callback with EOF or
 * ERROR, once, while the other connections carry on.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "check.h"

#define MAX_CONNS 16

struct echo;

/* One client: a bufferevent or, for the resetting peers, a raw socket. */
struct client {
	struct echo *e;
	int id;
	struct bufferevent *bev;
	struct event *ev;	/* raw peers only */
	int fd;			/* raw peers only */
	size_t total;		/* bytes to send */
	size_t sent;		/* raw peers: bytes written so far */
	size_t recvd;		/* bytes echoed and checked */
	size_t reset_after;	/* raw peers: reset after this much echo */
	int connected;
	int done;
	int bad;		/* a wrong byte or an unexpected event */
	short last_what;
};

struct echo {
	struct event_base *base;
	struct evconnlistener *lst;
	struct sockaddr_in sin;
	int accepted;
	int live;		/* server bufferevents not yet freed */
	int server_events;
	int server_bad;		/* an event without EOF or ERROR */
	short server_flags;	/* all event flags the server saw, OR-ed */
	int nclients;
	struct client clients[MAX_CONNS];
	int stop;
};

/* The byte at offset i of connection id's stream. */
static unsigned char
pattern(int id, size_t i)
{
	unsigned long x = (unsigned long)i * 2654435761UL + (unsigned)id * 97;

	return (unsigned char)((x >> 11) ^ (x >> 3) ^ (unsigned)id);
}

static void
maybe_stop(struct echo *e)
{
	int i;

	if (e->live > 0)
		return;
	for (i = 0; i < e->nclients; i++)
		if (!e->clients[i].done)
			return;
	e->stop = 1;
	event_base_loopbreak(e->base);
}

static void
server_read_cb(struct bufferevent *bev, void *arg)
{
	(void)arg;
	bufferevent_write_buffer(bev, bufferevent_get_input(bev));
}

static void
server_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct echo *e = arg;

	e->server_events++;
	e->server_flags |= what;
	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		e->server_bad++;
	bufferevent_free(bev);
	e->live--;
	maybe_stop(e);
}

static void
accept_cb(struct evconnlistener *lst, evutil_socket_t fd,
    struct sockaddr *sa, int socklen, void *arg)
{
	struct echo *e = arg;
	struct bufferevent *bev;

	(void)lst;
	(void)sa;
	(void)socklen;
	bev = bufferevent_socket_new(e->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!bev) {
		close(fd);
		e->server_bad++;
		return;
	}
	e->accepted++;
	e->live++;
	bufferevent_setcb(bev, server_read_cb, NULL, server_event_cb, e);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

/* Checks the bytes in buf against the client's pattern and drains them. */
static void
client_take(struct client *c, struct evbuffer *buf)
{
	unsigned char tmp[4096];
	size_t n, i;

	while ((n = evbuffer_get_length(buf)) > 0) {
		if (n > sizeof(tmp))
			n = sizeof(tmp);
		evbuffer_remove(buf, tmp, n);
		for (i = 0; i < n; i++)
			if (tmp[i] != pattern(c->id, c->recvd + i))
				c->bad = 1;
		c->recvd += n;
	}
}

static void
client_read_cb(struct bufferevent *bev, void *arg)
{
	struct client *c = arg;

	client_take(c, bufferevent_get_input(bev));
	if (c->recvd > c->total)
		c->bad = 1;
	if (c->recvd >= c->total) {
		bufferevent_free(bev);
		c->bev = NULL;
		c->done = 1;
		maybe_stop(c->e);
	}
}

static void
client_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct client *c = arg;

	c->last_what = what;
	if (what == BEV_EVENT_CONNECTED) {
		c->connected++;
		return;
	}
	/* Anything else ends a client that did not get all its bytes. */
	c->bad = 1;
	bufferevent_free(bev);
	c->bev = NULL;
	c->done = 1;
	maybe_stop(c->e);
}

static int
client_start(struct echo *e, int id, size_t total)
{
	struct client *c = &e->clients[id];
	unsigned char tmp[4096];
	size_t off, i, n;

	memset(c, 0, sizeof(*c));
	c->e = e;
	c->id = id;
	c->fd = -1;
	c->total = total;
	c->bev = bufferevent_socket_new(e->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev)
		return -1;
	bufferevent_setcb(c->bev, client_read_cb, NULL, client_event_cb, c);
	if (bufferevent_enable(c->bev, EV_READ | EV_WRITE) < 0)
		return -1;
	if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&e->sin,
	    sizeof(e->sin)) < 0)
		return -1;
	/* Everything is queued at once, in pieces, before connecting ends. */
	for (off = 0; off < total; off += n) {
		n = total - off < sizeof(tmp) ? total - off : sizeof(tmp);
		for (i = 0; i < n; i++)
			tmp[i] = pattern(id, off + i);
		if (bufferevent_write(c->bev, tmp, n) < 0)
			return -1;
	}
	return 0;
}

/* A raw peer: writes its pattern, reads the echo, then resets. */
static void
raw_peer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;
	unsigned char tmp[4096];
	struct linger lg;
	ssize_t r;
	size_t i, n;

	if (what & EV_WRITE) {
		while (c->sent < c->total) {
			n = c->total - c->sent;
			if (n > sizeof(tmp))
				n = sizeof(tmp);
			for (i = 0; i < n; i++)
				tmp[i] = pattern(c->id, c->sent + i);
			r = send(fd, tmp, n, 0);
			if (r <= 0)
				break;
			c->sent += (size_t)r;
		}
	}
	if (what & EV_READ) {
		while ((r = recv(fd, tmp, sizeof(tmp), 0)) > 0) {
			for (i = 0; i < (size_t)r; i++)
				if (tmp[i] != pattern(c->id, c->recvd + i))
					c->bad = 1;
			c->recvd += (size_t)r;
		}
		if (r == 0)
			c->bad = 1;	/* the server must not close first */
	}
	if (c->recvd >= c->reset_after) {
		/* A zero linger turns the close into a reset. */
		lg.l_onoff = 1;
		lg.l_linger = 0;
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		event_del(c->ev);
		close(c->fd);
		c->fd = -1;
		c->done = 1;
		maybe_stop(c->e);
	}
}

static int
raw_peer_start(struct echo *e, int id, size_t total, size_t reset_after)
{
	struct client *c = &e->clients[id];

	memset(c, 0, sizeof(*c));
	c->e = e;
	c->id = id;
	c->total = total;
	c->reset_after = reset_after;
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (c->fd < 0)
		return -1;
	if (connect(c->fd, (struct sockaddr *)&e->sin, sizeof(e->sin)) < 0)
		return -1;
	if (evutil_make_socket_nonblocking(c->fd) < 0)
		return -1;
	c->ev = event_new(e->base, c->fd, EV_READ | EV_WRITE | EV_PERSIST,
	    raw_peer_cb, c);
	if (!c->ev)
		return -1;
	return event_add(c->ev, NULL);
}

static void
guard_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

/* Runs the loop until e->stop or the guard time passes. */
static void
run(struct echo *e, int seconds)
{
	struct event *guard = evtimer_new(e->base, guard_cb, e->base);
	struct timeval tv;

	tv.tv_sec = seconds * check_time_scale();
	tv.tv_usec = 0;
	if (guard)
		evtimer_add(guard, &tv);
	event_base_dispatch(e->base);
	if (guard)
		event_free(guard);
}

static int
echo_setup(struct echo *e)
{
	socklen_t len = sizeof(e->sin);

	int i;

	memset(e, 0, sizeof(*e));
	for (i = 0; i < MAX_CONNS; i++)
		e->clients[i].fd = -1;
	e->base = event_base_new();
	if (!e->base)
		return -1;
	e->sin.sin_family = AF_INET;
	e->sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	e->lst = evconnlistener_new_bind(e->base, accept_cb, e,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, -1,
	    (struct sockaddr *)&e->sin, sizeof(e->sin));
	if (!e->lst)
		return -1;
	if (getsockname(evconnlistener_get_fd(e->lst),
	    (struct sockaddr *)&e->sin, &len) < 0)
		return -1;
	return 0;
}

static void
echo_teardown(struct echo *e)
{
	int i;

	for (i = 0; i < MAX_CONNS; i++) {
		struct client *c = &e->clients[i];

		if (c->bev)
			bufferevent_free(c->bev);
		if (c->ev)
			event_free(c->ev);
		if (c->fd >= 0)
			close(c->fd);
		c->bev = NULL;
		c->ev = NULL;
	}
	if (e->lst)
		evconnlistener_free(e->lst);
	if (e->base)
		event_base_free(e->base);
	e->lst = NULL;
	e->base = NULL;
}

static void
echo_many_connections(void)
{
	struct echo e;
	size_t total = 300000 / check_size_div();
	int i, n = 8;

	check_int(echo_setup(&e), ==, 0);
	check_int(ntohs(e.sin.sin_port), !=, 0);
	e.nclients = n;
	for (i = 0; i < n; i++)
		check_int(client_start(&e, i, total + (size_t)i * 1000), ==, 0);
	run(&e, 20);
	check_int(e.stop, ==, 1);
	check_int(e.accepted, ==, n);
	for (i = 0; i < n; i++) {
		struct client *c = &e.clients[i];

		check_int(c->done, ==, 1);
		check_int(c->bad, ==, 0);
		check_int(c->connected, ==, 1);
		check_int(c->recvd, ==, total + (size_t)i * 1000);
	}
	/* The clients closed after their last byte: plain EOF each. */
	check_int(e.live, ==, 0);
	check_int(e.server_events, ==, n);
	check_int(e.server_bad, ==, 0);
	check_int(e.server_flags, ==, BEV_EVENT_EOF | BEV_EVENT_READING);
end:
	echo_teardown(&e);
}

static void
echo_peer_resets(void)
{
	struct echo e;
	size_t total = 200000 / check_size_div();
	int i, n = 4, nraw = 3;

	check_int(echo_setup(&e), ==, 0);
	e.nclients = n + nraw;
	for (i = 0; i < n; i++)
		check_int(client_start(&e, i, total), ==, 0);
	/* Each resets while the server still has echo to send it. */
	for (i = n; i < n + nraw; i++)
		check_int(raw_peer_start(&e, i, 1 << 20, 1000 + i * 5000),
		    ==, 0);
	run(&e, 20);
	check_int(e.stop, ==, 1);
	check_int(e.accepted, ==, n + nraw);
	for (i = 0; i < n; i++) {
		check_int(e.clients[i].bad, ==, 0);
		check_int(e.clients[i].recvd, ==, total);
	}
	for (i = n; i < n + nraw; i++) {
		check_int(e.clients[i].bad, ==, 0);
		check_int(e.clients[i].recvd, >=, e.clients[i].reset_after);
	}
	/* One event per server connection, each with EOF or ERROR. */
	check_int(e.live, ==, 0);
	check_int(e.server_events, ==, n + nraw);
	check_int(e.server_bad, ==, 0);
	check(e.server_flags & BEV_EVENT_EOF);
	check_int(e.server_flags & ~(BEV_EVENT_EOF | BEV_EVENT_ERROR |
	    BEV_EVENT_READING | BEV_EVENT_WRITING), ==, 0);
end:
	echo_teardown(&e);
}

/* A raw server that reads a little, then resets the connection. */
struct resetter {
	struct event_base *base;
	struct event *ev;
	int fd;
	size_t got;
	size_t limit;
	int reset;
	struct bufferevent *bev;	/* the client */
	int nevent;
	short first_what, last_what;
	int stop;
};

static void
resetter_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct resetter *r = arg;
	char tmp[4096];
	struct linger lg;
	ssize_t n;

	(void)what;
	while ((n = recv(fd, tmp, sizeof(tmp), 0)) > 0)
		r->got += (size_t)n;
	if (r->got >= r->limit || n == 0) {
		lg.l_onoff = 1;
		lg.l_linger = 0;
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		event_del(r->ev);
		close(r->fd);
		r->fd = -1;
		r->reset = 1;
	}
}

static void
resetter_accept_cb(struct evconnlistener *lst, evutil_socket_t fd,
    struct sockaddr *sa, int socklen, void *arg)
{
	struct resetter *r = arg;

	(void)sa;
	(void)socklen;
	evconnlistener_disable(lst);
	r->fd = fd;
	r->ev = event_new(r->base, fd, EV_READ | EV_PERSIST, resetter_read_cb,
	    r);
	if (r->ev)
		event_add(r->ev, NULL);
}

static void
reset_client_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct resetter *r = arg;

	if (r->nevent++ == 0)
		r->first_what = what;
	r->last_what = what;
	if (what != BEV_EVENT_CONNECTED) {
		bufferevent_free(bev);
		r->bev = NULL;
		r->stop = 1;
		event_base_loopbreak(r->base);
	}
}

static void
reset_client_read_cb(struct bufferevent *bev, void *arg)
{
	(void)arg;
	evbuffer_drain(bufferevent_get_input(bev), (size_t)-1);
}

static void
client_sees_server_reset(void)
{
	struct resetter r;
	struct evconnlistener *lst = NULL;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	struct event *guard = NULL;
	struct timeval tv;
	char *data = NULL;
	size_t n = 4 << 20;

	memset(&r, 0, sizeof(r));
	r.fd = -1;
	r.limit = 64 * 1024;
	r.base = event_base_new();
	check(r.base != NULL);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lst = evconnlistener_new_bind(r.base, resetter_accept_cb, &r,
	    LEV_OPT_CLOSE_ON_FREE, -1, (struct sockaddr *)&sin, sizeof(sin));
	check(lst != NULL);
	check_int(getsockname(evconnlistener_get_fd(lst),
	    (struct sockaddr *)&sin, &len), ==, 0);

	r.bev = bufferevent_socket_new(r.base, -1, BEV_OPT_CLOSE_ON_FREE);
	check(r.bev != NULL);
	bufferevent_setcb(r.bev, reset_client_read_cb, NULL,
	    reset_client_event_cb, &r);
	check_int(bufferevent_enable(r.bev, EV_READ | EV_WRITE), ==, 0);
	check_int(bufferevent_socket_connect(r.bev, (struct sockaddr *)&sin,
	    sizeof(sin)), ==, 0);
	data = calloc(1, n);
	check(data != NULL);
	check_int(bufferevent_write(r.bev, data, n), ==, 0);

	guard = evtimer_new(r.base, guard_cb, r.base);
	check(guard != NULL);
	tv.tv_sec = 10 * check_time_scale();
	tv.tv_usec = 0;
	evtimer_add(guard, &tv);
	while (!r.stop && event_pending(guard, EV_TIMEOUT, NULL))
		event_base_loop(r.base, EVLOOP_ONCE);
	check_int(r.stop, ==, 1);
	check_int(r.reset, ==, 1);
	/* CONNECTED first, then one ending event: ERROR or EOF. */
	check_int(r.first_what, ==, BEV_EVENT_CONNECTED);
	check_int(r.nevent, ==, 2);
	check(r.last_what & (BEV_EVENT_ERROR | BEV_EVENT_EOF));
	check(r.last_what & (BEV_EVENT_READING | BEV_EVENT_WRITING));
	check_int(r.last_what & (BEV_EVENT_TIMEOUT | BEV_EVENT_CONNECTED),
	    ==, 0);
end:
	free(data);
	if (guard)
		event_free(guard);
	if (r.bev)
		bufferevent_free(r.bev);
	if (r.ev)
		event_free(r.ev);
	if (r.fd >= 0)
		close(r.fd);
	if (lst)
		evconnlistener_free(lst);
	if (r.base)
		event_base_free(r.base);
}

static const struct check_case cases[] = {
	{ "echo_many_connections", echo_many_connections },
	{ "echo_peer_resets", echo_peer_resets },
	{ "client_sees_server_reset", client_sees_server_reset },
	{ NULL, NULL }
};

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	return check_main(cases, argc, argv);
}
