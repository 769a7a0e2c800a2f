/*
 * test_dns_server: the DNS server side of event2/dns.h. A server port on
 * a UDP socket of 127.0.0.1 (an ephemeral port) answers an evdns_base of
 * the same loop, and a raw UDP client checks the exact bytes of replies.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/dns_compat.h>
#include <event2/dns_struct.h>
#include <event2/event.h>
#include <event2/event_compat.h>
#include <event2/util.h>

#include "check.h"
#include "dns_util.h"

/* What the server callback saw and how it answers. */
struct served {
	int calls;
	int flags;
	int nquestions;
	int type;
	int qclass;
	char name[128];
	int addr_family;
	int addr_len;
	int small_addr;
	int keep; /* keep the request instead of answering */
	struct evdns_server_request *kept;
	int add_errors;
};

static const unsigned char v4[8] = { 10, 0, 0, 1, 10, 0, 0, 2 };
static const unsigned char v6[16] = { 0xfd, [15] = 1 };

static void
serve(struct evdns_server_request *req, void *arg)
{
	struct served *s = arg;
	struct evdns_server_question *q;
	struct sockaddr_storage ss;
	struct in_addr in;

	s->calls++;
	s->flags = req->flags;
	s->nquestions = req->nquestions;
	if (req->nquestions < 1)
		return;
	q = req->questions[0];
	s->type = q->type;
	s->qclass = q->dns_question_class;
	snprintf(s->name, sizeof(s->name), "%s", q->name);
	s->addr_len = evdns_server_request_get_requesting_addr(req,
	    (struct sockaddr *)&ss, (int)sizeof(ss));
	s->addr_family = ss.ss_family;
	s->small_addr = evdns_server_request_get_requesting_addr(req,
	    (struct sockaddr *)&ss, 4);
	if (s->keep) {
		s->kept = req;
		return;
	}
	/* Refusals that leave the request usable. */
	if (evdns_server_request_add_reply(req, 7, q->name, 1, 1, 10, 4, 0,
	    (const char *)v4) != -1)
		s->add_errors++;
	in.s_addr = htonl(0x0a000001);
	if (evdns_server_request_add_ptr_reply(req, &in, "x.in-addr.arpa",
	    "h.test", 10) != -1)
		s->add_errors++;
	if (evdns_server_request_add_ptr_reply(req, NULL, NULL, "h.test",
	    10) != -1)
		s->add_errors++;
	if (evdns_server_request_respond(req, 16) != -1)
		s->add_errors++;

	if (!strcmp(q->name, "drop.test")) {
		evdns_server_request_drop(req);
	} else if (!strcmp(q->name, "nx.test")) {
		evdns_server_request_respond(req, DNS_ERR_NOTEXIST);
	} else if (q->type == EVDNS_TYPE_A) {
		evdns_server_request_add_cname_reply(req, q->name, "two.test",
		    300);
		evdns_server_request_add_a_reply(req, "two.test", 2, v4, 300);
		evdns_server_request_respond(req, 0);
	} else if (q->type == EVDNS_TYPE_AAAA) {
		evdns_server_request_add_aaaa_reply(req, q->name, 1, v6, 200);
		evdns_server_request_respond(req, 0);
	} else if (q->type == EVDNS_TYPE_PTR) {
		in.s_addr = htonl(0x0a000001);
		evdns_server_request_add_ptr_reply(req, &in, NULL, "host.test",
		    100);
		evdns_server_request_respond(req, 0);
	} else {
		evdns_server_request_respond(req, DNS_ERR_NOTIMPL);
	}
}

/* A client of the same loop asks the port: addresses, a CNAME, PTR,
 * NXDOMAIN, and a dropped request that times out. */
