/*
 * echo_server: a TCP echo server on 127.0.0.1 built on bufferevents.
 *
 *	echo_server [PORT] [--max-conns N]
 *
 * Every byte a client sends is sent back to it. PORT 0 (the default) lets
 * the system pick a port; either way it is printed as "listening on PORT"
 * once the server accepts connections. With
 * --max-conns N the server accepts N connections and exits once all of
 * them have closed; SIGINT and SIGTERM end it at any time. A client that
 * sends faster than it reads is paused while a lot of its echo waits.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

/* Stop reading from a client while this much echo waits for it... */
#define OUT_HIGH (1024 * 1024)
/* ...and resume once it is down to this. */
#define OUT_LOW (256 * 1024)

struct conn {
	struct server *srv;
	struct bufferevent *bev;
	struct conn *prev, *next;
};

struct server {
	struct event_base *base;
	struct evconnlistener *listener;
	struct conn *conns;	/* the open connections */
	long max_conns;		/* 0: no limit */
	long accepted;
	long open;
};

static void
conn_close(struct conn *c)
{
	struct server *srv = c->srv;

	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	bufferevent_free(c->bev);
	free(c);
	srv->open--;
	if (srv->max_conns && srv->accepted >= srv->max_conns &&
	    srv->open == 0)
		event_base_loopexit(srv->base, NULL);
}

static void
echo_read_cb(struct bufferevent *bev, void *arg)
{
	struct evbuffer *out = bufferevent_get_output(bev);

	(void)arg;
	bufferevent_write_buffer(bev, bufferevent_get_input(bev));
	if (evbuffer_get_length(out) >= OUT_HIGH)
		bufferevent_disable(bev, EV_READ);
}

/* The output went down to OUT_LOW: take input again. */
static void
echo_write_cb(struct bufferevent *bev, void *arg)
{
	(void)arg;
	bufferevent_enable(bev, EV_READ);
}

/* After the client's EOF: close once the last echo has gone out. */
static void
drained_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	conn_close(arg);
}

static void
echo_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	if (what & BEV_EVENT_ERROR) {
		conn_close(c);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		/* The client may have shut down only its sending side. */
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
			conn_close(c);
			return;
		}
		bufferevent_disable(bev, EV_READ);
		bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
		bufferevent_setcb(bev, NULL, drained_cb, echo_event_cb, c);
	}
}

static void
accept_cb(struct evconnlistener *listener, evutil_socket_t fd,
    struct sockaddr *sa, int socklen, void *arg)
{
	struct server *srv = arg;
	struct conn *c;

	(void)sa;
	(void)socklen;
	c = calloc(1, sizeof(*c));
	if (!c) {
		evutil_closesocket(fd);
		return;
	}
	c->srv = srv;
	c->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev) {
		fprintf(stderr, "echo_server: cannot make a bufferevent\n");
		evutil_closesocket(fd);
		free(c);
		return;
	}
	c->next = srv->conns;
	if (c->next)
		c->next->prev = c;
	srv->conns = c;
	srv->accepted++;
	srv->open++;
	bufferevent_setcb(c->bev, echo_read_cb, echo_write_cb, echo_event_cb,
	    c);
	bufferevent_setwatermark(c->bev, EV_WRITE, OUT_LOW, 0);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	if (srv->max_conns && srv->accepted >= srv->max_conns)
		evconnlistener_disable(listener);
}

static void
accept_error_cb(struct evconnlistener *listener, void *arg)
{
	int err = EVUTIL_SOCKET_ERROR();

	(void)listener;
	(void)arg;
	/* The listener stays enabled and retries; just say what happened. */
	fprintf(stderr, "echo_server: accept: %s\n",
	    evutil_socket_error_to_string(err));
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	event_base_loopexit(arg, NULL);
}

static void
usage(void)
{
	fprintf(stderr, "usage: echo_server [PORT] [--max-conns N]\n");
	exit(2);
}

static long
parse_number(const char *s, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > max)
		usage();
	return v;
}

int
main(int argc, char **argv)
{
	struct server srv;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	struct event *sigint = NULL, *sigterm = NULL;
	long port = 0;
	int i, have_port = 0, status = 1;

	memset(&srv, 0, sizeof(srv));
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--max-conns")) {
			if (++i >= argc)
				usage();
			srv.max_conns = parse_number(argv[i], 1000000);
			if (srv.max_conns == 0)
				usage();
		} else if (!have_port) {
			port = parse_number(argv[i], 65535);
			have_port = 1;
		} else {
			usage();
		}
	}
	signal(SIGPIPE, SIG_IGN);

	srv.base = event_base_new();
	if (!srv.base) {
		fprintf(stderr, "echo_server: cannot make an event base\n");
		return 1;
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((unsigned short)port);
	srv.listener = evconnlistener_new_bind(srv.base, accept_cb, &srv,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    -1, (struct sockaddr *)&sin, sizeof(sin));
	if (!srv.listener) {
		fprintf(stderr, "echo_server: cannot listen on 127.0.0.1:%ld: "
		    "%s\n", port, strerror(errno));
		goto out;
	}
	evconnlistener_set_error_cb(srv.listener, accept_error_cb);
	if (getsockname(evconnlistener_get_fd(srv.listener),
	    (struct sockaddr *)&sin, &len) < 0) {
		fprintf(stderr, "echo_server: getsockname: %s\n",
		    strerror(errno));
		goto out;
	}
	printf("listening on %u\n", (unsigned)ntohs(sin.sin_port));
	fflush(stdout);

	sigint = evsignal_new(srv.base, SIGINT, signal_cb, srv.base);
	sigterm = evsignal_new(srv.base, SIGTERM, signal_cb, srv.base);
	if (!sigint || !sigterm || evsignal_add(sigint, NULL) < 0 ||
	    evsignal_add(sigterm, NULL) < 0) {
		fprintf(stderr, "echo_server: cannot watch signals\n");
		goto out;
	}

	if (event_base_dispatch(srv.base) < 0) {
		fprintf(stderr, "echo_server: the event loop failed\n");
		goto out;
	}
	status = 0;
out:
	while (srv.conns)
		conn_close(srv.conns);
	if (sigint)
		event_free(sigint);
	if (sigterm)
		event_free(sigterm);
	if (srv.listener)
		evconnlistener_free(srv.listener);
	event_base_free(srv.base);
	return status;
}
