/*
 * More OpenSSL bufferevents: TLS 1.2 and TLS 1.3 pinned on both ends,
 * versions that do not meet, 16 MiB echoed through filter variants over
 * TCP on 127.0.0.1, a peer that closes without close_notify after
 * sending data (socket and filter variants; the socket variant with
 * allow_dirty_shutdown is test_ssl_dirty.c, a deliberate difference),
 * and handshakes that fail certificate verification (an unknown CA, a
 * wrong host name), and a reader that pauses until an AF_UNIX socket
 * fills (both variants). Certificates are made when the test runs.
 */
#include <pthread.h>
#include <signal.h>
#include <time.h>

#include <openssl/x509_vfy.h>

#include "ssl_world.h"

#include <event2/thread.h>

/*
 * Pins one protocol version on both ends; both report it, the client
 * verified the server (its CA, the name localhost), and data moves both
 * ways intact.
 */
static void
pinned_version(int version)
{
	struct world w;
	const size_t len = 100000;
	unsigned char *data = malloc(len);

	check_int(world_init(&w), ==, 0);
	check(data != NULL);
	check_int(SSL_CTX_set_min_proto_version(w.sctx, version), ==, 1);
	check_int(SSL_CTX_set_max_proto_version(w.sctx, version), ==, 1);
	check_int(SSL_CTX_set_min_proto_version(w.cctx, version), ==, 1);
	check_int(SSL_CTX_set_max_proto_version(w.cctx, version), ==, 1);
	check_int(connect_ends(&w, 0, 0), ==, 0);
	check_int(SSL_version(bufferevent_openssl_get_ssl(w.srv.bev)), ==,
	    version);
	check_int(SSL_version(bufferevent_openssl_get_ssl(w.cli.bev)), ==,
	    version);
	check_int(SSL_get_verify_result(bufferevent_openssl_get_ssl(
	    w.cli.bev)), ==, X509_V_OK);
	fill(data, len, 0);
	check_int(bufferevent_write(w.cli.bev, data, len), ==, 0);
	check_int(bufferevent_write(w.srv.bev, data, len), ==, 0);
	RUN_UNTIL(w.base, (evbuffer_get_length(w.srv.got) >= len &&
	    evbuffer_get_length(w.cli.got) >= len) || w.srv.events ||
	    w.cli.events);
	check_int(w.srv.events, ==, 0);
	check_int(w.cli.events, ==, 0);
	check_int(evbuffer_get_length(w.srv.got), ==, len);
	check_int(evbuffer_get_length(w.cli.got), ==, len);
	check_int(first_wrong(w.srv.got), ==, -1);
	check_int(first_wrong(w.cli.got), ==, -1);
end:
	free(data);
	world_free(&w);
}

static void
tls12(void)
{
	pinned_version(TLS1_2_VERSION);
}

static void
tls13(void)
{
	pinned_version(TLS1_3_VERSION);
}

/*
 * A client that wants TLS 1.3 and a server that stops at 1.2: both
 * handshakes fail with ERROR|READING, no CONNECTED, and the client keeps
 * OpenSSL's "unsupported protocol" reason.
 */
static void
version_mismatch(void)
{
	struct world w;
	unsigned long e;
	int found = 0;

	check_int(world_init(&w), ==, 0);
	SSL_CTX_set_max_proto_version(w.sctx, TLS1_2_VERSION);
	SSL_CTX_set_min_proto_version(w.cctx, TLS1_3_VERSION);
	check_int(connect_ends(&w, 0, 0), ==, -1);
	check_int(w.cli.events, ==, 1);
	check_int(w.srv.events, ==, 1);
	check_int(w.cli.what, ==, BEV_EVENT_ERROR | BEV_EVENT_READING);
	check_int(w.srv.what, ==, BEV_EVENT_ERROR | BEV_EVENT_READING);
	while ((e = bufferevent_get_openssl_error(w.cli.bev)) != 0) {
		if (ERR_GET_LIB(e) == ERR_LIB_SSL &&
		    ERR_GET_REASON(e) == SSL_R_TLSV1_ALERT_PROTOCOL_VERSION)
			found = 1;
	}
	check(found);
end:
	world_free(&w);
}


/* The big echo: a sender that refills from its write callback, an echoer
 * that checks what it relays, and the sender checking what comes back. */
struct bulk {
	size_t total;
	size_t sent;
	size_t relayed;
	size_t back;
	long bad_at;
	int events;
	short what;
	unsigned char piece[65536];
};