static void
round_trip(void)
{
	struct event_base *base = event_base_new();
	struct evdns_base *dns = evdns_base_new(base, 0);
	struct evdns_server_port *port = NULL;
	struct served s;
	struct res r;
	struct in_addr in;
	char addr[64];
	int pn;
	evutil_socket_t fd = udp_loopback(&pn, 1);

	memset(&s, 0, sizeof(s));
	check(fd >= 0);
	check(evdns_add_server_port_with_base(base, fd, 1, serve, &s) ==
	    NULL);
	port = evdns_add_server_port_with_base(base, fd, 0, serve, &s);
	check(port != NULL);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", pn);
	check_int(evdns_base_nameserver_ip_add(dns, addr), ==, 0);
	evdns_base_set_option(dns, "randomize-case:", "0");
	evdns_base_set_option(dns, "timeout:", "0.3");
	evdns_base_set_option(dns, "attempts:", "1");

	memset(&r, 0, sizeof(r));
	check(evdns_base_resolve_ipv4(dns, "one.test", 0, resolved, &r));
	wait_res(base, &r);
	check_int(s.calls, ==, 1);
	check_str(s.name, "one.test");
	check_int(s.type, ==, EVDNS_TYPE_A);
	check_int(s.qclass, ==, EVDNS_CLASS_INET);
	check_int(s.nquestions, ==, 1);
	check_int(s.flags, ==, 0x100); /* the query's RD bit */
	check_int(s.addr_family, ==, AF_INET);
	check_int(s.addr_len, ==, sizeof(struct sockaddr_in));
	check_int(s.small_addr, ==, -1);
	check_int(s.add_errors, ==, 0);
	check_int(r.result, ==, DNS_ERR_NONE);
	check_int(r.type, ==, DNS_IPv4_A);
	check_int(r.count, ==, 2);
	check_int(r.ttl, ==, 300);
	check_mem(r.addrs, v4, 8);

	memset(&r, 0, sizeof(r));
	check(evdns_base_resolve_ipv6(dns, "six.test", 0, resolved, &r));
	wait_res(base, &r);
	check_int(r.result, ==, DNS_ERR_NONE);
	check_int(r.count, ==, 1);
	check_int(r.ttl, ==, 200);
	check_mem(r.addrs, v6, 16);

	memset(&r, 0, sizeof(r));
	in.s_addr = htonl(0x0a000001);
	check(evdns_base_resolve_reverse(dns, &in, 0, resolved, &r));
	wait_res(base, &r);
	check_int(r.result, ==, DNS_ERR_NONE);
	check_str(r.name, "host.test");
	check_str(s.name, "1.0.0.10.in-addr.arpa");

	memset(&r, 0, sizeof(r));
	check(evdns_base_resolve_ipv4(dns, "nx.test", 0, resolved, &r));
	wait_res(base, &r);
	check_int(r.result, ==, DNS_ERR_NOTEXIST);

	memset(&r, 0, sizeof(r));
	check(evdns_base_resolve_ipv4(dns, "drop.test", 0, resolved, &r));
	wait_res(base, &r);
	check_int(r.result, ==, DNS_ERR_TIMEOUT);
	check_int(s.calls, ==, 5);
end:
	if (port)
		evdns_close_server_port(port);
	evdns_base_free(dns, 0);
	event_base_free(base);
}

/* Sends the query q (n bytes) from client to port pn and runs the loop
 * until a reply comes (into out; its length) or wait_ms pass (-1). */
static int
exchange(struct event_base *base, evutil_socket_t client, int pn,
    const unsigned char *q, int n, unsigned char *out, int cap, int wait_ms)
{
	struct sockaddr_in sin;
	long long t0 = check_now_ms();
	int got;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(pn);
	if (sendto(client, q, n, 0, (struct sockaddr *)&sin, sizeof(sin)) != n)
		return -1;
	do {
		event_base_loop(base, EVLOOP_NONBLOCK);
		got = (int)recv(client, out, cap, 0);
		if (got >= 0)
			return got;
		usleep(1000);
	} while (check_now_ms() - t0 < wait_ms);
	return -1;
}

