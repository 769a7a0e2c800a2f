/*
 * ssl_world.h: what the TLS tests share. Two ends (a TLS bufferevent
 * each and what it saw), a world holding a base, a CA and a leaf for
 * localhost, contexts for both sides and a socket pair, the byte pattern
 * every stream carries, and the dirty-close scenario that runs in two
 * programs (one of its variants is a deliberate difference).
 */
#ifndef BEVRS_SSL_WORLD_H
#define BEVRS_SSL_WORLD_H

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/util.h>

#include "check.h"
#include "ssl_certs.h"
#include "tcp_util.h"

/* The byte at offset i of every stream these tests send. */
static inline unsigned char
pattern(size_t i)
{
	return (unsigned char)((i * 131) ^ (i >> 9) ^ (i >> 17));
}

static inline void
fill(unsigned char *buf, size_t len, size_t from)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = pattern(from + i);
}

/* What one end of a connection saw. */
struct end {
	struct bufferevent *bev;
	int events;
	short what;
	short first;
	/* Bytes in the input when the first non-CONNECTED event came. */
	size_t got_at_event;
	struct evbuffer *got;
};

static inline void
end_read(struct bufferevent *bev, void *arg)
{
	struct end *e = arg;

	evbuffer_add_buffer(e->got, bufferevent_get_input(bev));
}

static inline void
end_event(struct bufferevent *bev, short what, void *arg)
{
	struct end *e = arg;

	/* Whatever is still in the input counts as delivered. */
	evbuffer_add_buffer(e->got, bufferevent_get_input(bev));
	if (!e->events)
		e->first = what;
	if (!(e->what & ~BEV_EVENT_CONNECTED) && what != BEV_EVENT_CONNECTED)
		e->got_at_event = evbuffer_get_length(e->got);
	e->events++;
	e->what |= what;
}

static inline void
tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

/* Runs the loop until cond holds or a few (scaled) seconds pass. */
#define RUN_UNTIL(base, cond)						\
	do {								\
		long long dl_ = check_now_ms() +			\
		    5000LL * check_time_scale();			\
		struct event *tick_ = event_new((base), -1, EV_PERSIST,	\
		    tick, NULL);					\
		struct timeval tv_;					\
		check_set_ms(&tv_, 10);					\
		event_add(tick_, &tv_);					\
		while (!(cond) && check_now_ms() < dl_)			\
			event_base_loop((base), EVLOOP_ONCE);		\
		event_free(tick_);					\
	} while (0)

/* Everything one case uses, torn down by world_free. */
struct world {
	struct event_base *base;
	struct certkey ca;
	struct certkey leaf;
	SSL_CTX *sctx;
	SSL_CTX *cctx;
	int fds[2];
	struct end srv;
	struct end cli;
};

static inline int
world_init(struct world *w)
{
	memset(w, 0, sizeof(*w));
	w->fds[0] = w->fds[1] = -1;
	w->base = event_base_new();
	w->srv.got = evbuffer_new();
	w->cli.got = evbuffer_new();
	if (!w->base || !w->srv.got || !w->cli.got)
		return -1;
	if (certkey_make(&w->ca, "bevrs test CA", NULL, 1) < 0 ||
	    certkey_make(&w->leaf, "localhost", &w->ca, 2) < 0)
		return -1;
	w->sctx = certkey_server_ctx(&w->leaf);
	w->cctx = certkey_client_ctx(&w->ca);
	if (!w->sctx || !w->cctx)
		return -1;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, w->fds) < 0)
		return -1;
	evutil_make_socket_nonblocking(w->fds[0]);
	evutil_make_socket_nonblocking(w->fds[1]);
	return 0;
}

static inline void
world_free(struct world *w)
{
	if (w->srv.bev)
		bufferevent_free(w->srv.bev);
	if (w->cli.bev)
		bufferevent_free(w->cli.bev);
	if (w->fds[0] >= 0)
		close(w->fds[0]);
	if (w->fds[1] >= 0)
		close(w->fds[1]);
	if (w->srv.got)
		evbuffer_free(w->srv.got);
	if (w->cli.got)
		evbuffer_free(w->cli.got);
	SSL_CTX_free(w->sctx);
	SSL_CTX_free(w->cctx);
	certkey_free(&w->leaf);
	certkey_free(&w->ca);
	if (w->base)
		event_base_free(w->base);
}

static inline void
hook(struct end *e)
{
	bufferevent_setcb(e->bev, end_read, NULL, end_event, e);
	bufferevent_enable(e->bev, EV_READ | EV_WRITE);
}

/*
 * A TLS bufferevent on fd, which it owns from then on: the socket
 * variant, or a filter over a socket bufferevent. ssl may be NULL for
 * a fresh SSL of the world's context for that side.
 */
static inline struct bufferevent *
tls_end(struct world *w, int fd, int server, int filter, SSL *ssl)
{
	enum bufferevent_ssl_state st = server ? BUFFEREVENT_SSL_ACCEPTING :
	    BUFFEREVENT_SSL_CONNECTING;
	struct bufferevent *under;

	if (!ssl)
		ssl = SSL_new(server ? w->sctx : w->cctx);
	if (!filter)
		return bufferevent_openssl_socket_new(w->base, fd, ssl, st,
		    BEV_OPT_CLOSE_ON_FREE);
	under = bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!under) {
		SSL_free(ssl);
		return NULL;
	}
	return bufferevent_openssl_filter_new(w->base, under, ssl, st,
	    BEV_OPT_CLOSE_ON_FREE);
}

