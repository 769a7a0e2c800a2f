/*
 * OpenSSL bufferevents: both variants over a socketpair, with a
 * self-signed certificate made when the test runs. Handshake events,
 * data written early, accessors, the dirty-shutdown flag, the error
 * queue, unclean and clean closes, a plain-text peer, the filter variant
 * and a large echo through both.
 */
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "check.h"

/* What one end of a connection saw. */
struct end {
	struct bufferevent *bev;
	int events;
	short what;
	short first;
	struct evbuffer *got;
	int echo;
};

static void
end_read(struct bufferevent *bev, void *arg)
{
	struct end *e = arg;

	if (e->echo)
		bufferevent_write_buffer(bev, bufferevent_get_input(bev));
	else
		evbuffer_add_buffer(e->got, bufferevent_get_input(bev));
}

static void
end_event(struct bufferevent *bev, short what, void *arg)
{
	struct end *e = arg;

	(void)bev;
	if (!e->events)
		e->first = what;
	e->events++;
	e->what |= what;
}

static void
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

/* A server context with a fresh self-signed EC certificate. */
static SSL_CTX *
server_ctx(void)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *cert = X509_new();
	X509_NAME *name;
	SSL_CTX *ctx = NULL;

	if (!key || !cert)
		goto done;
	X509_set_version(cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
	X509_gmtime_adj(X509_getm_notBefore(cert), 0);
	X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
	X509_set_pubkey(cert, key);
	name = X509_get_subject_name(cert);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)"localhost", -1, -1, 0);
	X509_set_issuer_name(cert, name);
	if (!X509_sign(cert, key, EVP_sha256()))
		goto done;
	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx && (SSL_CTX_use_certificate(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, key) != 1)) {
		SSL_CTX_free(ctx);
		ctx = NULL;
	}
done:
	X509_free(cert);
	EVP_PKEY_free(key);
	return ctx;
}

/* Everything one case uses, torn down by world_free. */
struct world {
	struct event_base *base;
	SSL_CTX *sctx;
	SSL_CTX *cctx;
	int fds[2];
	struct end srv;
	struct end cli;
};

static int
world_init(struct world *w)
{
	memset(w, 0, sizeof(*w));
	w->fds[0] = w->fds[1] = -1;
	w->base = event_base_new();
	w->sctx = server_ctx();
	w->cctx = SSL_CTX_new(TLS_client_method());
	w->srv.got = evbuffer_new();
	w->cli.got = evbuffer_new();
	if (!w->base || !w->sctx || !w->cctx)
		return -1;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, w->fds) < 0)
		return -1;
	evutil_make_socket_nonblocking(w->fds[0]);
	evutil_make_socket_nonblocking(w->fds[1]);
	return 0;
}

static void
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
	evbuffer_free(w->srv.got);
	evbuffer_free(w->cli.got);
	SSL_CTX_free(w->sctx);
	SSL_CTX_free(w->cctx);
	if (w->base)
		event_base_free(w->base);
}

static void
hook(struct end *e)
{
	bufferevent_setcb(e->bev, end_read, NULL, end_event, e);
	bufferevent_enable(e->bev, EV_READ | EV_WRITE);
}

/*
 * Socket variants on both ends of the pair; the bufferevents own the
 * fds from then on.
 */
static int
socket_pair(struct world *w)
{
	w->srv.bev = bufferevent_openssl_socket_new(w->base, w->fds[0],
	    SSL_new(w->sctx), BUFFEREVENT_SSL_ACCEPTING,
	    BEV_OPT_CLOSE_ON_FREE);
	w->cli.bev = bufferevent_openssl_socket_new(w->base, w->fds[1],
	    SSL_new(w->cctx), BUFFEREVENT_SSL_CONNECTING,
	    BEV_OPT_CLOSE_ON_FREE);
	if (!w->srv.bev || !w->cli.bev)
		return -1;
	w->fds[0] = w->fds[1] = -1;
	hook(&w->srv);
	hook(&w->cli);
	return 0;
}

/* SSL-1: both ends report exactly BEV_EVENT_CONNECTED. */
static void
handshake_connected(void)
{
	struct world w;

	check_int(world_init(&w), ==, 0);
	check_int(socket_pair(&w), ==, 0);
	RUN_UNTIL(w.base, w.srv.events && w.cli.events);
	check_int(w.srv.events, ==, 1);
	check_int(w.cli.events, ==, 1);
	check_int(w.srv.what, ==, BEV_EVENT_CONNECTED);
	check_int(w.cli.what, ==, BEV_EVENT_CONNECTED);
end:
	world_free(&w);
}