/* Frees what a case with a raw client made, whichever of it exists. */
static void
port_case_free(struct event_base *base, struct evdns_server_port *port,
    evutil_socket_t client)
{
	if (port)
		evdns_close_server_port(port);
	if (client >= 0)
		close(client);
	event_base_free(base);
}

/* How long to wait for a reply that comes, and for one that must not. */
#define REPLY_MS (2000 * check_time_scale())
#define NO_REPLY_MS 100

/* The bytes of replies: flags (AA set, RD of the query kept), the
 * question, names compressed against it; any opcode reaches the
 * callback; a reply is ignored. */
static void
wire_format(void)
{
	struct event_base *base = event_base_new();
	struct evdns_server_port *port = NULL;
	struct served s;
	int pn, dummy, n;
	evutil_socket_t fd = udp_loopback(&pn, 1);
	evutil_socket_t client = udp_loopback(&dummy, 1);
	unsigned char out[600];
	static const unsigned char query[] = {
		0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
		3, 'o', 'n', 'e', 4, 't', 'e', 's', 't', 0, 0, 1, 0, 1
	};
	static const unsigned char reply[] = {
		0x12, 0x34, 0x81, 0x00, 0, 1, 0, 2, 0, 0, 0, 0,
		3, 'o', 'n', 'e', 4, 't', 'e', 's', 't', 0, 0, 1, 0, 1,
		/* one.test CNAME two.test */
		0xc0, 12, 0, 5, 0, 1, 0, 0, 1, 0x2c, 0, 6,
		3, 't', 'w', 'o', 0xc0, 16,
		/* two.test A 10.0.0.1 10.0.0.2 */
		0xc0, 38, 0, 1, 0, 1, 0, 0, 1, 0x2c, 0, 8,
		10, 0, 0, 1, 10, 0, 0, 2
	};
	unsigned char other[sizeof(query)];

	memset(&s, 0, sizeof(s));
	check(fd >= 0 && client >= 0);
	port = evdns_add_server_port_with_base(base, fd, 0, serve, &s);
	check(port != NULL);
	n = exchange(base, client, pn, query, sizeof(query), out,
	    sizeof(out), REPLY_MS);
	check_int(n, ==, sizeof(reply));
	check_mem(out, reply, sizeof(reply));
	check_int(s.calls, ==, 1);

	/* Opcode 2 (status) is served as a query too: 2.1.12 clears the
	 * opcode before the check meant to answer NOTIMPL. */
	memcpy(other, query, sizeof(query));
	other[2] = 0x11;
	n = exchange(base, client, pn, other, sizeof(other), out,
	    sizeof(out), REPLY_MS);
	check_int(n, ==, sizeof(reply));
	check_mem(out, reply, sizeof(reply));
	check_int(s.calls, ==, 2);

	/* A reply is not a request. */
	other[2] = 0x81;
	n = exchange(base, client, pn, other, sizeof(other), out,
	    sizeof(out), NO_REPLY_MS);
	check_int(n, ==, -1);
	check_int(s.calls, ==, 2);
end:
	port_case_free(base, port, client);
}

/* AA through set_flags, records in the other sections, and a request
 * kept past its callback and answered later. */
