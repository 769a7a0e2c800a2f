/*
 * TLS echo over loopback TCP: a listener on 127.0.0.1 (port 0) whose
 * callback puts an OpenSSL server bufferevent (socket variant) on each
 * connection, and <conns> OpenSSL client bufferevents made without an fd
 * and connected with bufferevent_socket_connect. Once every handshake is
 * done (timed apart, reported as handshake_ms), each client sends a
 * <size>-byte chunk and waits for the server to echo it back, <msgs>
 * times; every byte that comes back is checked against the pattern it
 * was sent with. One op is one such round trip: the chunk encrypted and
 * decrypted twice. The certificate (a CA and a leaf for localhost) is
 * made at start; clients verify it, name included.
 *
 * Arguments: conns=32 size=4096 msgs=500 tls=13 (or 12) timeout=60
 */
#include <netinet/in.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "bench.h"
#include "bench_net.h"
#include "ssl_certs.h"

struct client {
	struct bufferevent *bev;
	unsigned index;
	unsigned done;
	int connected;
};

static long chunk;
static long msgs_per_conn;
static long nconns;
static long connected;
static long finished;
static long nservers;
static struct bufferevent **servers;
static unsigned char *scratch;
static struct event_base *base;
static SSL_CTX *sctx;
static SSL_CTX *cctx;
static int phase_echo;

static void
server_read(struct bufferevent *bev, void *arg)
{
	(void)arg;
	if (bufferevent_write_buffer(bev, bufferevent_get_input(bev)) != 0)
		bench_fail("server: bufferevent_write_buffer failed");
}

static void
server_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)arg;
	if (what == BEV_EVENT_CONNECTED && !phase_echo) {
		if (++connected == 2 * nconns)
			event_base_loopbreak(base);
		return;
	}
	bench_fail("server: unexpected event 0x%x", what);
}