static void
bulk_refill(struct bufferevent *bev, void *arg)
{
	struct bulk *b = arg;
	size_t n;

	while (b->sent < b->total &&
	    evbuffer_get_length(bufferevent_get_output(bev)) < 256 * 1024) {
		n = b->total - b->sent;
		if (n > sizeof(b->piece))
			n = sizeof(b->piece);
		fill(b->piece, n, b->sent);
		bufferevent_write(bev, b->piece, n);
		b->sent += n;
	}
}

/* Checks the next len bytes of a stream at *pos in buf and drains them. */
static void
bulk_check(struct bulk *b, struct evbuffer *buf, size_t *pos)
{
	struct evbuffer_iovec v[8];
	int n, i;
	size_t j, len;

	while ((len = evbuffer_get_length(buf)) > 0) {
		n = evbuffer_peek(buf, -1, NULL, v, 8);
		if (n > 8)
			n = 8;
		len = 0;
		for (i = 0; i < n; i++) {
			const unsigned char *p = v[i].iov_base;

			for (j = 0; j < v[i].iov_len; j++) {
				if (b->bad_at < 0 && p[j] != pattern(*pos + j))
					b->bad_at = (long)(*pos + j);
			}
			*pos += v[i].iov_len;
			len += v[i].iov_len;
		}
		evbuffer_drain(buf, len);
	}
}

static void
bulk_echo_read(struct bufferevent *bev, void *arg)
{
	struct bulk *b = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer *copy = evbuffer_new();

	if (!copy) {
		b->bad_at = 0;
		return;
	}
	evbuffer_add_buffer(copy, in);
	/* Relay first (a reference to the same bytes), then check. */
	evbuffer_add_buffer_reference(bufferevent_get_output(bev), copy);
	bulk_check(b, copy, &b->relayed);
	evbuffer_free(copy);
}

static void
bulk_back_read(struct bufferevent *bev, void *arg)
{
	struct bulk *b = arg;

	bulk_check(b, bufferevent_get_input(bev), &b->back);
}

static void
bulk_event(struct bufferevent *bev, short what, void *arg)
{
	struct bulk *b = arg;

	(void)bev;
	if (what == BEV_EVENT_CONNECTED)
		return;
	b->events++;
	b->what |= what;
}

/*
 * 16 MiB (less under valgrind) from a filter variant over a TCP socket
 * bufferevent to another, echoed back and checked byte for byte on both
 * legs. The echoer reads at most 64 KiB ahead (a read high watermark);
 * the sender keeps at most 256 KiB queued.
 */
static void
filter_16mib(void)
{
	struct world w;
	struct bulk *b = calloc(1, sizeof(*b));
	int fds[2] = { -1, -1 };

	check_int(world_init(&w), ==, 0);
	check(b != NULL);
	b->total = ((size_t)16 << 20) / check_size_div();
	b->bad_at = -1;
	check_int(tcp_pair(fds), ==, 0);
	w.srv.bev = tls_end(&w, fds[0], 1, 1, NULL);
	fds[0] = -1;
	w.cli.bev = tls_end(&w, fds[1], 0, 1, NULL);
	fds[1] = -1;
	check(w.srv.bev != NULL);
	check(w.cli.bev != NULL);
	bufferevent_setcb(w.srv.bev, bulk_echo_read, NULL, bulk_event, b);
	bufferevent_setcb(w.cli.bev, bulk_back_read, bulk_refill, bulk_event,
	    b);
	bufferevent_setwatermark(w.srv.bev, EV_READ, 0, 65536);
	bufferevent_setwatermark(w.cli.bev, EV_WRITE, 128 * 1024, 0);
	bufferevent_enable(w.srv.bev, EV_READ | EV_WRITE);
	bufferevent_enable(w.cli.bev, EV_READ | EV_WRITE);
	bulk_refill(w.cli.bev, b);
	RUN_UNTIL(w.base, b->back >= b->total || b->events ||
	    b->bad_at >= 0);
	check_int(b->events, ==, 0);
	check_int(b->bad_at, ==, -1);
	check_int(b->sent, ==, b->total);
	check_int(b->relayed, ==, b->total);
	check_int(b->back, ==, b->total);
end:
	free(b);
	world_free(&w);
}


static void
dirty_close_strict(void)
{
	dirty_close(0, 0);
}

static void
dirty_close_filter_strict(void)
{
	dirty_close(1, 0);
}

static void
dirty_close_filter_allowed(void)
{
	dirty_close(1, 1);
}