/* Both ends on the socket pair, then the handshake; 0 once connected. */
static inline int
connect_ends(struct world *w, int srv_filter, int cli_filter)
{
	SSL *cssl = SSL_new(w->cctx);

	/* The client checks the name in the server's certificate. */
	if (!cssl || SSL_set1_host(cssl, "localhost") != 1) {
		SSL_free(cssl);
		return -1;
	}
	w->srv.bev = tls_end(w, w->fds[0], 1, srv_filter, NULL);
	w->fds[0] = -1;
	w->cli.bev = tls_end(w, w->fds[1], 0, cli_filter, cssl);
	w->fds[1] = -1;
	if (!w->srv.bev || !w->cli.bev)
		return -1;
	hook(&w->srv);
	hook(&w->cli);
	RUN_UNTIL(w->base, w->srv.events && w->cli.events);
	if (w->srv.what != BEV_EVENT_CONNECTED ||
	    w->cli.what != BEV_EVENT_CONNECTED)
		return -1;
	w->srv.events = w->cli.events = 0;
	w->srv.what = w->cli.what = 0;
	return 0;
}

/* Checks that buf holds the pattern from offset 0; -1 or the bad offset. */
static inline long
first_wrong(struct evbuffer *buf)
{
	size_t len = evbuffer_get_length(buf), i;
	unsigned char *p = evbuffer_pullup(buf, -1);

	for (i = 0; i < len; i++) {
		if (p[i] != pattern(i))
			return (long)i;
	}
	return -1;
}

/* Frees the end once its output has gone to the kernel: no close_notify
 * is sent (SSL-6). */
static inline void
free_when_flushed(struct bufferevent *bev, void *arg)
{
	struct end *e = arg;

	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
		bufferevent_free(bev);
		e->bev = NULL;
	}
}

/*
 * A peer sends 300 KB and closes its socket without close_notify. The
 * receiver gets every byte, then one event: ERROR|READING by default on
 * both libraries (OpenSSL 3 calls the close an "unexpected eof"). With
 * allow_dirty_shutdown the socket variant of 2.1.12 still says ERROR,
 * because OpenSSL 3 no longer reports the close the way 2.1.12 expects
 * (SSL_ERROR_SYSCALL, empty queue), while its filter variant, which sees
 * the underlying's plain EOF, says EOF as documented. Ours says EOF for
 * both (EOF|READING from the socket variant), as the documentation of
 * bufferevent_openssl_set_allow_dirty_shutdown promises.
 */
static inline void
dirty_close(int filter, int allow_dirty)
{
	struct world w;
	const size_t len = 300000;
	unsigned char *data = malloc(len);
	/* The filter variant passes its underlying's event on without
	 * naming a side, as 2.1.12 does. */
	short want = (filter ? 0 : BEV_EVENT_READING) |
	    (allow_dirty ? BEV_EVENT_EOF : BEV_EVENT_ERROR);
	unsigned long e;
	int eof_reason = 0;

	if (allow_dirty && !filter)
		CHECK_REF_DIFFERS("with OpenSSL 3, 2.1.12 reports a dirty "
		    "shutdown as ERROR even when allowed");
	check_int(world_init(&w), ==, 0);
	check(data != NULL);
	check_int(connect_ends(&w, filter, 0), ==, 0);
	bufferevent_openssl_set_allow_dirty_shutdown(w.srv.bev, allow_dirty);
	/* The client reads the server's post-handshake messages (TLS 1.3
	 * session tickets) first, so that its close is no reset. */
	bufferevent_write(w.srv.bev, "ping", 4);
	RUN_UNTIL(w.base, evbuffer_get_length(w.cli.got) == 4);
	check_int(evbuffer_get_length(w.cli.got), ==, 4);
	fill(data, len, 0);
	bufferevent_setcb(w.cli.bev, end_read, free_when_flushed, end_event,
	    &w.cli);
	check_int(bufferevent_write(w.cli.bev, data, len), ==, 0);
	RUN_UNTIL(w.base, w.srv.events);
	check_ptr(w.cli.bev, ==, NULL);
	check_int(w.srv.events, ==, 1);
	check_int(w.srv.what, ==, want);
	check_int(w.srv.got_at_event, ==, len);
	check_int(evbuffer_get_length(w.srv.got), ==, len);
	check_int(first_wrong(w.srv.got), ==, -1);
	if (filter)
		goto end;
	/* The socket variant keeps OpenSSL's reason either way. */
	while ((e = bufferevent_get_openssl_error(w.srv.bev)) != 0) {
		if (ERR_GET_LIB(e) == ERR_LIB_SSL &&
		    ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
			eof_reason = 1;
	}
	check(eof_reason);
end:
	free(data);
	world_free(&w);
}

#endif /* BEVRS_SSL_WORLD_H */
