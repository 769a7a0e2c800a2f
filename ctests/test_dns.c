/*
 * test_dns: the asynchronous resolver of event2/dns.h and connecting a
 * bufferevent by name through it. Every question goes to a small DNS
 * server this test forks on 127.0.0.1 (an ephemeral port), which answers
 * from a fixed table; no other nameserver is ever configured.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/dns_compat.h>
#include <event2/event.h>
#include <event2/event_compat.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "check.h"
#include "dns_util.h"

/* The forked server: its pid and port. */
static pid_t server_pid = -1;
static int server_port;

static void
put16(unsigned char *p, int v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

/* Appends a record whose owner is the name at offset 12 of the packet. */
static int
add_record(unsigned char *p, int n, int type, const void *data, int len)
{
	static const unsigned char head[] = { 0xc0, 12 };

	memcpy(p + n, head, 2);
	put16(p + n + 2, type);
	put16(p + n + 4, 1);
	memset(p + n + 6, 0, 4);
	p[n + 9] = 60;
	put16(p + n + 10, len);
	memcpy(p + n + 12, data, len);
	return n + 12 + len;
}

/* Answers one question q (a query of qlen bytes) into r; returns the
 * length, 0 for no answer. The table is keyed by the lower-cased name. */
static int
answer(const unsigned char *q, int qlen, unsigned char *r)
{
	char name[256];
	int i = 12, o = 0, n, type, an = 0;
	static const unsigned char v4a[] = { 10, 0, 0, 1 };
	static const unsigned char v4h[] = { 10, 0, 0, 7 };
	static const unsigned char v4j[] = { 10, 0, 0, 9 };
	static const unsigned char v4l[] = { 127, 0, 0, 1 };
	static const unsigned char v6a[16] = { 0xfd, [15] = 1 };
	static const unsigned char target[] = "\001a\004test";
	static const unsigned char v4m[] = { 10, 0, 0, 5 };
	char v6rev[80];

	while (i < qlen && q[i] && o < 200) {
		int l = q[i++], k;

		for (k = 0; k < l && i < qlen; k++)
			name[o++] = (char)(q[i++] | 0x20);
		name[o++] = '.';
	}
	if (o == 0 || i + 5 > qlen)
		return 0;
	name[o - 1] = '\0';
	type = (q[i + 1] << 8) | q[i + 2];
	n = i + 5;
	memcpy(r, q, n);
	r[2] = 0x81;
	r[3] = 0x80;
	memset(r + 6, 0, 6);
	/* The reverse name of fd00::1: its nibbles, last first. */
	snprintf(v6rev, sizeof(v6rev), "1.0.%sd.f.ip6.arpa",
	    "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.");
	if (type == 12) {
		if (!strcmp(name, "1.0.0.10.in-addr.arpa") ||
		    !strcmp(name, v6rev)) {
			n = add_record(r, n, 12, target, sizeof(target));
			an = 1;
		} else {
			r[3] = 0x83;
		}
	} else if (!strcmp(name, "a.test")) {
		if (type == 1)
			n = add_record(r, n, 1, v4a, 4), an = 1;
		else
			n = add_record(r, n, 28, v6a, 16), an = 1;
	} else if (!strcmp(name, "loop.test") && type == 1) {
		n = add_record(r, n, 1, v4l, 4), an = 1;
	} else if (!strcmp(name, "host.corp.test") && type == 1) {
		n = add_record(r, n, 1, v4h, 4), an = 1;
	} else if (!strcmp(name, "host.corp") && type == 1) {
		n = add_record(r, n, 1, v4m, 4), an = 1;
	} else if (!strcmp(name, "junk.test") && type == 1) {
		n = add_record(r, n, 1, v4j, 4), an = 1;
	} else if (!strcmp(name, "alias.test")) {
		n = add_record(r, n, 5, target, sizeof(target));
		an = 1;
		if (type == 1) {
			/* The A record's owner is the CNAME's target. */
			int at = n - (int)sizeof(target);

			n = add_record(r, n, 1, v4a, 4);
			r[n - 16] = (unsigned char)(0xc0 | (at >> 8));
			r[n - 15] = (unsigned char)at;
			an = 2;
		}
	} else if (!strcmp(name, "nx.test") ||
	    !strcmp(name, "host")) {
		r[3] = 0x83;
	} else if (!strcmp(name, "fail.test")) {
		r[3] = 0x82;
	} else if (!strcmp(name, "tc.test")) {
		r[2] |= 0x02;
	} else if (!strcmp(name, "quiet.test") || type != 1) {
		if (strcmp(name, "quiet.test"))
			return n; /* no records of that type */
		return 0;
	} else {
		r[3] = 0x83;
	}
	put16(r + 6, an);
	return n;
}

/*
 * The server's loop: answers until killed. For junk.test (in any case) it
 * first sends noise and a reply with the wrong id, both with ids no
 * question uses. (Not a cut reply with the right id: 2.1.12 fails the
 * question on one, DNS_ERR_UNKNOWN, where we drop it and wait for the
 * real reply.)
 */
static void
serve(int fd)
{
	unsigned char q[512], r[1024];
	struct sockaddr_storage from;
	socklen_t fl;
	int n, m;

	for (;;) {
		fl = sizeof(from);
		n = (int)recvfrom(fd, q, sizeof(q), 0,
		    (struct sockaddr *)&from, &fl);
		if (n < 12)
			continue;
		m = answer(q, n, r);
		if (m <= 0)
			continue;
		if (n > 17 && !strncasecmp((char *)q + 13, "junk", 4)) {
			unsigned char bad[1024];

			memset(bad, 0xc0, 40);
			bad[0] = q[0] ^ 0x55;
			bad[1] = q[1] ^ 0x55;
			sendto(fd, bad, 40, 0, (struct sockaddr *)&from, fl);
			memcpy(bad, r, m);
			bad[0] ^= 0x55;
			sendto(fd, bad, m, 0, (struct sockaddr *)&from, fl);
		}
		sendto(fd, r, m, 0, (struct sockaddr *)&from, fl);
	}
}

static int
start_server(void)
{
	int fd = udp_loopback(&server_port, 0);

	if (fd < 0)
		return -1;
	server_pid = fork();
	if (server_pid == 0) {
		/* Never outlive the test, even if it crashes. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		alarm(60);
		serve(fd);
		_exit(0);
	}
	close(fd);
	return server_pid > 0 ? 0 : -1;
}

static void
stop_server(void)
{
	if (server_pid > 0) {
		kill(server_pid, SIGKILL);
		waitpid(server_pid, NULL, 0);
	}
	server_pid = -1;
}

/* A resolver on base that asks only our server, quickly. */
static struct evdns_base *
test_dns_base(struct event_base *base, int flags)
{
	char addr[64];
	struct evdns_base *dns = evdns_base_new(base, flags);

	if (!dns)
		return NULL;
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", server_port);
	evdns_base_nameserver_ip_add(dns, addr);
	evdns_base_set_option(dns, "timeout:", "0.2");
	evdns_base_set_option(dns, "attempts:", "1");
	evdns_base_set_option(dns, "getaddrinfo-allow-skew:", "0.3");
	return dns;
}

/* Starts the server, then a base with a resolver that asks it (not
 * checked here); -1 if the server did not start. */
static int
case_start(struct event_base **base, struct evdns_base **dns)
{
	if (start_server() < 0)
		return -1;
	*base = event_base_new();
	*dns = test_dns_base(*base, 0);
	return 0;
}

/* Frees what a case made, whichever of it exists, and stops the server
 * if one runs. */
static void
case_free(struct event_base *base, struct evdns_base *dns)
{
	if (dns)
		evdns_base_free(dns, 0);
	if (base)
		event_base_free(base);
	stop_server();
}

struct outcome {
	int called;
	int result;
	struct evutil_addrinfo *ai;
};

static void
got(int result, struct evutil_addrinfo *ai, void *arg)
{
	struct outcome *o = arg;

	o->called++;
	o->result = result;
	o->ai = ai;
}

static void
hints_init(struct evutil_addrinfo *h, int family, int socktype)
{
	memset(h, 0, sizeof(*h));
	h->ai_family = family;
	h->ai_socktype = socktype;
}

static unsigned long
v4_of(const struct evutil_addrinfo *ai)
{
	return ntohl(((struct sockaddr_in *)ai->ai_addr)->sin_addr.s_addr);
}

/* Looks name up for family (stream sockets) and runs the loop until the
 * callback ran; the outcome is in *o. */
static void
lookup(struct event_base *base, struct evdns_base *dns, const char *name,
    int family, struct outcome *o)
{
	struct evutil_addrinfo h;

	memset(o, 0, sizeof(*o));
	hints_init(&h, family, SOCK_STREAM);
	evdns_getaddrinfo(dns, name, "80", &h, got, o);
	run_until(base, &o->called);
}

/* One name, one A record, the port from the service. */
static void
resolve_a(void)
{
	struct event_base *base = NULL;
	struct evdns_base *dns = NULL;
	struct outcome o = { 0, 0, NULL };

	check(case_start(&base, &dns) == 0);
	check(dns != NULL);
	check_int(evdns_base_count_nameservers(dns), ==, 1);
	lookup(base, dns, "a.test", AF_INET, &o);
	check_int(o.called, ==, 1);
	check_int(o.result, ==, 0);
	check(o.ai != NULL);
	check_int(o.ai->ai_family, ==, AF_INET);
	check_int(o.ai->ai_socktype, ==, SOCK_STREAM);
	check_int(v4_of(o.ai), ==, 0x0a000001);
	check_int(ntohs(((struct sockaddr_in *)o.ai->ai_addr)->sin_port), ==,
	    80);
	check(o.ai->ai_next == NULL);
end:
	if (o.ai)
		evutil_freeaddrinfo(o.ai);
	case_free(base, dns);
}

/* An absolute name, given with its final dot, is answered like the same
 * name without it: the reply's question carries no dot to compare. */
static void
resolve_absolute_name(void)
{
	struct event_base *base = NULL;
	struct evdns_base *dns = NULL;
	struct outcome o = { 0, 0, NULL };

	check(case_start(&base, &dns) == 0);
	check(dns != NULL);
	lookup(base, dns, "a.test.", AF_INET, &o);
	check_int(o.called, ==, 1);
	check_int(o.result, ==, 0);
	check(o.ai != NULL);
	check_int(v4_of(o.ai), ==, 0x0a000001);
end:
	if (o.ai)
		evutil_freeaddrinfo(o.ai);
	case_free(base, dns);
}

/* AF_UNSPEC asks A and AAAA; the IPv4 answers come first, and with no
 * socket type each address comes as TCP and UDP. */
static void
resolve_unspec(void)
{
	struct event_base *base = NULL;
	struct evdns_base *dns = NULL;
	struct outcome o = { 0, 0, NULL };
	struct evutil_addrinfo *p;
	int n = 0;

	check(case_start(&base, &dns) == 0);
	evdns_getaddrinfo(dns, "a.test", NULL, NULL, got, &o);
	run_until(base, &o.called);
	check_int(o.result, ==, 0);
	for (p = o.ai; p; p = p->ai_next)
		n++;
	check_int(n, ==, 4);
	check_int(o.ai->ai_family, ==, AF_INET);
	check_int(o.ai->ai_socktype, ==, SOCK_STREAM);
	check_int(o.ai->ai_next->ai_socktype, ==, SOCK_DGRAM);
	check_int(o.ai->ai_next->ai_next->ai_family, ==, AF_INET6);
end:
	if (o.ai)
		evutil_freeaddrinfo(o.ai);
	case_free(base, dns);
}

/* A CNAME chain, NXDOMAIN, SERVFAIL, a truncated reply, silence, and a
 * reply preceded by garbage. */
static void
answers_and_failures(void)
{
	struct event_base *base = NULL;
	struct evdns_base *dns = NULL;
	struct outcome o = { 0, 0, NULL };
	long long t0;

	check(case_start(&base, &dns) == 0);
	lookup(base, dns, "alias.test", AF_INET, &o);
	check_int(o.result, ==, 0);
	check(o.ai != NULL);
	check_int(v4_of(o.ai), ==, 0x0a000001);
	evutil_freeaddrinfo(o.ai);
	o.ai = NULL;

	lookup(base, dns, "nx.test", AF_INET, &o);
	check_int(o.result, ==, EVUTIL_EAI_NONAME);
	check(o.ai == NULL);

	lookup(base, dns, "fail.test", AF_INET, &o);
	check_int(o.result, ==, EVUTIL_EAI_FAIL);

	lookup(base, dns, "tc.test", AF_INET, &o);
	check_int(o.result, ==, EVUTIL_EAI_FAIL);

	t0 = check_now_ms();
	lookup(base, dns, "quiet.test", AF_INET, &o);
	check_int(o.result, ==, EVUTIL_EAI_FAIL);
	check_int(check_now_ms() - t0, >=, 150);
	check_int(check_now_ms() - t0, <, 2000 * check_time_scale());

	lookup(base, dns, "junk.test", AF_INET, &o);
	check_int(o.result, ==, 0);
	check(o.ai != NULL);
	check_int(v4_of(o.ai), ==, 0x0a000009);
end:
	if (o.ai)
		evutil_freeaddrinfo(o.ai);
	case_free(base, dns);
}

/* Cancelling still calls back, from the loop, with EVUTIL_EAI_CANCEL. */
static void
cancel(void)
{
	struct event_base *base = NULL;
	struct evdns_base *dns = NULL;
	struct outcome o = { 0, 0, NULL };
	struct evdns_getaddrinfo_request *req;
	struct evutil_addrinfo h;

	check(case_start(&base, &dns) == 0);
	evdns_base_set_option(dns, "timeout:", "5");
	hints_init(&h, AF_UNSPEC, SOCK_STREAM);
	req = evdns_getaddrinfo(dns, "quiet.test", "80", &h, got, &o);
	check(req != NULL);
	check_int(o.called, ==, 0);
	evdns_getaddrinfo_cancel(req);
	check_int(o.called, ==, 0);
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_int(o.called, ==, 1);
	check_int(o.result, ==, EVUTIL_EAI_CANCEL);
	check(o.ai == NULL);
end:
	case_free(base, dns);
}

/* Freeing the base with fail_requests answers the lookups still running
 * from the loop, with EVUTIL_EAI_FAIL (the code of DNS_ERR_SHUTDOWN). */
static void
free_fails_requests(void)
{
	struct event_base *base = NULL;
	struct evdns_base *dns = NULL;
	struct outcome o = { 0, 0, NULL };
	struct evutil_addrinfo h;

	check(case_start(&base, &dns) == 0);
	evdns_base_set_option(dns, "timeout:", "5");
	hints_init(&h, AF_INET, SOCK_STREAM);
	check(evdns_getaddrinfo(dns, "quiet.test", "80", &h, got, &o) != NULL);
	evdns_base_free(dns, 1);
	dns = NULL;
	check_int(o.called, ==, 0);
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_int(o.called, ==, 1);
	check_int(o.result, ==, EVUTIL_EAI_FAIL);
end:
	case_free(base, dns);
}

/* Numeric hosts are answered inside the call, which returns NULL. */
static void
numeric_host(void)
{
	struct event_base *base = event_base_new();
	struct evdns_base *dns = evdns_base_new(base, 0);
	struct outcome o = { 0, 0, NULL };
	struct evutil_addrinfo h;

	hints_init(&h, AF_INET, SOCK_STREAM);
	check(evdns_getaddrinfo(dns, "127.0.0.1", "8080", &h, got, &o) ==
	    NULL);
	check_int(o.called, ==, 1);
	check_int(o.result, ==, 0);
	check(o.ai != NULL);
	check_int(v4_of(o.ai), ==, 0x7f000001);
end:
	if (o.ai)
		evutil_freeaddrinfo(o.ai);
	case_free(base, dns);
}

/*
 * The entries of a numeric answer: with no socket type asked for, one TCP
 * and one UDP entry (no raw one, unlike getaddrinfo); a socket type alone
 * gets its protocol filled in.
 */
static void
numeric_entries(void)
{
	struct event_base *base = event_base_new();
	struct evdns_base *dns = evdns_base_new(base, 0);
	struct outcome o = { 0, 0, NULL };
	struct evutil_addrinfo h, *ai;
	int n = 0;

	hints_init(&h, AF_INET, 0);
	check(evdns_getaddrinfo(dns, "127.0.0.1", "80", &h, got, &o) == NULL);
	check_int(o.result, ==, 0);
	for (ai = o.ai; ai; ai = ai->ai_next, n++) {
		check_int(ai->ai_socktype, ==, n == 0 ? SOCK_STREAM : SOCK_DGRAM);
		check_int(ai->ai_protocol, ==, n == 0 ? IPPROTO_TCP : IPPROTO_UDP);
	}
	check_int(n, ==, 2);
	evutil_freeaddrinfo(o.ai);
	o.ai = NULL;
	o.called = 0;
	hints_init(&h, AF_INET, SOCK_DGRAM);
	check(evdns_getaddrinfo(dns, "127.0.0.1", "53", &h, got, &o) == NULL);
	check(o.ai != NULL);
	check_int(o.ai->ai_protocol, ==, IPPROTO_UDP);
	check_ptr(o.ai->ai_next, ==, NULL);
end:
	if (o.ai)
		evutil_freeaddrinfo(o.ai);
	case_free(base, dns);
}

/* Names of a hosts file the test writes are answered inside the call,
 * and nothing else is once the entries are cleared. */
static void
hosts_file(void)
{
	struct event_base *base = event_base_new();
	struct evdns_base *dns = evdns_base_new(base, 0);
	struct outcome o = { 0, 0, NULL };
	struct evutil_addrinfo h;
	char path[] = "/tmp/test_dns_hosts_XXXXXX";
	FILE *f;
	int fd = mkstemp(path);

	check(fd >= 0);
	f = fdopen(fd, "w");
	fprintf(f, "# hosts\n10.0.0.42 mine.test other # comment\n");
	fclose(f);
	check_int(evdns_base_load_hosts(dns, path), ==, 0);
	hints_init(&h, AF_INET, SOCK_STREAM);
	check(evdns_getaddrinfo(dns, "MINE.test", "80", &h, got, &o) == NULL);
	check_int(o.called, ==, 1);
	check_int(o.result, ==, 0);
	check(o.ai != NULL);
	check_int(v4_of(o.ai), ==, 0x0a00002a);
	evutil_freeaddrinfo(o.ai);
	o.ai = NULL;
	evdns_base_clear_host_addresses(dns);
	memset(&o, 0, sizeof(o));
	check(evdns_getaddrinfo(dns, "mine.test", "80", &h, got, &o) != NULL);
	check_int(o.called, ==, 0);
end:
	unlink(path);
	if (o.ai)
		evutil_freeaddrinfo(o.ai);
	case_free(base, dns);
}

/* A short name is tried with the search domain first. */
static void
search_domain(void)
{
	struct event_base *base = NULL;
	struct evdns_base *dns = NULL;
	struct outcome o = { 0, 0, NULL };

	check(case_start(&base, &dns) == 0);
	evdns_base_search_add(dns, "corp.test");
	lookup(base, dns, "host", AF_INET, &o);
	check_int(o.result, ==, 0);
	check(o.ai != NULL);
	check_int(v4_of(o.ai), ==, 0x0a000007);
	evutil_freeaddrinfo(o.ai);
	o.ai = NULL;
	evdns_base_search_clear(dns);
	lookup(base, dns, "host", AF_INET, &o);
	check_int(o.result, ==, EVUTIL_EAI_NONAME);
end:
	if (o.ai)
		evutil_freeaddrinfo(o.ai);
	case_free(base, dns);
}

/* A resolv.conf the test writes: our server, a search list, options. */
static void
resolv_conf(void)
{
	struct event_base *base = NULL;
	struct evdns_base *dns = NULL;
	struct outcome o = { 0, 0, NULL };
	char path[] = "/tmp/test_dns_resolv_XXXXXX";
	FILE *f;
	int fd;

	check(start_server() == 0);
	fd = mkstemp(path);
	check(fd >= 0);
	f = fdopen(fd, "w");
	fprintf(f, "# test\nnameserver 127.0.0.1:%d\nsearch corp.test\n"
	    "options timeout:0.2 attempts:1\n", server_port);
	fclose(f);
	base = event_base_new();
	dns = evdns_base_new(base, 0);
	check_int(evdns_base_resolv_conf_parse(dns, DNS_OPTIONS_ALL &
	    ~DNS_OPTION_HOSTSFILE, path), ==, 0);
	check_int(evdns_base_count_nameservers(dns), ==, 1);
	lookup(base, dns, "host", AF_INET, &o);
	check_int(o.result, ==, 0);
	check(o.ai != NULL);
	check_int(v4_of(o.ai), ==, 0x0a000007);
end:
	unlink(path);
	if (o.ai)
		evutil_freeaddrinfo(o.ai);
	case_free(base, dns);
}

/* Without nameservers a lookup waits and keeps nothing pending (DNS-3);
 * an idle base with DISABLE_WHEN_INACTIVE does not hold the loop. */
static void
idle_bases(void)
{
	struct event_base *base = event_base_new();
	struct evdns_base *dns = evdns_base_new(base, 0);
	struct evdns_base *quiet = NULL;
	struct outcome o = { 0, 0, NULL };
	struct evutil_addrinfo h;
	struct sockaddr_storage ss;
	socklen_t len;

	check_int(evdns_base_set_option(dns, "timeout:", "0"), ==, -1);
	check_int(evdns_base_set_option(dns, "timeout", "x"), ==, -1);
	check_int(evdns_base_set_option(dns, "timeout:", "1.5"), ==, 0);
	check_int(evdns_base_set_option(dns, "attempts:", "x"), ==, -1);
	check_int(evdns_base_set_option(dns, "ndots:", "2"), ==, 0);
	check_int(evdns_base_set_option(dns, "randomize-case:", "0"), ==, 0);
	hints_init(&h, AF_INET, SOCK_STREAM);
	check(evdns_getaddrinfo(dns, "a.test", "80", &h, got, &o) != NULL);
	check_int(event_base_loop(base, 0), ==, 1);
	check_int(o.called, ==, 0);
	quiet = evdns_base_new(base, EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	check_int(evdns_base_nameserver_ip_add(quiet, "127.0.0.1:9"), ==, 0);
	check_int(evdns_base_nameserver_ip_add(quiet, "127.0.0.1:9"), ==, 3);
	check_int(evdns_base_count_nameservers(quiet), ==, 1);
	len = sizeof(ss);
	check_int(evdns_base_get_nameserver_addr(quiet, 0,
	    (struct sockaddr *)&ss, len), ==, sizeof(struct sockaddr_in));
	check_int(ntohs(((struct sockaddr_in *)&ss)->sin_port), ==, 9);
	check_int(evdns_base_get_nameserver_addr(quiet, 0,
	    (struct sockaddr *)&ss, 4), ==, sizeof(struct sockaddr_in));
	check_int(evdns_base_get_nameserver_addr(quiet, 1,
	    (struct sockaddr *)&ss, len), ==, -1);
	check_int(event_base_loop(base, 0), ==, 1);
	check_int(evdns_base_clear_nameservers_and_suspend(quiet), ==, 0);
	check_int(evdns_base_count_nameservers(quiet), ==, 0);
	check_int(evdns_base_resume(quiet), ==, 0);
end:
	if (quiet)
		evdns_base_free(quiet, 0);
	case_free(base, dns);
}

static void
error_strings(void)
{
	check_str(evdns_err_to_string(DNS_ERR_NONE), "no error");
	check_str(evdns_err_to_string(DNS_ERR_NOTEXIST),
	    "name does not exist");
	check_str(evdns_err_to_string(DNS_ERR_TIMEOUT), "request timed out");
	check_str(evdns_err_to_string(DNS_ERR_CANCEL),
	    "dns request canceled");
	check_str(evdns_err_to_string(12345), "[Unknown error code]");
end:
	;
}

struct conn {
	int events;
	int calls;
};

static void
conn_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	c->events |= what;
	c->calls++;
	event_base_loopexit(bufferevent_get_base(bev), NULL);
}

static void
accepted(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int len, void *arg)
{
	(void)l;
	(void)sa;
	(void)len;
	(void)arg;
	close(fd);
}

/* Connecting by name waits for the lookup with I/O suspended (DNS-4),
 * then connects to the address found; a numeric host is connected within
 * the call (DNS-1, DNS-2); a name that does not exist gives an error and
 * its EVUTIL_EAI code. */
static void
connect_by_name(void)
{
	struct event_base *base = NULL;
	struct evdns_base *dns = NULL;
	struct evconnlistener *lev = NULL;
	struct bufferevent *bev = NULL;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	struct conn c = { 0, 0 };
	int port;

	check(case_start(&base, &dns) == 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lev = evconnlistener_new_bind(base, accepted, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, -1,
	    (struct sockaddr *)&sin, sizeof(sin));
	check(lev != NULL);
	getsockname(evconnlistener_get_fd(lev), (struct sockaddr *)&sin, &len);
	port = ntohs(sin.sin_port);

	bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(bev, NULL, NULL, conn_event, &c);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	check_int(bufferevent_socket_connect_hostname(bev, dns, AF_INET,
	    "loop.test", port), ==, 0);
	check_int(bufferevent_getfd(bev), ==, -1);
	check_int(bufferevent_get_enabled(bev), ==, EV_READ | EV_WRITE);
	check_int(c.calls, ==, 0);
	event_base_dispatch(base);
	check_int(c.events, ==, BEV_EVENT_CONNECTED);
	check_int(bufferevent_socket_get_dns_error(bev), ==, 0);
	check_int(bufferevent_getfd(bev), >=, 0);
	bufferevent_free(bev);

	memset(&c, 0, sizeof(c));
	bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(bev, NULL, NULL, conn_event, &c);
	check_int(bufferevent_socket_connect_hostname(bev, dns, AF_INET,
	    "127.0.0.1", port), ==, 0);
	check_int(bufferevent_getfd(bev), >=, 0);
	event_base_dispatch(base);
	check_int(c.events, ==, BEV_EVENT_CONNECTED);
	bufferevent_free(bev);

	memset(&c, 0, sizeof(c));
	bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(bev, NULL, NULL, conn_event, &c);
	check_int(bufferevent_socket_connect_hostname(bev, dns, AF_INET,
	    "nx.test", port), ==, 0);
	event_base_dispatch(base);
	check_int(c.events, ==, BEV_EVENT_ERROR);
	check_int(bufferevent_socket_get_dns_error(bev), ==,
	    EVUTIL_EAI_NONAME);
end:
	if (bev)
		bufferevent_free(bev);
	if (lev)
		evconnlistener_free(lev);
	case_free(base, dns);
}

/* Giving the bufferevent a socket while its lookup runs cancels the
 * lookup: EVUTIL_EAI_CANCEL is recorded and no event is reported (DNS-6). */
static void
connect_cancelled(void)
{
	struct event_base *base = NULL;
	struct evdns_base *dns = NULL;
	struct bufferevent *bev = NULL;
	struct conn c = { 0, 0 };
	evutil_socket_t pair[2] = { -1, -1 };

	check(case_start(&base, &dns) == 0);
	evdns_base_set_option(dns, "timeout:", "5");
	check(evutil_socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0);
	bev = bufferevent_socket_new(base, -1, 0);
	bufferevent_setcb(bev, NULL, NULL, conn_event, &c);
	check_int(bufferevent_socket_connect_hostname(bev, dns, AF_INET,
	    "quiet.test", 80), ==, 0);
	check_int(bufferevent_socket_get_dns_error(bev), ==, 0);
	bufferevent_setfd(bev, pair[0]);
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_int(c.calls, ==, 0);
	check_int(bufferevent_socket_get_dns_error(bev), ==,
	    EVUTIL_EAI_CANCEL);
end:
	if (bev)
		bufferevent_free(bev);
	if (pair[0] >= 0) {
		close(pair[0]);
		close(pair[1]);
	}
	case_free(base, dns);
}

/* Resolves name (v6: its AAAA records) with flags and waits. The callback
 * never runs inside the call. */
static int
resolve_wait(struct event_base *base, struct evdns_base *dns,
    const char *name, int v6, int flags, struct res *r)
{
	struct evdns_request *req;

	memset(r, 0, sizeof(*r));
	if (v6)
		req = evdns_base_resolve_ipv6(dns, name, flags, resolved, r);
	else
		req = evdns_base_resolve_ipv4(dns, name, flags, resolved, r);
	if (!req || r->called)
		return -1;
	wait_res(base, r);
	return r->called == 1 ? 0 : -1;
}

/* evdns_base_resolve_ipv4/ipv6: the addresses as in_addr and in6_addr
 * arrays with their TTL; failures with type 0, count 0 and no array. */
static void
resolve_addresses(void)
{
	struct event_base *base = NULL;
	struct evdns_base *dns = NULL;
	struct res r;
	static const unsigned char v4[4] = { 10, 0, 0, 1 };
	static const unsigned char v6[16] = { 0xfd, [15] = 1 };
	char name[300];

	check(case_start(&base, &dns) == 0);
	check(resolve_wait(base, dns, "a.test", 0, 0, &r) == 0);
	check_int(r.result, ==, DNS_ERR_NONE);
	check_int(r.type, ==, DNS_IPv4_A);
	check_int(r.count, ==, 1);
	check_int(r.ttl, ==, 60);
	check_mem(r.addrs, v4, 4);

	check(resolve_wait(base, dns, "a.test", 1, 0, &r) == 0);
	check_int(r.result, ==, DNS_ERR_NONE);
	check_int(r.type, ==, DNS_IPv6_AAAA);
	check_int(r.count, ==, 1);
	check_mem(r.addrs, v6, 16);

	check(resolve_wait(base, dns, "alias.test", 0, 0, &r) == 0);
	check_int(r.result, ==, DNS_ERR_NONE);
	check_mem(r.addrs, v4, 4);

	check(resolve_wait(base, dns, "nx.test", 0, 0, &r) == 0);
	check_int(r.result, ==, DNS_ERR_NOTEXIST);
	check_int(r.type, ==, 0);
	check_int(r.count, ==, 0);
	check(r.null_addrs);

	check(resolve_wait(base, dns, "loop.test", 1, 0, &r) == 0);
	check_int(r.result, ==, DNS_ERR_NODATA);

	check(resolve_wait(base, dns, "tc.test", 0, 0, &r) == 0);
	check_int(r.result, ==, DNS_ERR_TRUNCATED);

	/* SERVFAIL counts as no answer: with one attempt, a timeout. */
	check(resolve_wait(base, dns, "fail.test", 0, 0, &r) == 0);
	check_int(r.result, ==, DNS_ERR_TIMEOUT);

	check(resolve_wait(base, dns, "quiet.test", 0, 0, &r) == 0);
	check_int(r.result, ==, DNS_ERR_TIMEOUT);
	check(r.null_addrs);

	/* Names that cannot be asked: no request. */
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	check(evdns_base_resolve_ipv4(dns, name, 0, resolved, &r) == NULL);
	strcpy(name + 70, ".test");
	check(evdns_base_resolve_ipv4(dns, name, 0, resolved, &r) == NULL);
end:
	case_free(base, dns);
}

/* Reverse lookups ask PTR questions under in-addr.arpa and ip6.arpa; the
 * callback gets a pointer to the name. */
static void
resolve_reverse(void)
{
	struct event_base *base = NULL;
	struct evdns_base *dns = NULL;
	struct res r;
	struct in_addr in;
	struct in6_addr in6;

	check(case_start(&base, &dns) == 0);
	memset(&r, 0, sizeof(r));
	in.s_addr = htonl(0x0a000001);
	check(evdns_base_resolve_reverse(dns, &in, 0, resolved, &r) != NULL);
	check_int(r.called, ==, 0);
	wait_res(base, &r);
	check_int(r.result, ==, DNS_ERR_NONE);
	check_int(r.type, ==, DNS_PTR);
	check_int(r.count, ==, 1);
	check_int(r.ttl, ==, 60);
	check_str(r.name, "a.test");

	memset(&r, 0, sizeof(r));
	memset(&in6, 0, sizeof(in6));
	in6.s6_addr[0] = 0xfd;
	in6.s6_addr[15] = 1;
	check(evdns_base_resolve_reverse_ipv6(dns, &in6, 0, resolved, &r) !=
	    NULL);
	wait_res(base, &r);
	check_int(r.result, ==, DNS_ERR_NONE);
	check_int(r.type, ==, DNS_PTR);
	check_str(r.name, "a.test");

	memset(&r, 0, sizeof(r));
	in.s_addr = htonl(0x0a000002);
	check(evdns_base_resolve_reverse(dns, &in, 0, resolved, &r) != NULL);
	wait_res(base, &r);
	check_int(r.result, ==, DNS_ERR_NOTEXIST);
end:
	case_free(base, dns);
}

/* The search list and ndots, and DNS_QUERY_NO_SEARCH. */
static void
resolve_search(void)
{
	struct event_base *base = NULL;
	struct evdns_base *dns = NULL;
	struct res r;

	check(case_start(&base, &dns) == 0);
	evdns_base_search_add(dns, "corp.test");
	check(resolve_wait(base, dns, "host", 0, 0, &r) == 0);
	check_int(r.result, ==, DNS_ERR_NONE);
	check_int(r.addrs[3], ==, 7);
	check(resolve_wait(base, dns, "host", 0, DNS_QUERY_NO_SEARCH, &r) ==
	    0);
	check_int(r.result, ==, DNS_ERR_NOTEXIST);

	/* host.corp exists, and so does host.corp.test: with one dot and
	 * ndots 1 the name is tried as given first, with ndots 2 last. */
	evdns_base_search_clear(dns);
	evdns_base_search_add(dns, "test");
	check(resolve_wait(base, dns, "host.corp", 0, 0, &r) == 0);
	check_int(r.addrs[3], ==, 5);
	evdns_base_search_ndots_set(dns, 2);
	check(resolve_wait(base, dns, "host.corp", 0, 0, &r) == 0);
	check_int(r.addrs[3], ==, 7);
	check_int(evdns_base_set_option(dns, "ndots:", "1"), ==, 0);
	check(resolve_wait(base, dns, "host.corp", 0, 0, &r) == 0);
	check_int(r.addrs[3], ==, 5);
end:
	case_free(base, dns);
}

/* Cancelling calls back from the loop with DNS_ERR_CANCEL, with or
 * without the base given; freeing the base with fail_requests calls back
 * with DNS_ERR_SHUTDOWN, without it never. */
static void
resolve_cancel_and_free(void)
{
	struct event_base *base = NULL;
	struct evdns_base *dns = NULL;
	struct evdns_request *req;
	struct res r1, r2, r3;

	check(case_start(&base, &dns) == 0);
	evdns_base_set_option(dns, "timeout:", "5");
	memset(&r1, 0, sizeof(r1));
	memset(&r2, 0, sizeof(r2));
	memset(&r3, 0, sizeof(r3));
	req = evdns_base_resolve_ipv4(dns, "quiet.test", 0, resolved, &r1);
	check(req != NULL);
	evdns_cancel_request(dns, req);
	check_int(r1.called, ==, 0);
	req = evdns_base_resolve_ipv6(dns, "quiet.test", 0, resolved, &r2);
	check(req != NULL);
	evdns_cancel_request(NULL, req);
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_int(r1.called, ==, 1);
	check_int(r1.result, ==, DNS_ERR_CANCEL);
	check_int(r1.type, ==, 0);
	check(r1.null_addrs);
	check_int(r2.called, ==, 1);
	check_int(r2.result, ==, DNS_ERR_CANCEL);

	memset(&r1, 0, sizeof(r1));
	check(evdns_base_resolve_ipv4(dns, "quiet.test", 0, resolved, &r1) !=
	    NULL);
	evdns_base_free(dns, 1);
	dns = test_dns_base(base, 0);
	evdns_base_set_option(dns, "timeout:", "5");
	check(evdns_base_resolve_ipv4(dns, "quiet.test", 0, resolved, &r3) !=
	    NULL);
	evdns_base_free(dns, 0);
	dns = NULL;
	check_int(r1.called, ==, 0);
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_int(r1.called, ==, 1);
	check_int(r1.result, ==, DNS_ERR_SHUTDOWN);
	check_int(r3.called, ==, 0);
end:
	case_free(base, dns);
}

/* max-inflight: 1 holds the second question until the first is over. */
static void
max_inflight(void)
{
	struct event_base *base = NULL;
	struct evdns_base *dns = NULL;
	struct res r1, r2;

	check(case_start(&base, &dns) == 0);
	check_int(evdns_base_set_option(dns, "max-inflight:", "x"), ==, -1);
	check_int(evdns_base_set_option(dns, "max-inflight:", "1"), ==, 0);
	memset(&r1, 0, sizeof(r1));
	memset(&r2, 0, sizeof(r2));
	res_calls = 0;
	check(evdns_base_resolve_ipv4(dns, "quiet.test", 0, resolved, &r1) !=
	    NULL);
	check(evdns_base_resolve_ipv4(dns, "a.test", 0, resolved, &r2) !=
	    NULL);
	wait_res(base, &r2);
	check_int(r1.called, ==, 1);
	check_int(r1.result, ==, DNS_ERR_TIMEOUT);
	check_int(r1.order, ==, 1);
	check_int(r2.result, ==, DNS_ERR_NONE);
	check_int(r2.order, ==, 2);
end:
	case_free(base, dns);
}

/* A nameserver of the test's own: counts the questions it gets and, once
 * told to, answers each with NXDOMAIN. */
struct fake_ns {
	evutil_socket_t fd;
	struct event *ev;
	int port;
	int count;
	int answer;
};

static void
fake_ns_read(evutil_socket_t fd, short what, void *arg)
{
	struct fake_ns *ns = arg;
	unsigned char q[512];
	struct sockaddr_storage from;
	socklen_t fl = sizeof(from);
	int n;

	(void)what;
	while ((n = (int)recvfrom(fd, q, sizeof(q), 0,
	    (struct sockaddr *)&from, &fl)) >= 12) {
		ns->count++;
		if (ns->answer) {
			q[2] |= 0x80;
			q[3] = 0x83;
			sendto(fd, q, n, 0, (struct sockaddr *)&from, fl);
		}
		fl = sizeof(from);
	}
}

static int
fake_ns_start(struct event_base *base, struct fake_ns *ns)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	memset(ns, 0, sizeof(*ns));
	ns->fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (ns->fd < 0)
		return -1;
	evutil_make_socket_nonblocking(ns->fd);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(ns->fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    getsockname(ns->fd, (struct sockaddr *)&sin, &len) < 0)
		return -1;
	ns->port = ntohs(sin.sin_port);
	ns->ev = event_new(base, ns->fd, EV_READ | EV_PERSIST, fake_ns_read,
	    ns);
	return ns->ev ? event_add(ns->ev, NULL) : -1;
}

static void
fake_ns_stop(struct fake_ns *ns)
{
	if (ns->ev)
		event_free(ns->ev);
	if (ns->fd > 0)
		close(ns->fd);
	ns->ev = NULL;
	ns->fd = -1;
}

static int
add_port(struct evdns_base *dns, int port)
{
	char addr[64];

	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	return evdns_base_nameserver_ip_add(dns, addr);
}

/*
 * Two nameservers, the first silent: a question that runs out of
 * attempts there marks it down, so the next ones go to the second only.
 * After initial-probe-timeout it is probed; once it answers the probe it
 * is back in the rotation.
 */
static void
nameserver_down_and_up(void)
{
	struct event_base *base = NULL;
	struct evdns_base *dns = NULL;
	struct fake_ns ns = { -1, NULL, 0, 0, 0 };
	struct timeval tv = { 0, 150000 };
	struct res r, r2;
	long long t0;

	check(start_server() == 0);
	base = event_base_new();
	check(fake_ns_start(base, &ns) == 0);
	dns = evdns_base_new(base, 0);
	check_int(add_port(dns, ns.port), ==, 0);
	check_int(add_port(dns, server_port), ==, 0);
	evdns_base_set_option(dns, "timeout:", "0.2");
	evdns_base_set_option(dns, "attempts:", "1");
	check_int(evdns_base_set_option(dns, "initial-probe-timeout:", "0"),
	    ==, -1);
	check_int(evdns_base_set_option(dns, "initial-probe-timeout:", "0.4"),
	    ==, 0);

	check(resolve_wait(base, dns, "a.test", 0, 0, &r) == 0);
	check_int(r.result, ==, DNS_ERR_TIMEOUT);
	check_int(ns.count, ==, 1);
	check(resolve_wait(base, dns, "a.test", 0, 0, &r) == 0);
	check_int(r.result, ==, DNS_ERR_NONE);
	check(resolve_wait(base, dns, "a.test", 0, 0, &r) == 0);
	check_int(r.result, ==, DNS_ERR_NONE);
	check_int(ns.count, ==, 1);

	/* The probe comes; answering it brings the nameserver back. */
	ns.answer = 1;
	t0 = check_now_ms();
	while (ns.count < 2 && check_now_ms() - t0 < 3000 * check_time_scale())
		event_base_loop(base, EVLOOP_ONCE);
	check_int(ns.count, ==, 2);
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);

	/* Now each nameserver gets one of two questions. */
	check(resolve_wait(base, dns, "a.test", 0, 0, &r) == 0);
	check(resolve_wait(base, dns, "a.test", 0, 0, &r2) == 0);
	check_int(ns.count, ==, 3);
	check_int(r.result + r2.result, ==, DNS_ERR_NOTEXIST);
end:
	if (dns)
		evdns_base_free(dns, 0);
	fake_ns_stop(&ns);
	if (base)
		event_base_free(base);
	stop_server();
}

/*
 * max-timeouts: a nameserver that lets more than that many transmissions
 * in a row time out is marked down (and so probed) while the question is
 * still being retried; here the probe arrives before the question's last
 * attempt runs out.
 */
static void
max_timeouts(void)
{
	struct event_base *base = NULL;
	struct evdns_base *dns = NULL;
	struct fake_ns ns = { -1, NULL, 0, 0, 0 };
	struct res r;
	char secs[32];

	base = event_base_new();
	check(fake_ns_start(base, &ns) == 0);
	dns = evdns_base_new(base, 0);
	check_int(add_port(dns, ns.port), ==, 0);
	/* The probe comes at 2 timeouts plus a third, the last attempt ends
	 * at 3 timeouts. */
	snprintf(secs, sizeof(secs), "%.1f", 0.3 * check_time_scale());
	evdns_base_set_option(dns, "timeout:", secs);
	evdns_base_set_option(dns, "attempts:", "3");
	check_int(evdns_base_set_option(dns, "max-timeouts:", "x"), ==, -1);
	check_int(evdns_base_set_option(dns, "max-timeouts:", "1"), ==, 0);
	snprintf(secs, sizeof(secs), "%.1f", 0.1 * check_time_scale());
	evdns_base_set_option(dns, "initial-probe-timeout:", secs);
	check(resolve_wait(base, dns, "a.test", 0, 0, &r) == 0);
	check_int(r.result, ==, DNS_ERR_TIMEOUT);
	/* Three transmissions and the probe. */
	check_int(ns.count, ==, 4);
end:
	if (dns)
		evdns_base_free(dns, 0);
	fake_ns_stop(&ns);
	if (base)
		event_base_free(base);
}

/* The other options: what parses, and nameservers still added after
 * bind-to and the socket buffer sizes. */
static void
more_options(void)
{
	struct event_base *base = event_base_new();
	struct evdns_base *dns = evdns_base_new(base, 0);

	check_int(evdns_base_set_option(dns, "bind-to:", "nonsense"), ==, -1);
	check_int(evdns_base_set_option(dns, "bind-to:", "127.0.0.1"), ==, 0);
	check_int(evdns_base_set_option(dns, "so-rcvbuf:", "x"), ==, -1);
	check_int(evdns_base_set_option(dns, "so-rcvbuf:", "65536"), ==, 0);
	check_int(evdns_base_set_option(dns, "so-sndbuf:", "65536"), ==, 0);
	check_int(evdns_base_set_option(dns, "no-such-option:", "x"), ==, 0);
	check_int(evdns_base_set_option(dns, "ndots:", "-1"), ==, -1);
	check_int(evdns_base_set_option(dns, "attempts", "2"), ==, 0);
	check_int(evdns_base_nameserver_ip_add(dns, "127.0.0.1:9"), ==, 0);
	check_int(evdns_base_count_nameservers(dns), ==, 1);
end:
	case_free(base, dns);
}

static int warnings;

static void
dns_log(int is_warning, const char *msg)
{
	(void)msg;
	if (is_warning)
		warnings++;
}

static int id_fn_calls;

static ev_uint16_t
id_fn(void)
{
	id_fn_calls++;
	return 1234;
}

static void
bytes_fn(char *buf, size_t n)
{
	id_fn_calls++;
	memset(buf, 0, n);
}

/* evdns_set_log_fn takes the resolver's warnings; the transaction id
 * and random byte hooks are accepted and never called (2.1 ignores
 * them). */
static void
log_and_hooks(void)
{
	struct event_base *base = NULL;
	struct evdns_base *dns = NULL;
	struct res r;

	check(case_start(&base, &dns) == 0);
	warnings = 0;
	evdns_set_log_fn(dns_log);
	check_int(evdns_base_nameserver_ip_add(dns, "not an address"), ==, 4);
	evdns_set_log_fn(NULL);
	check_int(warnings, >=, 1);
	evdns_set_transaction_id_fn(id_fn);
	evdns_set_random_bytes_fn(bytes_fn);
	check(resolve_wait(base, dns, "a.test", 0, 0, &r) == 0);
	check_int(r.result, ==, DNS_ERR_NONE);
	check_int(id_fn_calls, ==, 0);
end:
	evdns_set_log_fn(NULL);
	evdns_set_transaction_id_fn(NULL);
	evdns_set_random_bytes_fn(NULL);
	case_free(base, dns);
}

/* The old global resolver on the base of event_init(). The calls that
 * configure it make it; evdns_shutdown frees it. */
static void
global_resolver(void)
{
	struct event_base *base = NULL;
	struct res r;
	struct in_addr in;
	struct in6_addr in6;
	char addr[64], path[] = "/tmp/test_dns_resolv_XXXXXX";
	FILE *f;
	int fd = -1;

	check(start_server() == 0);
	base = event_init();
	check(evdns_get_global_base() == NULL);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", server_port);
	check_int(evdns_nameserver_ip_add(addr), ==, 0);
	check(evdns_get_global_base() != NULL);
	check_int(evdns_count_nameservers(), ==, 1);
	check_int(evdns_set_option("timeout:", "0.2", 0), ==, 0);
	check_int(evdns_set_option("attempts:", "x", 0), ==, -1);

	memset(&r, 0, sizeof(r));
	check_int(evdns_resolve_ipv4("a.test", 0, resolved, &r), ==, 0);
	wait_res(base, &r);
	check_int(r.result, ==, DNS_ERR_NONE);
	check_int(r.addrs[3], ==, 1);
	memset(&r, 0, sizeof(r));
	check_int(evdns_resolve_ipv6("a.test", 0, resolved, &r), ==, 0);
	wait_res(base, &r);
	check_int(r.type, ==, DNS_IPv6_AAAA);
	memset(&r, 0, sizeof(r));
	in.s_addr = htonl(0x0a000001);
	check_int(evdns_resolve_reverse(&in, 0, resolved, &r), ==, 0);
	wait_res(base, &r);
	check_str(r.name, "a.test");
	memset(&r, 0, sizeof(r));
	memset(&in6, 0, sizeof(in6));
	in6.s6_addr[0] = 0xfd;
	in6.s6_addr[15] = 1;
	check_int(evdns_resolve_reverse_ipv6(&in6, 0, resolved, &r), ==, 0);
	wait_res(base, &r);
	check_str(r.name, "a.test");

	evdns_search_add("corp.test");
	evdns_search_ndots_set(1);
	memset(&r, 0, sizeof(r));
	check_int(evdns_resolve_ipv4("host", 0, resolved, &r), ==, 0);
	wait_res(base, &r);
	check_int(r.addrs[3], ==, 7);
	evdns_search_clear();

	/* Suspended: a question waits for a nameserver and evdns_resume. */
	check_int(evdns_clear_nameservers_and_suspend(), ==, 0);
	check_int(evdns_count_nameservers(), ==, 0);
	memset(&r, 0, sizeof(r));
	check_int(evdns_resolve_ipv4("a.test", 0, resolved, &r), ==, 0);
	check_int(event_base_loop(base, EVLOOP_NONBLOCK), ==, 1);
	check_int(r.called, ==, 0);
	fd = mkstemp(path);
	check(fd >= 0);
	f = fdopen(fd, "w");
	fprintf(f, "nameserver 127.0.0.1:%d\noptions attempts:1\n",
	    server_port);
	fclose(f);
	check_int(evdns_resolv_conf_parse(DNS_OPTIONS_ALL &
	    ~DNS_OPTION_HOSTSFILE, path), ==, 0);
	check_int(evdns_count_nameservers(), ==, 1);
	check_int(evdns_resume(), ==, 0);
	wait_res(base, &r);
	check_int(r.result, ==, DNS_ERR_NONE);

	check_int(evdns_nameserver_add(htonl(0x7f000001)), ==, 0);
	check_int(evdns_count_nameservers(), ==, 2);
	evdns_shutdown(0);
	check(evdns_get_global_base() == NULL);
end:
	if (fd >= 0)
		unlink(path);
	evdns_shutdown(0);
	if (base)
		event_base_free(base);
	stop_server();
}

static const struct check_case cases[] = {
	{ "resolve_a", resolve_a },
	{ "resolve_absolute_name", resolve_absolute_name },
	{ "resolve_unspec", resolve_unspec },
	{ "answers_and_failures", answers_and_failures },
	{ "cancel", cancel },
	{ "free_fails_requests", free_fails_requests },
	{ "numeric_host", numeric_host },
	{ "numeric_entries", numeric_entries },
	{ "hosts_file", hosts_file },
	{ "search_domain", search_domain },
	{ "resolv_conf", resolv_conf },
	{ "idle_bases", idle_bases },
	{ "error_strings", error_strings },
	{ "connect_by_name", connect_by_name },
	{ "connect_cancelled", connect_cancelled },
	{ "resolve_addresses", resolve_addresses },
	{ "resolve_reverse", resolve_reverse },
	{ "resolve_search", resolve_search },
	{ "resolve_cancel_and_free", resolve_cancel_and_free },
	{ "max_inflight", max_inflight },
	{ "nameserver_down_and_up", nameserver_down_and_up },
	{ "max_timeouts", max_timeouts },
	{ "more_options", more_options },
	{ "log_and_hooks", log_and_hooks },
	{ "global_resolver", global_resolver },
	{ NULL, NULL }
};

int
main(int argc, char **argv)
{
	return check_main(cases, argc, argv);
}
