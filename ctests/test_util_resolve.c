/*
 * test_util_resolve: the blocking resolver of event2/util.h:
 * evutil_getaddrinfo, evutil_freeaddrinfo and evutil_gai_strerror. Only
 * numeric addresses, "localhost" and a name under .invalid are looked up.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/util.h>

#include "check.h"

static void
hints_init(struct evutil_addrinfo *h, int family, int socktype, int flags)
{
	memset(h, 0, sizeof(*h));
	h->ai_family = family;
	h->ai_socktype = socktype;
	h->ai_flags = flags;
}

static int
port_of(const struct evutil_addrinfo *ai)
{
	if (ai->ai_family == AF_INET)
		return ntohs(((struct sockaddr_in *)ai->ai_addr)->sin_port);
	return ntohs(((struct sockaddr_in6 *)ai->ai_addr)->sin6_port);
}

static int
count(const struct evutil_addrinfo *ai)
{
	int n = 0;

	for (; ai; ai = ai->ai_next)
		n++;
	return n;
}

/* A numeric IPv4 host and a numeric port, one socket type asked. */
static void
numeric_ipv4(void)
{
	struct evutil_addrinfo h, *ai = NULL;
	struct sockaddr_in *sin;

	hints_init(&h, AF_UNSPEC, SOCK_STREAM, 0);
	check_int(evutil_getaddrinfo("127.0.0.1", "8080", &h, &ai), ==, 0);
	check(ai != NULL);
	check_int(count(ai), ==, 1);
	check_int(ai->ai_family, ==, AF_INET);
	check_int(ai->ai_socktype, ==, SOCK_STREAM);
	check_int(ai->ai_protocol, ==, IPPROTO_TCP);
	check_int(ai->ai_addrlen, ==, sizeof(struct sockaddr_in));
	sin = (struct sockaddr_in *)ai->ai_addr;
	check_int(sin->sin_addr.s_addr, ==, htonl(INADDR_LOOPBACK));
	check_int(port_of(ai), ==, 8080);
end:
	if (ai)
		evutil_freeaddrinfo(ai);
}

/* No hints: any family, every socket type the C library offers. */
static void
no_hints(void)
{
	struct evutil_addrinfo *ai = NULL, *p;
	int stream = 0, dgram = 0;

	check_int(evutil_getaddrinfo("127.0.0.1", "9", NULL, &ai), ==, 0);
	check(ai != NULL);
	for (p = ai; p; p = p->ai_next) {
		check_int(p->ai_family, ==, AF_INET);
		check_int(port_of(p), ==, 9);
		if (p->ai_socktype == SOCK_STREAM)
			stream++;
		if (p->ai_socktype == SOCK_DGRAM)
			dgram++;
	}
	check_int(stream, ==, 1);
	check_int(dgram, ==, 1);
end:
	if (ai)
		evutil_freeaddrinfo(ai);
}

/* A numeric IPv6 host; no service gives port 0. */
static void
numeric_ipv6(void)
{
	struct evutil_addrinfo h, *ai = NULL;
	struct sockaddr_in6 *sin6;

	hints_init(&h, AF_INET6, SOCK_DGRAM, EVUTIL_AI_NUMERICHOST);
	check_int(evutil_getaddrinfo("::1", NULL, &h, &ai), ==, 0);
	check(ai != NULL);
	check_int(count(ai), ==, 1);
	check_int(ai->ai_family, ==, AF_INET6);
	check_int(ai->ai_protocol, ==, IPPROTO_UDP);
	sin6 = (struct sockaddr_in6 *)ai->ai_addr;
	check(IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr));
	check_int(port_of(ai), ==, 0);
end:
	if (ai)
		evutil_freeaddrinfo(ai);
}

/* With no host, AI_PASSIVE gives the any-address, else loopback. */
static void
passive_null_node(void)
{
	struct evutil_addrinfo h, *ai = NULL;
	struct sockaddr_in *sin;
	struct sockaddr_in6 *sin6;

	hints_init(&h, AF_INET, SOCK_STREAM, EVUTIL_AI_PASSIVE);
	check_int(evutil_getaddrinfo(NULL, "8080", &h, &ai), ==, 0);
	sin = (struct sockaddr_in *)ai->ai_addr;
	check_int(sin->sin_addr.s_addr, ==, htonl(INADDR_ANY));
	check_int(port_of(ai), ==, 8080);
	evutil_freeaddrinfo(ai);
	ai = NULL;

	hints_init(&h, AF_INET, SOCK_STREAM, 0);
	check_int(evutil_getaddrinfo(NULL, "8080", &h, &ai), ==, 0);
	sin = (struct sockaddr_in *)ai->ai_addr;
	check_int(sin->sin_addr.s_addr, ==, htonl(INADDR_LOOPBACK));
	evutil_freeaddrinfo(ai);
	ai = NULL;

	hints_init(&h, AF_INET6, SOCK_STREAM, EVUTIL_AI_PASSIVE);
	check_int(evutil_getaddrinfo(NULL, "1", &h, &ai), ==, 0);
	sin6 = (struct sockaddr_in6 *)ai->ai_addr;
	check(IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr));
	check_int(port_of(ai), ==, 1);
end:
	if (ai)
		evutil_freeaddrinfo(ai);
}