/*
 * A client whose verification fails: BEV_EVENT_ERROR|READING and no
 * CONNECTED on the client, the OpenSSL code of a failed certificate
 * verification among its kept errors, the verify result saying why, and
 * the server told by the client's alert (ERROR|READING as well).
 */
static void
verify_fails(int wrong_ca)
{
	struct world w;
	struct certkey other;
	SSL_CTX *ctx = NULL;
	SSL *cssl;
	unsigned long e;
	int found = 0;

	memset(&other, 0, sizeof(other));
	check_int(world_init(&w), ==, 0);
	if (wrong_ca) {
		check_int(certkey_make(&other, "another test CA", NULL, 1), ==,
		    0);
		ctx = certkey_client_ctx(&other);
		check(ctx != NULL);
		SSL_CTX_free(w.cctx);
		w.cctx = ctx;
	}
	cssl = SSL_new(w.cctx);
	check(cssl != NULL);
	check_int(SSL_set1_host(cssl, wrong_ca ? "localhost" :
	    "not-localhost.invalid"), ==, 1);
	w.srv.bev = tls_end(&w, w.fds[0], 1, 0, NULL);
	w.fds[0] = -1;
	w.cli.bev = tls_end(&w, w.fds[1], 0, 0, cssl);
	w.fds[1] = -1;
	check(w.srv.bev != NULL);
	check(w.cli.bev != NULL);
	hook(&w.srv);
	hook(&w.cli);
	RUN_UNTIL(w.base, w.srv.events && w.cli.events);
	check_int(w.cli.events, ==, 1);
	check_int(w.cli.what, ==, BEV_EVENT_ERROR | BEV_EVENT_READING);
	check_int(SSL_get_verify_result(bufferevent_openssl_get_ssl(
	    w.cli.bev)), ==, wrong_ca ?
	    X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY :
	    X509_V_ERR_HOSTNAME_MISMATCH);
	/* Popped last-in first-out: OpenSSL's reason, then SSL_ERROR_SSL. */
	e = bufferevent_get_openssl_error(w.cli.bev);
	check_int(ERR_GET_LIB(e), ==, ERR_LIB_SSL);
	check_int(ERR_GET_REASON(e), ==, SSL_R_CERTIFICATE_VERIFY_FAILED);
	check_int(bufferevent_get_openssl_error(w.cli.bev), ==, SSL_ERROR_SSL);
	check_int(bufferevent_get_openssl_error(w.cli.bev), ==, 0);

	check_int(w.srv.events, ==, 1);
	check_int(w.srv.what, ==, BEV_EVENT_ERROR | BEV_EVENT_READING);
	while ((e = bufferevent_get_openssl_error(w.srv.bev)) != 0) {
		if (ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) ==
		    (wrong_ca ? SSL_R_TLSV1_ALERT_UNKNOWN_CA :
		    SSL_R_SSLV3_ALERT_BAD_CERTIFICATE))
			found = 1;
	}
	check(found);
end:
	certkey_free(&other);
	world_free(&w);
}

static void
wrong_ca(void)
{
	verify_fails(1);
}

static void
wrong_host(void)
{
	verify_fails(0);
}

/*
 * A thread-safe TLS filter over a socket bufferevent that has no lock of
 * its own shares one lock with it (2.1.12 records the underlying
 * bufferevent before it makes the lock, unlike a plain filter): while
 * this thread holds the filter's lock, another one cannot take the
 * underlying's.
 */
struct locker {
	struct bufferevent *bev;
	int got;
};

static void *
locker_main(void *arg)
{
	struct locker *l = arg;

	bufferevent_lock(l->bev);
	__atomic_store_n(&l->got, 1, __ATOMIC_SEQ_CST);
	bufferevent_unlock(l->bev);
	return NULL;
}