/* SSL-2: data written before the handshake arrives after it. */
static void
early_write(void)
{
	struct world w;

	check_int(world_init(&w), ==, 0);
	check_int(socket_pair(&w), ==, 0);
	bufferevent_write(w.cli.bev, "hello", 5);
	bufferevent_write(w.srv.bev, "welcome", 7);
	RUN_UNTIL(w.base, evbuffer_get_length(w.srv.got) == 5 &&
	    evbuffer_get_length(w.cli.got) == 7);
	check_int(evbuffer_get_length(w.srv.got), ==, 5);
	check_int(evbuffer_get_length(w.cli.got), ==, 7);
	check_mem(evbuffer_pullup(w.srv.got, -1), "hello", 5);
	check_mem(evbuffer_pullup(w.cli.got, -1), "welcome", 7);
	check_int(w.srv.first, ==, BEV_EVENT_CONNECTED);
	check_int(w.cli.first, ==, BEV_EVENT_CONNECTED);
	/* Once all is read and written, nothing stays queued: no spinning. */
	event_base_loop(w.base, EVLOOP_NONBLOCK);
	event_base_loop(w.base, EVLOOP_NONBLOCK);
	event_base_loop(w.base, EVLOOP_NONBLOCK);
	check_int(event_base_get_num_events(w.base, EVENT_BASE_COUNT_ACTIVE),
	    ==, 0);
end:
	world_free(&w);
}