static void
on_accept(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int socklen, void *arg)
{
	struct bufferevent *bev;
	SSL *ssl = SSL_new(sctx);

	(void)lev;
	(void)sa;
	(void)socklen;
	(void)arg;
	if (!ssl || nservers == nconns)
		bench_fail("server: SSL_new failed or too many connections");
	bev = bufferevent_openssl_socket_new(base, fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (!bev)
		bench_fail("server: bufferevent_openssl_socket_new failed");
	servers[nservers++] = bev;
	bufferevent_setcb(bev, server_read, NULL, server_event, NULL);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void
send_chunk(struct client *c)
{
	bench_fill(scratch, (size_t)chunk, c->index, c->done);
	if (bufferevent_write(c->bev, scratch, (size_t)chunk) != 0)
		bench_fail("client %u: bufferevent_write failed", c->index);
}

static void
client_read(struct bufferevent *bev, void *arg)
{
	struct client *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	long bad;

	if (!phase_echo)
		bench_fail("client %u: data before it was sent", c->index);
	while ((long)evbuffer_get_length(in) >= chunk) {
		if (c->done >= msgs_per_conn)
			bench_fail("client %u: more data than sent", c->index);
		if (evbuffer_remove(in, scratch, (size_t)chunk) != (int)chunk)
			bench_fail("client %u: short evbuffer_remove",
			    c->index);
		bad = bench_check(scratch, (size_t)chunk, c->index, c->done);
		if (bad >= 0)
			bench_fail("client %u chunk %u: wrong byte at %ld",
			    c->index, c->done, bad);
		c->done++;
		if (c->done < msgs_per_conn) {
			send_chunk(c);
		} else if (++finished == nconns) {
			event_base_loopbreak(base);
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
		if (SSL_get_verify_result(bufferevent_openssl_get_ssl(bev)) !=
		    X509_V_OK)
			bench_fail("client %u: certificate not verified",
			    c->index);
		if (++connected == 2 * nconns)
			event_base_loopbreak(base);
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
	bench_fail("timed out: %ld of %ld handshake ends, %ld of %ld "
	    "clients finished", connected, 2 * nconns, finished, nconns);
}

/* The two contexts, pinned to one TLS version, with a fresh certificate. */
static void
make_contexts(int version)
{
	struct certkey ca, leaf;

	if (certkey_make(&ca, "bench CA", NULL, 1) < 0 ||
	    certkey_make(&leaf, "localhost", &ca, 2) < 0)
		bench_fail("certificate generation failed");
	sctx = certkey_server_ctx(&leaf);
	cctx = certkey_client_ctx(&ca);
	if (!sctx || !cctx)
		bench_fail("SSL_CTX setup failed");
	SSL_CTX_set_min_proto_version(sctx, version);
	SSL_CTX_set_max_proto_version(sctx, version);
	SSL_CTX_set_min_proto_version(cctx, version);
	SSL_CTX_set_max_proto_version(cctx, version);
	certkey_free(&leaf);
	certkey_free(&ca);
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sin;
	struct evconnlistener *lev;
	struct client *clients;
	struct event *guard;
	struct timeval limit = { 0, 0 };
	double t0, t1, t2;
	long i, tls;
	char extra[128];

	bench_set_name("tls_echo");
	nconns = bench_arg(argc, argv, "conns", 32);
	chunk = bench_arg(argc, argv, "size", 4096);
	msgs_per_conn = bench_arg(argc, argv, "msgs", 500);
	tls = bench_arg(argc, argv, "tls", 13);
	limit.tv_sec = bench_arg(argc, argv, "timeout", 60);
	if (nconns < 1 || chunk < 1 || chunk > 1048576 || msgs_per_conn < 1 ||
	    (tls != 12 && tls != 13))
		bench_fail("need conns >= 1, 1 <= size <= 1048576, msgs >= 1, "
		    "tls=12 or 13");

	make_contexts(tls == 12 ? TLS1_2_VERSION : TLS1_3_VERSION);
	base = event_base_new();
	clients = calloc((size_t)nconns, sizeof(*clients));
	servers = calloc((size_t)nconns, sizeof(*servers));
	scratch = malloc((size_t)chunk);
	if (!base || !clients || !servers || !scratch)
		bench_fail("setup failed");

	lev = bench_listen_loopback(base, on_accept, &sin);

	guard = evtimer_new(base, on_stuck, NULL);
	if (!guard || evtimer_add(guard, &limit) != 0)
		bench_fail("guard timer failed");

	/* Phase 1: connect and shake hands. */
	t0 = bench_now();
	for (i = 0; i < nconns; i++) {
		struct client *c = &clients[i];
		SSL *ssl = SSL_new(cctx);

		c->index = (unsigned)i;
		if (!ssl || SSL_set1_host(ssl, "localhost") != 1)
			bench_fail("client SSL setup failed");
		c->bev = bufferevent_openssl_socket_new(base, -1, ssl,
		    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
		if (!c->bev)
			bench_fail("client bufferevent_openssl_socket_new "
			    "failed");
		bufferevent_setcb(c->bev, client_read, NULL, client_event, c);
		bufferevent_enable(c->bev, EV_READ | EV_WRITE);
		if (bufferevent_socket_connect(c->bev,
		    (struct sockaddr *)&sin, sizeof(sin)) != 0)
			bench_fail("bufferevent_socket_connect failed");
	}
	if (event_base_dispatch(base) < 0)
		bench_fail("event_base_dispatch failed");
	if (connected != 2 * nconns)
		bench_fail("loop ended with %ld of %ld handshake ends done",
		    connected, 2 * nconns);

	/* Phase 2: the echoes, timed. */
	t1 = bench_now();
	phase_echo = 1;
	for (i = 0; i < nconns; i++)
		send_chunk(&clients[i]);
	if (event_base_dispatch(base) < 0)
		bench_fail("event_base_dispatch failed");
	t2 = bench_now();

	if (finished != nconns)
		bench_fail("loop ended with %ld of %ld clients finished",
		    finished, nconns);
	for (i = 0; i < nconns; i++) {
		if (clients[i].done != msgs_per_conn)
			bench_fail("client %ld did %u round trips", i,
			    clients[i].done);
		if (evbuffer_get_length(bufferevent_get_input(
		    clients[i].bev)) != 0)
			bench_fail("client %ld: bytes past the last chunk", i);
	}
	for (i = 0; i < nservers; i++) {
		if (evbuffer_get_length(bufferevent_get_input(servers[i])) ||
		    evbuffer_get_length(bufferevent_get_output(servers[i])))
			bench_fail("server %ld: bytes left over", i);
		bufferevent_free(servers[i]);
	}
	for (i = 0; i < nconns; i++)
		bufferevent_free(clients[i].bev);
	evconnlistener_free(lev);
	event_free(guard);
	event_base_free(base);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	free(clients);
	free(servers);
	free(scratch);

	snprintf(extra, sizeof(extra), "conns=%ld size=%ld tls=1.%ld "
	    "handshake_ms=%.1f", nconns, chunk, tls % 10,
	    (t1 - t0) * 1000.0);
	bench_result_rate((long long)nconns * msgs_per_conn, t2 - t1, extra);
	return 0;
}