static void
threadsafe_filter_shares_lock(void)
{
	struct world w;
	struct bufferevent *under = NULL;
	struct locker l;
	struct timespec pause = { 0, 100000000L };
	pthread_t t;
	int started = 0, i;

	check_int(evthread_use_pthreads(), ==, 0);
	check_int(world_init(&w), ==, 0);
	under = bufferevent_socket_new(w.base, w.fds[1], BEV_OPT_CLOSE_ON_FREE);
	check(under != NULL);
	w.fds[1] = -1;
	w.cli.bev = bufferevent_openssl_filter_new(w.base, under,
	    SSL_new(w.cctx), BUFFEREVENT_SSL_CONNECTING,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_THREADSAFE);
	check(w.cli.bev != NULL);
	under = NULL;
	bufferevent_lock(w.cli.bev);
	l.bev = bufferevent_get_underlying(w.cli.bev);
	l.got = 0;
	check_int(pthread_create(&t, NULL, locker_main, &l), ==, 0);
	started = 1;
	nanosleep(&pause, NULL);
	check_int(__atomic_load_n(&l.got, __ATOMIC_SEQ_CST), ==, 0);
	bufferevent_unlock(w.cli.bev);
	for (i = 0; i < 300 && !__atomic_load_n(&l.got, __ATOMIC_SEQ_CST); i++)
		nanosleep(&pause, NULL);
	check_int(__atomic_load_n(&l.got, __ATOMIC_SEQ_CST), ==, 1);
end:
	if (started)
		pthread_join(t, NULL);
	if (under)
		bufferevent_free(under);
	world_free(&w);
}

/*
 * A TLS end over an AF_UNIX socket that has been carrying traffic (each
 * read by the peer makes the socket writable again) and then fills: the
 * peer stops reading, the writer sends far more than the socket holds,
 * and once the peer reads again every byte arrives in order with no
 * event on either end. filter: both ends are filters over sockets.
 */
/* Bytes a TLS end still holds to send: its output and, for a filter,
 * the output of the bufferevent under it. */
static size_t
queued(struct bufferevent *bev)
{
	struct bufferevent *under = bufferevent_get_underlying(bev);
	size_t n = evbuffer_get_length(bufferevent_get_output(bev));

	return under ? n + evbuffer_get_length(bufferevent_get_output(under)) :
	    n;
}

static void
paused_reader(int filter)
{
	struct world w;
	size_t total = ((size_t)4 << 20) / check_size_div(), out;
	unsigned char *data = malloc(total);
	int i;

	check_int(world_init(&w), ==, 0);
	check(data != NULL);
	check_int(connect_ends(&w, filter, filter), ==, 0);
	fill(data, total, 0);
	for (i = 0; i < 8; i++) {
		check_int(bufferevent_write(w.cli.bev, data + i * 1024, 1024), ==,
		    0);
		RUN_UNTIL(w.base,
		    evbuffer_get_length(w.srv.got) >= (size_t)(i + 1) * 1024);
	}
	check_int(evbuffer_get_length(w.srv.got), ==, 8 * 1024);
	check_int(bufferevent_disable(w.srv.bev, EV_READ), ==, 0);
	check_int(bufferevent_write(w.cli.bev, data + 8 * 1024,
	    total - 8 * 1024), ==, 0);
	/* Loop passes until the client's output stops shrinking. */
	do {
		out = queued(w.cli.bev);
		for (i = 0; i < 4; i++)
			event_base_loop(w.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	} while (queued(w.cli.bev) != out);
	check_int(out, >, 0);
	check_int(bufferevent_enable(w.srv.bev, EV_READ), ==, 0);
	RUN_UNTIL(w.base, evbuffer_get_length(w.srv.got) >= total ||
	    w.srv.what || w.cli.what);
	check_int(evbuffer_get_length(w.srv.got), ==, total);
	check_int(first_wrong(w.srv.got), ==, -1);
	check_int(w.srv.what, ==, 0);
	check_int(w.cli.what, ==, 0);
end:
	free(data);
	world_free(&w);
}

static void
paused_reader_socket(void)
{
	paused_reader(0);
}

static void
paused_reader_filter(void)
{
	paused_reader(1);
}

static const struct check_case cases[] = {
	{ "tls12", tls12 },
	{ "tls13", tls13 },
	{ "version_mismatch", version_mismatch },
	{ "filter_16mib", filter_16mib },
	{ "dirty_close_strict", dirty_close_strict },
	{ "dirty_close_filter_strict", dirty_close_filter_strict },
	{ "dirty_close_filter_allowed", dirty_close_filter_allowed },
	{ "wrong_ca", wrong_ca },
	{ "wrong_host", wrong_host },
	{ "threadsafe_filter_shares_lock", threadsafe_filter_shares_lock },
	{ "paused_reader_socket", paused_reader_socket },
	{ "paused_reader_filter", paused_reader_filter },
	{ NULL, NULL },
};

int
main(int argc, char **argv)
{
	/* A peer that closed must show as an error, not kill the test. */
	signal(SIGPIPE, SIG_IGN);
	return check_main(cases, argc, argv);
}