/* SSL-3, SSL-4, SSL-5: accessors, the dirty-shutdown flag, flush. */
static void
accessors(void)
{
	struct world w;
	struct bufferevent *plain = NULL;
	SSL *ssl;
	int fd;

	check_int(world_init(&w), ==, 0);
	fd = w.fds[0];
	ssl = SSL_new(w.sctx);
	w.srv.bev = bufferevent_openssl_socket_new(w.base, fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	check(w.srv.bev != NULL);
	w.fds[0] = -1;
	check_ptr(bufferevent_openssl_get_ssl(w.srv.bev), ==, ssl);
	check_int(bufferevent_getfd(w.srv.bev), ==, fd);
	check_ptr(bufferevent_get_underlying(w.srv.bev), ==, NULL);
	check_int(SSL_get_mode(ssl) & SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER,
	    !=, 0);

	check_int(bufferevent_openssl_get_allow_dirty_shutdown(w.srv.bev),
	    ==, 0);
	bufferevent_openssl_set_allow_dirty_shutdown(w.srv.bev, 5);
	check_int(bufferevent_openssl_get_allow_dirty_shutdown(w.srv.bev),
	    ==, 1);
	bufferevent_openssl_set_allow_dirty_shutdown(w.srv.bev, 0);
	check_int(bufferevent_openssl_get_allow_dirty_shutdown(w.srv.bev),
	    ==, 0);
	check_int(bufferevent_flush(w.srv.bev, EV_WRITE, BEV_FLUSH), ==, 0);
	check_int(bufferevent_flush(w.srv.bev, EV_READ, BEV_NORMAL), ==, 0);
	check_int(bufferevent_get_openssl_error(w.srv.bev), ==, 0);

	plain = bufferevent_socket_new(w.base, -1, 0);
	check(plain != NULL);
	check_ptr(bufferevent_openssl_get_ssl(plain), ==, NULL);
	check_int(bufferevent_openssl_get_allow_dirty_shutdown(plain), ==, -1);
	bufferevent_openssl_set_allow_dirty_shutdown(plain, 1);
	check_int(bufferevent_openssl_get_allow_dirty_shutdown(plain), ==, -1);
	check_int(bufferevent_ssl_renegotiate(plain), ==, -1);
	check_int(bufferevent_get_openssl_error(plain), ==, 0);
end:
	if (plain)
		bufferevent_free(plain);
	world_free(&w);
}

/* SSL-14: an SSL bound to another fd is refused; fd -1 learns its fd. */
static void
bound_fd(void)
{
	struct world w;
	struct bufferevent *bev;
	SSL *ssl;

	check_int(world_init(&w), ==, 0);
	ssl = SSL_new(w.cctx);
	SSL_set_fd(ssl, w.fds[0]);
	/* CLOSE_ON_FREE: the refused SSL is freed (valgrind checks). */
	bev = bufferevent_openssl_socket_new(w.base, w.fds[1], ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	check_ptr(bev, ==, NULL);

	ssl = SSL_new(w.cctx);
	SSL_set_fd(ssl, w.fds[0]);
	w.cli.bev = bufferevent_openssl_socket_new(w.base, -1, ssl,
	    BUFFEREVENT_SSL_CONNECTING, 0);
	check(w.cli.bev != NULL);
	check_int(bufferevent_getfd(w.cli.bev), ==, w.fds[0]);
	bufferevent_free(w.cli.bev);
	w.cli.bev = NULL;
	/* Without CLOSE_ON_FREE the SSL and the fd stay the caller's. */
	event_base_loop(w.base, EVLOOP_NONBLOCK);
	check_int(SSL_get_fd(ssl), ==, w.fds[0]);
	SSL_free(ssl);
	check_int(write(w.fds[0], "x", 1), ==, 1);
end:
	world_free(&w);
}

/* Handshakes a socket pair; 0 once both ends are connected. */
static int
connect_pair(struct world *w)
{
	if (socket_pair(w) < 0)
		return -1;
	RUN_UNTIL(w->base, w->srv.events && w->cli.events);
	if (w->srv.what != BEV_EVENT_CONNECTED ||
	    w->cli.what != BEV_EVENT_CONNECTED)
		return -1;
	w->srv.events = w->cli.events = 0;
	w->srv.what = w->cli.what = 0;
	return 0;
}

/*
 * SSL-6, SSL-7: freeing sends no close_notify, and with OpenSSL 3 the
 * peer reports ERROR|READING; its error queue pops the "unexpected eof"
 * reason, then SSL_ERROR_SSL. (With allow_dirty_shutdown 2.1.12 says the
 * same, ours says EOF as documented: test_ssl_dirty.c.)
 */
static void
unclean_close_strict(void)
{
	struct world w;
	unsigned long e;

	check_int(world_init(&w), ==, 0);
	check_int(connect_pair(&w), ==, 0);
	/* The client reads what the server sent after the handshake (TLS
	 * 1.3 session tickets), so its close is no reset. */
	bufferevent_write(w.srv.bev, "ping", 4);
	RUN_UNTIL(w.base, evbuffer_get_length(w.cli.got) == 4);
	check_int(evbuffer_get_length(w.cli.got), ==, 4);
	bufferevent_free(w.cli.bev);
	w.cli.bev = NULL;
	RUN_UNTIL(w.base, w.srv.events);
	check_int(w.srv.events, ==, 1);
	check_int(w.srv.what, ==, BEV_EVENT_ERROR | BEV_EVENT_READING);
	e = bufferevent_get_openssl_error(w.srv.bev);
	check_int(ERR_GET_LIB(e), ==, ERR_LIB_SSL);
	check_int(ERR_GET_REASON(e), ==, SSL_R_UNEXPECTED_EOF_WHILE_READING);
	check_int(bufferevent_get_openssl_error(w.srv.bev), ==, SSL_ERROR_SSL);
	check_int(bufferevent_get_openssl_error(w.srv.bev), ==, 0);
end:
	world_free(&w);
}

/*
 * A client freed with data it has not read resets the connection:
 * OpenSSL says SSL_ERROR_SYSCALL with an empty queue, which is a dirty
 * shutdown: EOF|READING when allowed, else ERROR|READING; the only error
 * kept is SSL_ERROR_SYSCALL.
 */
static void
reset_close(int allow_dirty)
{
	struct world w;

	check_int(world_init(&w), ==, 0);
	check_int(connect_pair(&w), ==, 0);
	bufferevent_openssl_set_allow_dirty_shutdown(w.srv.bev, allow_dirty);
	/* Data the client leaves unread in its socket. */
	bufferevent_disable(w.cli.bev, EV_READ);
	bufferevent_write(w.srv.bev, "unread", 6);
	RUN_UNTIL(w.base,
	    evbuffer_get_length(bufferevent_get_output(w.srv.bev)) == 0);
	check_int(evbuffer_get_length(bufferevent_get_output(w.srv.bev)), ==,
	    0);
	bufferevent_free(w.cli.bev);
	w.cli.bev = NULL;
	RUN_UNTIL(w.base, w.srv.events);
	check_int(w.srv.events, ==, 1);
	check_int(w.srv.what, ==, BEV_EVENT_READING |
	    (allow_dirty ? BEV_EVENT_EOF : BEV_EVENT_ERROR));
	check_int(bufferevent_get_openssl_error(w.srv.bev), ==,
	    SSL_ERROR_SYSCALL);
	check_int(bufferevent_get_openssl_error(w.srv.bev), ==, 0);
end:
	world_free(&w);
}

static void
reset_close_strict(void)
{
	reset_close(0);
}

static void
reset_close_dirty_allowed(void)
{
	reset_close(1);
}

/* SSL-8: close_notify before the close gives EOF|READING. */
static void
clean_close(void)
{
	struct world w;

	check_int(world_init(&w), ==, 0);
	check_int(connect_pair(&w), ==, 0);
	SSL_shutdown(bufferevent_openssl_get_ssl(w.cli.bev));
	bufferevent_free(w.cli.bev);
	w.cli.bev = NULL;
	RUN_UNTIL(w.base, w.srv.events);
	check_int(w.srv.events, ==, 1);
	check_int(w.srv.what, ==, BEV_EVENT_EOF | BEV_EVENT_READING);
end:
	world_free(&w);
}

/* SSL-9: a peer answering in plain text fails the handshake. */
static void
plaintext_peer(void)
{
	static const char reply[] =
	    "HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
	struct world w;

	check_int(world_init(&w), ==, 0);
	w.cli.bev = bufferevent_openssl_socket_new(w.base, w.fds[1],
	    SSL_new(w.cctx), BUFFEREVENT_SSL_CONNECTING,
	    BEV_OPT_CLOSE_ON_FREE);
	check(w.cli.bev != NULL);
	w.fds[1] = -1;
	hook(&w.cli);
	check_int(write(w.fds[0], reply, sizeof(reply) - 1), ==,
	    (int)sizeof(reply) - 1);
	RUN_UNTIL(w.base, w.cli.events);
	check_int(w.cli.events, ==, 1);
	check_int(w.cli.what, ==, BEV_EVENT_ERROR | BEV_EVENT_READING);
	check_int(bufferevent_get_openssl_error(w.cli.bev), !=, 0);
end:
	world_free(&w);
}

/* SSL-10: the filter variant's underlying and fd. */
static void
filter_accessors(void)
{
	struct world w;
	struct bufferevent *under = NULL;
	SSL *ssl;

	check_int(world_init(&w), ==, 0);
	/* Refused, and the SSL freed with CLOSE_ON_FREE. */
	check_ptr(bufferevent_openssl_filter_new(w.base, NULL,
	    SSL_new(w.cctx), BUFFEREVENT_SSL_CONNECTING,
	    BEV_OPT_CLOSE_ON_FREE), ==, NULL);
	under = bufferevent_socket_new(w.base, w.fds[1],
	    BEV_OPT_CLOSE_ON_FREE);
	check(under != NULL);
	w.fds[1] = -1;
	ssl = SSL_new(w.cctx);
	w.cli.bev = bufferevent_openssl_filter_new(w.base, under, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	check(w.cli.bev != NULL);
	under = NULL;
	check_ptr(bufferevent_get_underlying(w.cli.bev), !=, NULL);
	check_int(bufferevent_getfd(w.cli.bev), ==,
	    bufferevent_getfd(bufferevent_get_underlying(w.cli.bev)));
	check_int(bufferevent_getfd(w.cli.bev), >=, 0);
	check_ptr(bufferevent_openssl_get_ssl(w.cli.bev), ==, ssl);
	check_int(bufferevent_openssl_get_allow_dirty_shutdown(w.cli.bev),
	    ==, 0);
end:
	if (under)
		bufferevent_free(under);
	world_free(&w);
}

static unsigned char
pattern(size_t i)
{
	return (unsigned char)(i * 31 + (i >> 11));
}

/* A TLS bufferevent on fd: the socket variant, or a filter over a socket
 * bufferevent. */
static struct bufferevent *
tls_end(struct world *w, int fd, int server, int filter)
{
	SSL *ssl = SSL_new(server ? w->sctx : w->cctx);
	enum bufferevent_ssl_state st = server ? BUFFEREVENT_SSL_ACCEPTING :
	    BUFFEREVENT_SSL_CONNECTING;
	struct bufferevent *under;

	if (!filter)
		return bufferevent_openssl_socket_new(w->base, fd, ssl, st,
		    BEV_OPT_CLOSE_ON_FREE);
	under = bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE);
	return bufferevent_openssl_filter_new(w->base, under, ssl, st,
	    BEV_OPT_CLOSE_ON_FREE);
}

/*
 * SSL-11: a client writes a large block (before the handshake) to a
 * server that echoes it; every byte comes back in order. The variants
 * of the two ends are chosen by the caller.
 */
static void
echo(int client_filter, int server_filter)
{
	struct world w;
	size_t total = ((size_t)1 << 20) / check_size_div();
	unsigned char *data = malloc(total);
	size_t i, len;
	unsigned char *back;

	check_int(world_init(&w), ==, 0);
	check(data != NULL);
	w.srv.bev = tls_end(&w, w.fds[0], 1, server_filter);
	check(w.srv.bev != NULL);
	w.fds[0] = -1;
	w.srv.echo = 1;
	hook(&w.srv);
	w.cli.bev = tls_end(&w, w.fds[1], 0, client_filter);
	check(w.cli.bev != NULL);
	w.fds[1] = -1;
	hook(&w.cli);
	for (i = 0; i < total; i++)
		data[i] = pattern(i);
	check_int(bufferevent_write(w.cli.bev, data, total), ==, 0);
	RUN_UNTIL(w.base, evbuffer_get_length(w.cli.got) >= total ||
	    (w.cli.what & ~BEV_EVENT_CONNECTED) ||
	    (w.srv.what & ~BEV_EVENT_CONNECTED));
	check_int(w.cli.first, ==, BEV_EVENT_CONNECTED);
	check_int(w.srv.first, ==, BEV_EVENT_CONNECTED);
	check_int(w.cli.what, ==, BEV_EVENT_CONNECTED);
	check_int(w.srv.what, ==, BEV_EVENT_CONNECTED);
	len = evbuffer_get_length(w.cli.got);
	check_int(len, ==, total);
	back = evbuffer_pullup(w.cli.got, -1);
	check(back != NULL);
	for (i = 0; i < total; i++) {
		if (back[i] != data[i]) {
			fprintf(stderr, "byte %zu differs\n", i);
			check_fail("echoed data differs");
		}
	}
end:
	free(data);
	world_free(&w);
}

static void
echo_filter_to_socket(void)
{
	echo(1, 0);
}

static void
echo_socket_to_filter(void)
{
	echo(0, 1);
}

static void
echo_socket_to_socket(void)
{
	echo(0, 0);
}

static void
echo_filter_to_filter(void)
{
	echo(1, 1);
}

/*
 * SSL-15: a timeout during the handshake reports BEV_EVENT_TIMEOUT
 * alone and leaves the bufferevent enabled.
 */
static void
handshake_timeout(void)
{
	struct world w;
	struct timeval tv;

	check_int(world_init(&w), ==, 0);
	w.cli.bev = bufferevent_openssl_socket_new(w.base, w.fds[1],
	    SSL_new(w.cctx), BUFFEREVENT_SSL_CONNECTING,
	    BEV_OPT_CLOSE_ON_FREE);
	check(w.cli.bev != NULL);
	w.fds[1] = -1;
	hook(&w.cli);
	check_set_ms(&tv, 50 * check_time_scale());
	bufferevent_set_timeouts(w.cli.bev, &tv, &tv);
	RUN_UNTIL(w.base, w.cli.events);
	check_int(w.cli.first, ==, BEV_EVENT_TIMEOUT);
	check_int(bufferevent_get_enabled(w.cli.bev), ==, EV_READ | EV_WRITE);
end:
	world_free(&w);
}

/*
 * SSL-15 after the handshake: a read timeout reports TIMEOUT|READING and
 * disables nothing.
 */
static void
open_timeout(void)
{
	struct world w;
	struct timeval tv;

	check_int(world_init(&w), ==, 0);
	check_int(connect_pair(&w), ==, 0);
	check_set_ms(&tv, 50 * check_time_scale());
	bufferevent_set_timeouts(w.srv.bev, &tv, NULL);
	RUN_UNTIL(w.base, w.srv.events);
	check_int(w.srv.first, ==, BEV_EVENT_TIMEOUT | BEV_EVENT_READING);
	/* Unlike a socket bufferevent (BEV-15), 2.1.12 leaves EV_READ on. */
	check_int(bufferevent_get_enabled(w.srv.bev), ==, EV_READ | EV_WRITE);
end:
	world_free(&w);
}

/* Drives both SSLs' handshakes by hand over the nonblocking pair. */
static int
handshake_by_hand(SSL *a, SSL *b)
{
	int ra = 0, rb = 0, rounds;

	for (rounds = 0; rounds < 1000 && (ra != 1 || rb != 1); rounds++) {
		if (ra != 1)
			ra = SSL_do_handshake(a);
		if (rb != 1)
			rb = SSL_do_handshake(b);
	}
	return ra == 1 && rb == 1 ? 0 : -1;
}

/* SSL-17: BUFFEREVENT_SSL_OPEN skips the handshake and its event. */
static void
open_state(void)
{
	struct world w;
	SSL *s = NULL, *c = NULL;

	check_int(world_init(&w), ==, 0);
	s = SSL_new(w.sctx);
	c = SSL_new(w.cctx);
	SSL_set_fd(s, w.fds[0]);
	SSL_set_fd(c, w.fds[1]);
	SSL_set_accept_state(s);
	SSL_set_connect_state(c);
	check_int(handshake_by_hand(s, c), ==, 0);
	w.srv.bev = bufferevent_openssl_socket_new(w.base, -1, s,
	    BUFFEREVENT_SSL_OPEN, BEV_OPT_CLOSE_ON_FREE);
	s = NULL;
	check(w.srv.bev != NULL);
	w.fds[0] = -1;
	w.cli.bev = bufferevent_openssl_socket_new(w.base, -1, c,
	    BUFFEREVENT_SSL_OPEN, BEV_OPT_CLOSE_ON_FREE);
	c = NULL;
	check(w.cli.bev != NULL);
	w.fds[1] = -1;
	hook(&w.srv);
	hook(&w.cli);
	bufferevent_write(w.cli.bev, "open", 4);
	RUN_UNTIL(w.base, evbuffer_get_length(w.srv.got) == 4);
	check_int(evbuffer_get_length(w.srv.got), ==, 4);
	check_mem(evbuffer_pullup(w.srv.got, -1), "open", 4);
	check_int(w.srv.events, ==, 0);
	check_int(w.cli.events, ==, 0);
end:
	SSL_free(s);
	SSL_free(c);
	world_free(&w);
}

/* Clears O_NONBLOCK on fd. */
static int
make_blocking(int fd)
{
	int flags = fcntl(fd, F_GETFL);

	return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
}

/*
 * SSL-12: the fd's mode is left alone; open bufferevents on blocking fds
 * still exchange data, and an idle loop pass does not block in a read.
 */
static void
blocking_fds(void)
{
	struct world w;
	SSL *s = NULL, *c = NULL;
	int i;

	check_int(world_init(&w), ==, 0);
	/* Session tickets would make the client's first SSL_read read on
	 * past them and block, on both implementations. */
	SSL_CTX_set_num_tickets(w.sctx, 0);
	s = SSL_new(w.sctx);
	c = SSL_new(w.cctx);
	SSL_set_fd(s, w.fds[0]);
	SSL_set_fd(c, w.fds[1]);
	SSL_set_accept_state(s);
	SSL_set_connect_state(c);
	check_int(handshake_by_hand(s, c), ==, 0);
	check_int(make_blocking(w.fds[0]), ==, 0);
	check_int(make_blocking(w.fds[1]), ==, 0);
	w.srv.bev = bufferevent_openssl_socket_new(w.base, w.fds[0], s,
	    BUFFEREVENT_SSL_OPEN, BEV_OPT_CLOSE_ON_FREE);
	s = NULL;
	check(w.srv.bev != NULL);
	w.fds[0] = -1;
	w.cli.bev = bufferevent_openssl_socket_new(w.base, w.fds[1], c,
	    BUFFEREVENT_SSL_OPEN, BEV_OPT_CLOSE_ON_FREE);
	c = NULL;
	check(w.cli.bev != NULL);
	check_int(fcntl(bufferevent_getfd(w.cli.bev), F_GETFL) & O_NONBLOCK,
	    ==, 0);
	w.fds[1] = -1;
	hook(&w.srv);
	hook(&w.cli);
	/* A hang below ends the test instead of the run. */
	alarm(20);
	bufferevent_write(w.cli.bev, "question", 8);
	RUN_UNTIL(w.base, evbuffer_get_length(w.srv.got) == 8);
	check_int(evbuffer_get_length(w.srv.got), ==, 8);
	bufferevent_write(w.srv.bev, "answer", 6);
	RUN_UNTIL(w.base, evbuffer_get_length(w.cli.got) == 6);
	check_int(evbuffer_get_length(w.cli.got), ==, 6);
	for (i = 0; i < 5; i++)
		event_base_loop(w.base, EVLOOP_NONBLOCK);
	alarm(0);
	check_int(w.srv.events, ==, 0);
	check_int(w.cli.events, ==, 0);
end:
	alarm(0);
	SSL_free(s);
	SSL_free(c);
	world_free(&w);
}

/*
 * bufferevent_ssl_renegotiate on a TLS 1.2 client: a second handshake
 * runs and reports a second CONNECTED, and data flows afterwards. A
 * server that refuses (OpenSSL 3's default) fails it with ERROR|READING
 * and its "no renegotiation" alert.
 */
static void
renegotiate(int allowed)
{
	struct world w;

	check_int(world_init(&w), ==, 0);
	SSL_CTX_set_max_proto_version(w.sctx, TLS1_2_VERSION);
	SSL_CTX_set_max_proto_version(w.cctx, TLS1_2_VERSION);
	if (allowed)
		SSL_CTX_set_options(w.sctx, SSL_OP_ALLOW_CLIENT_RENEGOTIATION);
	check_int(connect_pair(&w), ==, 0);
	check_int(bufferevent_ssl_renegotiate(w.cli.bev), >=, 0);
	RUN_UNTIL(w.base, w.cli.events);
	check_int(w.cli.events, ==, 1);
	if (!allowed) {
		check_int(w.cli.what, ==, BEV_EVENT_ERROR | BEV_EVENT_READING);
		check_int(ERR_GET_REASON(bufferevent_get_openssl_error(
		    w.cli.bev)), ==, SSL_R_NO_RENEGOTIATION);
		goto end;
	}
	check_int(w.cli.what, ==, BEV_EVENT_CONNECTED);
	bufferevent_write(w.cli.bev, "again", 5);
	bufferevent_write(w.srv.bev, "back", 4);
	RUN_UNTIL(w.base, evbuffer_get_length(w.srv.got) == 5 &&
	    evbuffer_get_length(w.cli.got) == 4);
	check_int(evbuffer_get_length(w.srv.got), ==, 5);
	check_int(evbuffer_get_length(w.cli.got), ==, 4);
	check_int(w.srv.events, ==, 0);
end:
	world_free(&w);
}

static void
renegotiate_allowed(void)
{
	renegotiate(1);
}

static void
renegotiate_refused(void)
{
	renegotiate(0);
}

/* SSL-18: the filter variant resets the underlying's read watermarks. */
static void
filter_watermarks(void)
{
	struct world w;
	struct bufferevent *under;
	size_t low = 1, high = 1;

	check_int(world_init(&w), ==, 0);
	under = bufferevent_socket_new(w.base, w.fds[1],
	    BEV_OPT_CLOSE_ON_FREE);
	check(under != NULL);
	w.fds[1] = -1;
	bufferevent_setwatermark(under, EV_READ, 10, 100);
	w.cli.bev = bufferevent_openssl_filter_new(w.base, under,
	    SSL_new(w.cctx), BUFFEREVENT_SSL_CONNECTING,
	    BEV_OPT_CLOSE_ON_FREE);
	check(w.cli.bev != NULL);
	check_int(bufferevent_getwatermark(under, EV_READ, &low, &high), ==, 0);
	check_int(low, ==, 0);
	check_int(high, ==, 0);
end:
	world_free(&w);
}

/* Rate limits are charged with the raw TLS bytes, not the plain text. */
static void
ratelimit_raw_bytes(void)
{
	struct world w;
	struct ev_token_bucket_cfg *cfg = NULL;
	struct timeval period;
	ev_ssize_t before;
	char msg[1000];

	memset(msg, 'r', sizeof(msg));
	check_int(world_init(&w), ==, 0);
	check_int(connect_pair(&w), ==, 0);
	check_set_ms(&period, 100000);
	cfg = ev_token_bucket_cfg_new(1 << 20, 1 << 20, 1 << 20, 1 << 20,
	    &period);
	check(cfg != NULL);
	check_int(bufferevent_set_rate_limit(w.srv.bev, cfg), ==, 0);
	before = bufferevent_get_read_limit(w.srv.bev);
	bufferevent_write(w.cli.bev, msg, sizeof(msg));
	RUN_UNTIL(w.base, evbuffer_get_length(w.srv.got) == sizeof(msg));
	check_int(evbuffer_get_length(w.srv.got), ==, sizeof(msg));
	check_int(before - bufferevent_get_read_limit(w.srv.bev), >,
	    (ev_ssize_t)sizeof(msg));
end:
	world_free(&w);
	if (cfg)
		ev_token_bucket_cfg_free(cfg);
}

/* A verify callback that leaves four errors of its own and refuses. */
static int
refuse_peer(int ok, X509_STORE_CTX *ctx)
{
	int i;

	(void)ok;
	(void)ctx;
	for (i = 1; i <= 4; i++)
		ERR_raise(ERR_LIB_USER, i);
	return 0;
}

/*
 * SSL-16: of the codes a failure leaves, three are kept (the
 * SSL_get_error code first, then OpenSSL's queue in order) and popped
 * last-in first-out.
 */
static void
error_cap(void)
{
	struct world w;

	check_int(world_init(&w), ==, 0);
	SSL_CTX_set_verify(w.cctx, SSL_VERIFY_PEER, refuse_peer);
	check_int(socket_pair(&w), ==, 0);
	RUN_UNTIL(w.base, w.cli.events);
	check_int(w.cli.events, ==, 1);
	check_int(w.cli.what, ==, BEV_EVENT_ERROR | BEV_EVENT_READING);
	check_int(ERR_GET_REASON(bufferevent_get_openssl_error(w.cli.bev)), ==,
	    2);
	check_int(ERR_GET_REASON(bufferevent_get_openssl_error(w.cli.bev)), ==,
	    1);
	check_int(bufferevent_get_openssl_error(w.cli.bev), ==, SSL_ERROR_SSL);
	check_int(bufferevent_get_openssl_error(w.cli.bev), ==, 0);
end:
	world_free(&w);
}

/* The listener's callback: a socket-variant server on the new fd. */
static void
accept_tls(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int len, void *arg)
{
	struct world *w = arg;

	(void)l;
	(void)sa;
	(void)len;
	w->srv.bev = bufferevent_openssl_socket_new(w->base, fd,
	    SSL_new(w->sctx), BUFFEREVENT_SSL_ACCEPTING,
	    BEV_OPT_CLOSE_ON_FREE);
	if (w->srv.bev)
		hook(&w->srv);
}

/*
 * A socket variant made without an fd connects with
 * bufferevent_socket_connect (over TCP on 127.0.0.1) and then shakes
 * hands; data written before either arrives.
 */
static void
connect_then_handshake(void)
{
	struct world w;
	struct evconnlistener *l = NULL;
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);

	check_int(world_init(&w), ==, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = evconnlistener_new_bind(w.base, accept_tls, &w,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, -1,
	    (struct sockaddr *)&sin, sizeof(sin));
	check(l != NULL);
	check_int(getsockname(evconnlistener_get_fd(l),
	    (struct sockaddr *)&sin, &slen), ==, 0);
	w.cli.bev = bufferevent_openssl_socket_new(w.base, -1,
	    SSL_new(w.cctx), BUFFEREVENT_SSL_CONNECTING,
	    BEV_OPT_CLOSE_ON_FREE);
	check(w.cli.bev != NULL);
	check_int(bufferevent_getfd(w.cli.bev), ==, -1);
	hook(&w.cli);
	bufferevent_write(w.cli.bev, "over tcp", 8);
	check_int(bufferevent_socket_connect(w.cli.bev,
	    (struct sockaddr *)&sin, sizeof(sin)), ==, 0);
	check_int(bufferevent_getfd(w.cli.bev), >=, 0);
	check_int(SSL_get_fd(bufferevent_openssl_get_ssl(w.cli.bev)), ==,
	    bufferevent_getfd(w.cli.bev));
	RUN_UNTIL(w.base, w.cli.events &&
	    evbuffer_get_length(w.srv.got) == 8);
	check_int(w.cli.what, ==, BEV_EVENT_CONNECTED);
	check(w.srv.bev != NULL);
	check_int(w.srv.what, ==, BEV_EVENT_CONNECTED);
	check_int(evbuffer_get_length(w.srv.got), ==, 8);
	check_mem(evbuffer_pullup(w.srv.got, -1), "over tcp", 8);
end:
	if (l)
		evconnlistener_free(l);
	world_free(&w);
}

static const struct check_case cases[] = {
	{ "handshake_connected", handshake_connected },
	{ "early_write", early_write },
	{ "accessors", accessors },
	{ "bound_fd", bound_fd },
	{ "unclean_close_strict", unclean_close_strict },
	{ "reset_close_strict", reset_close_strict },
	{ "reset_close_dirty_allowed", reset_close_dirty_allowed },
	{ "clean_close", clean_close },
	{ "plaintext_peer", plaintext_peer },
	{ "error_cap", error_cap },
	{ "connect_then_handshake", connect_then_handshake },
	{ "filter_accessors", filter_accessors },
	{ "echo_filter_to_socket", echo_filter_to_socket },
	{ "echo_socket_to_filter", echo_socket_to_filter },
	{ "echo_socket_to_socket", echo_socket_to_socket },
	{ "echo_filter_to_filter", echo_filter_to_filter },
	{ "handshake_timeout", handshake_timeout },
	{ "open_timeout", open_timeout },
	{ "open_state", open_state },
	{ "blocking_fds", blocking_fds },
	{ "renegotiate_allowed", renegotiate_allowed },
	{ "renegotiate_refused", renegotiate_refused },
	{ "filter_watermarks", filter_watermarks },
	{ "ratelimit_raw_bytes", ratelimit_raw_bytes },
	{ NULL, NULL },
};

int
main(int argc, char **argv)
{
	/* A peer that closed must show as an error, not kill the test. */
	signal(SIGPIPE, SIG_IGN);
	return check_main(cases, argc, argv);
}