/* "localhost" resolves to a loopback address. */
static void
localhost(void)
{
	struct evutil_addrinfo h, *ai = NULL, *p;
	int loopback = 0;

	hints_init(&h, AF_UNSPEC, SOCK_STREAM, 0);
	check_int(evutil_getaddrinfo("localhost", "80", &h, &ai), ==, 0);
	for (p = ai; p; p = p->ai_next) {
		check_int(port_of(p), ==, 80);
		if (p->ai_family == AF_INET &&
		    ((struct sockaddr_in *)p->ai_addr)->sin_addr.s_addr ==
		    htonl(INADDR_LOOPBACK))
			loopback++;
		if (p->ai_family == AF_INET6 && IN6_IS_ADDR_LOOPBACK(
		    &((struct sockaddr_in6 *)p->ai_addr)->sin6_addr))
			loopback++;
	}
	check_int(loopback, >=, 1);
end:
	if (ai)
		evutil_freeaddrinfo(ai);
}

/* The error codes of the failures. */
static void
failures(void)
{
	struct evutil_addrinfo h, *ai = NULL;
	int err;

	/* Neither host nor service. */
	check_int(evutil_getaddrinfo(NULL, NULL, NULL, &ai), ==,
	    EVUTIL_EAI_NONAME);
	/* A name where only numbers are allowed. */
	hints_init(&h, AF_UNSPEC, SOCK_STREAM, EVUTIL_AI_NUMERICHOST);
	check_int(evutil_getaddrinfo("localhost", "80", &h, &ai), ==,
	    EVUTIL_EAI_NONAME);
	hints_init(&h, AF_UNSPEC, SOCK_STREAM, EVUTIL_AI_NUMERICSERV);
	check_int(evutil_getaddrinfo("127.0.0.1", "http", &h, &ai), ==,
	    EVUTIL_EAI_NONAME);
	/* An IPv6 literal asked as IPv4. */
	hints_init(&h, AF_INET, SOCK_STREAM, EVUTIL_AI_NUMERICHOST);
	err = evutil_getaddrinfo("::1", "80", &h, &ai);
	check(err == EVUTIL_EAI_NONAME || err == EVUTIL_EAI_ADDRFAMILY);
	/* An unknown family. */
	hints_init(&h, 12345, SOCK_STREAM, 0);
	check_int(evutil_getaddrinfo("127.0.0.1", "80", &h, &ai), ==,
	    EVUTIL_EAI_FAMILY);
	/* A port for a raw socket. */
	hints_init(&h, AF_INET, SOCK_RAW, 0);
	check_int(evutil_getaddrinfo("127.0.0.1", "80", &h, &ai), ==,
	    EVUTIL_EAI_SERVICE);
	/* A name that cannot exist. */
	hints_init(&h, AF_UNSPEC, SOCK_STREAM, 0);
	err = evutil_getaddrinfo("nonexistent.invalid", "80", &h, &ai);
	check(err == EVUTIL_EAI_NONAME || err == EVUTIL_EAI_AGAIN ||
	    err == EVUTIL_EAI_FAIL || err == EVUTIL_EAI_NODATA);
	check(ai == NULL);
end:
	if (ai)
		evutil_freeaddrinfo(ai);
}

/* libevent's private "allocated by us" hint bit is dropped, not refused. */
static void
private_flag_ignored(void)
{
	struct evutil_addrinfo h, *ai = NULL;

	hints_init(&h, AF_INET, SOCK_STREAM, (int)0x80000000u);
	check_int(evutil_getaddrinfo("127.0.0.1", "80", &h, &ai), ==, 0);
	check(ai != NULL);
	check_int(port_of(ai), ==, 80);
end:
	if (ai)
		evutil_freeaddrinfo(ai);
}

/* The texts of the error codes; unknown codes get the C library's. */
static void
gai_strerror_texts(void)
{
	check_str(evutil_gai_strerror(0), "No error");
	check_str(evutil_gai_strerror(EVUTIL_EAI_CANCEL), "Request canceled");
	check_str(evutil_gai_strerror(EVUTIL_EAI_NONAME),
	    "nodename nor servname provided, or not known");
	check_str(evutil_gai_strerror(EVUTIL_EAI_AGAIN),
	    "temporary failure in name resolution");
	check_str(evutil_gai_strerror(EVUTIL_EAI_FAIL),
	    "non-recoverable failure in name resolution");
	check_str(evutil_gai_strerror(EVUTIL_EAI_FAMILY),
	    "ai_family not supported");
	check_str(evutil_gai_strerror(EVUTIL_EAI_MEMORY),
	    "memory allocation failure");
	check_str(evutil_gai_strerror(EVUTIL_EAI_NODATA),
	    "no address associated with nodename");
	check_str(evutil_gai_strerror(EVUTIL_EAI_ADDRFAMILY),
	    "address family for nodename not supported");
	check_str(evutil_gai_strerror(EVUTIL_EAI_BADFLAGS),
	    "invalid value for ai_flags");
	check_str(evutil_gai_strerror(EVUTIL_EAI_SERVICE),
	    "servname not supported for ai_socktype");
	check_str(evutil_gai_strerror(EVUTIL_EAI_SOCKTYPE),
	    "ai_socktype not supported");
	check_str(evutil_gai_strerror(EVUTIL_EAI_SYSTEM), "system error");
	check_str(evutil_gai_strerror(-12345), gai_strerror(-12345));
	check_str(evutil_gai_strerror(EAI_OVERFLOW), gai_strerror(EAI_OVERFLOW));
end:
	;
}

static const struct check_case cases[] = {
	{"numeric_ipv4", numeric_ipv4},
	{"no_hints", no_hints},
	{"numeric_ipv6", numeric_ipv6},
	{"passive_null_node", passive_null_node},
	{"localhost", localhost},
	{"failures", failures},
	{"private_flag_ignored", private_flag_ignored},
	{"gai_strerror_texts", gai_strerror_texts},
	{NULL, NULL}
};

int
main(int argc, char **argv)
{
	return check_main(cases, argc, argv);
}