static void
flags_and_sections(void)
{
	struct event_base *base = event_base_new();
	struct evdns_server_port *port = NULL;
	struct served s;
	int pn, dummy, n;
	evutil_socket_t fd = udp_loopback(&pn, 1);
	evutil_socket_t client = udp_loopback(&dummy, 1);
	unsigned char out[600];
	static const unsigned char query[] = {
		0x00, 0x07, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
		1, 'k', 4, 't', 'e', 's', 't', 0, 0, 16, 0, 1
	};
	static const unsigned char reply[] = {
		0x00, 0x07, 0x85, 0x80, 0, 1, 0, 0, 0, 1, 0, 1,
		1, 'k', 4, 't', 'e', 's', 't', 0, 0, 16, 0, 1,
		/* authority: test NS ns.test */
		0xc0, 14, 0, 2, 0, 1, 0, 0, 0, 9, 0, 5,
		2, 'n', 's', 0xc0, 14,
		/* additional: ns.test TXT "hi" */
		0xc0, 36, 0, 16, 0, 1, 0, 0, 0, 9, 0, 3,
		2, 'h', 'i'
	};

	memset(&s, 0, sizeof(s));
	s.keep = 1;
	check(fd >= 0 && client >= 0);
	port = evdns_add_server_port_with_base(base, fd, 0, serve, &s);
	check(port != NULL);
	n = exchange(base, client, pn, query, sizeof(query), out,
	    sizeof(out), NO_REPLY_MS);
	check_int(n, ==, -1);
	check(s.kept != NULL);
	evdns_server_request_set_flags(s.kept, EVDNS_FLAGS_AA |
	    EVDNS_FLAGS_RD);
	check_int(evdns_server_request_add_reply(s.kept,
	    EVDNS_AUTHORITY_SECTION, "test", EVDNS_TYPE_NS, EVDNS_CLASS_INET,
	    9, 0, 1, "ns.test"), ==, 0);
	check_int(evdns_server_request_add_reply(s.kept,
	    EVDNS_ADDITIONAL_SECTION, "ns.test", EVDNS_TYPE_TXT,
	    EVDNS_CLASS_INET, 9, 3, 0, "\002hi"), ==, 0);
	check_int(evdns_server_request_respond(s.kept, 0), ==, 0);
	n = (int)recv(client, out, sizeof(out), 0);
	check_int(n, ==, sizeof(reply));
	check_mem(out, reply, sizeof(reply));
end:
	port_case_free(base, port, client);
}

/* Closing a port closes its socket, at once when no request is out, else
 * when the last one is finished. evdns_add_server_port uses the base of
 * event_init(). */
static void
close_port(void)
{
	struct event_base *base = event_init();
	struct evdns_server_port *port = NULL;
	struct served s;
	int pn, dummy, n;
	evutil_socket_t fd = udp_loopback(&pn, 1);
	evutil_socket_t client = udp_loopback(&dummy, 1);
	unsigned char out[600];
	static const unsigned char query[] = {
		0x00, 0x09, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
		1, 'k', 4, 't', 'e', 's', 't', 0, 0, 1, 0, 1
	};

	memset(&s, 0, sizeof(s));
	check(fd >= 0 && client >= 0);
	port = evdns_add_server_port(fd, 0, serve, &s);
	check(port != NULL);
	evdns_close_server_port(port);
	port = NULL;
	check_int(fcntl(fd, F_GETFD), ==, -1);

	fd = udp_loopback(&pn, 1);
	check(fd >= 0);
	s.keep = 1;
	port = evdns_add_server_port_with_base(base, fd, 0, serve, &s);
	check(port != NULL);
	n = exchange(base, client, pn, query, sizeof(query), out,
	    sizeof(out), NO_REPLY_MS);
	check_int(n, ==, -1);
	check(s.kept != NULL);
	evdns_close_server_port(port);
	port = NULL;
	check_int(fcntl(fd, F_GETFD), !=, -1);
	check_int(evdns_server_request_add_a_reply(s.kept, "k.test", 1, v4,
	    5), ==, 0);
	check_int(evdns_server_request_respond(s.kept, 0), ==, 0);
	check_int(fcntl(fd, F_GETFD), ==, -1);
	n = (int)recv(client, out, sizeof(out), 0);
	check_int(n, ==, sizeof(query) + 16);
	check_int(out[7], ==, 1);
end:
	port_case_free(base, port, client);
}

static const struct check_case cases[] = {
	{ "round_trip", round_trip },
	{ "wire_format", wire_format },
	{ "flags_and_sections", flags_and_sections },
	{ "close_port", close_port },
	{ NULL, NULL }
};

int
main(int argc, char **argv)
{
	return check_main(cases, argc, argv);
}
