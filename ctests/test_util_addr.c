/*
 * test_util_addr: address text of event2/util.h: evutil_inet_pton,
 * evutil_inet_pton_scope, evutil_inet_ntop, evutil_parse_sockaddr_port
 * and evutil_sockaddr_cmp, including libevent's own leniencies.
 */
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/util.h>

#include "check.h"

/* Parses text as IPv4 and formats the result back; NULL when refused. */
static const char *
v4_round(const char *text, char *out, size_t len)
{
	struct in_addr a;

	if (evutil_inet_pton(AF_INET, text, &a) != 1)
		return NULL;
	return evutil_inet_ntop(AF_INET, &a, out, len);
}

/* The same for IPv6. */
static const char *
v6_round(const char *text, char *out, size_t len)
{
	struct in6_addr a;

	if (evutil_inet_pton(AF_INET6, text, &a) != 1)
		return NULL;
	return evutil_inet_ntop(AF_INET6, &a, out, len);
}

/* IPv4 text: four decimal numbers up to 255, scanf's leniencies kept. */
static void
pton_ipv4(void)
{
	struct in_addr a;
	char buf[64];

	check_int(evutil_inet_pton(AF_INET, "127.0.0.1", &a), ==, 1);
	check_int(a.s_addr, ==, htonl(0x7f000001));
	check_str(v4_round("1.2.3.4", buf, sizeof(buf)), "1.2.3.4");
	check_str(v4_round("255.255.255.255", buf, sizeof(buf)),
	    "255.255.255.255");
	/* Leading zeros are decimal, spaces and a plus sign pass. */
	check_str(v4_round("010.0.0.1", buf, sizeof(buf)), "10.0.0.1");
	check_str(v4_round(" 1. 2.+3.4", buf, sizeof(buf)), "1.2.3.4");
	check_int(evutil_inet_pton(AF_INET, "256.1.1.1", &a), ==, 0);
	/* A number past 32 bits keeps its low 32 bits, as scanf's %u. */
	check_str(v4_round("4294967297.0.0.1", buf, sizeof(buf)), "1.0.0.1");
	check_int(evutil_inet_pton(AF_INET, "99999999999999999999.0.0.1", &a),
	    ==, 0);
	check_int(evutil_inet_pton(AF_INET, "1.2.3", &a), ==, 0);
	check_int(evutil_inet_pton(AF_INET, "1.2.3.4.5", &a), ==, 0);
	check_int(evutil_inet_pton(AF_INET, "1.2.3.4 ", &a), ==, 0);
	check_int(evutil_inet_pton(AF_INET, "1.2.3.x", &a), ==, 0);
	check_int(evutil_inet_pton(AF_INET, "", &a), ==, 0);
	check_int(evutil_inet_pton(AF_INET, "-1.2.3.4", &a), ==, 0);
	check_int(evutil_inet_pton(AF_INET, "localhost", &a), ==, 0);
	/* Another family is -1. */
	check_int(evutil_inet_pton(AF_UNIX, "1.2.3.4", &a), ==, -1);
end:
	;
}

/* IPv6 text, with "::", an embedded IPv4 address and the failures. */
static void
pton_ipv6(void)
{
	struct in6_addr a;
	char buf[64];
	static const unsigned char loop[16] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1
	};

	check_int(evutil_inet_pton(AF_INET6, "::1", &a), ==, 1);
	check_mem(a.s6_addr, loop, 16);
	check_str(v6_round("::", buf, sizeof(buf)), "::");
	check_str(v6_round("1::", buf, sizeof(buf)), "1::");
	check_str(v6_round("1:2:3:4:5:6:7:8", buf, sizeof(buf)),
	    "1:2:3:4:5:6:7:8");
	check_str(v6_round("FE80:0:0:0:0:0:0:AB", buf, sizeof(buf)),
	    "fe80::ab");
	check_str(v6_round("0001:0002::0003", buf, sizeof(buf)), "1:2::3");
	/* One zero group is not shortened; the first longest run is. */
	check_str(v6_round("1:0:2:3:4:5:6:7", buf, sizeof(buf)),
	    "1:0:2:3:4:5:6:7");
	check_str(v6_round("1:0:0:2:0:0:3:4", buf, sizeof(buf)),
	    "1::2:0:0:3:4");
	check_str(v6_round("1:0:0:2:0:0:0:4", buf, sizeof(buf)),
	    "1:0:0:2::4");
	/* Mapped and compatible IPv4 forms print a dotted quad. */
	check_str(v6_round("::ffff:1.2.3.4", buf, sizeof(buf)),
	    "::ffff:1.2.3.4");
	check_str(v6_round("::FFFF:102:304", buf, sizeof(buf)),
	    "::ffff:1.2.3.4");
	check_str(v6_round("::1.2.3.4", buf, sizeof(buf)), "::1.2.3.4");
	check_str(v6_round("1:2:3:4:5:6:1.2.3.4", buf, sizeof(buf)),
	    "1:2:3:4:5:6:102:304");
	/* A group is read as strtol(..., 16) reads it, "0x" included, and
	 * may not span more than four characters. */
	check_str(v6_round("0x1::", buf, sizeof(buf)), "1::");
	check_str(v6_round("0xab::", buf, sizeof(buf)), "ab::");
	check_int(evutil_inet_pton(AF_INET6, "0xabc::", &a), ==, 0);
	check_int(evutil_inet_pton(AF_INET6, "0x::", &a), ==, 0);
	check_int(evutil_inet_pton(AF_INET6, "1:2:3:4:5:6:7:8:9", &a), ==, 0);
	check_int(evutil_inet_pton(AF_INET6, "1:2:3:4:5:6:7", &a), ==, 0);
	check_int(evutil_inet_pton(AF_INET6, "1::2::3", &a), ==, 0);
	check_int(evutil_inet_pton(AF_INET6, "1:::2", &a), ==, 0);
	check_int(evutil_inet_pton(AF_INET6, ":1", &a), ==, 0);
	check_int(evutil_inet_pton(AF_INET6, "12345::", &a), ==, 0);
	check_int(evutil_inet_pton(AF_INET6, "g::", &a), ==, 0);
	check_int(evutil_inet_pton(AF_INET6, "::1.2.3", &a), ==, 0);
	check_int(evutil_inet_pton(AF_INET6, "::1.2.3.256", &a), ==, 0);
	check_int(evutil_inet_pton(AF_INET6, ".1.2.3.4", &a), ==, 0);
	check_int(evutil_inet_pton(AF_INET6, "", &a), ==, 0);
	check_int(evutil_inet_pton(AF_INET6, "1.2.3.4", &a), ==, 0);
end:
	;
}

/* A zone after '%': an interface name or a number. */
static void
pton_scope(void)
{
	struct in6_addr a;
	struct in_addr a4;
	unsigned idx = 99;
	unsigned lo = if_nametoindex("lo");

	check_int(evutil_inet_pton_scope(AF_INET6, "fe80::1%7", &a, &idx),
	    ==, 1);
	check_int(idx, ==, 7);
	check_int(a.s6_addr[0], ==, 0xfe);
	check_int(a.s6_addr[15], ==, 1);
	idx = 99;
	check_int(evutil_inet_pton_scope(AF_INET6, "::1", &a, &idx), ==, 1);
	check_int(idx, ==, 0);
	if (lo != 0) {
		check_int(evutil_inet_pton_scope(AF_INET6, "fe80::2%lo", &a,
		    &idx), ==, 1);
		check_int(idx, ==, lo);
	}
	/* An empty zone is index 0; an unknown name is refused. */
	idx = 99;
	check_int(evutil_inet_pton_scope(AF_INET6, "fe80::1%", &a, &idx),
	    ==, 1);
	check_int(idx, ==, 0);
	check_int(evutil_inet_pton_scope(AF_INET6, "fe80::1%nonexistent0",
	    &a, &idx), ==, 0);
	check_int(evutil_inet_pton_scope(AF_INET6, "fe80::1%7x", &a, &idx),
	    ==, 0);
	/* The number is read as strtoul() reads it. */
	check_int(evutil_inet_pton_scope(AF_INET6, "fe80::1% 7", &a, &idx),
	    ==, 1);
	check_int(idx, ==, 7);
	check_int(evutil_inet_pton_scope(AF_INET6, "fe80::1%-1", &a, &idx),
	    ==, 1);
	check_int(idx, ==, 0xffffffffu);
	check_int(evutil_inet_pton_scope(AF_INET6, "fe80::1% ", &a, &idx),
	    ==, 0);
	/* A bad address after a good zone: 0, the index still stored. */
	idx = 99;
	check_int(evutil_inet_pton_scope(AF_INET6, "zz%7", &a, &idx), ==, 0);
	check_int(idx, ==, 7);
	/* IPv4 has no zone. */
	idx = 99;
	check_int(evutil_inet_pton_scope(AF_INET, "1.2.3.4", &a4, &idx),
	    ==, 1);
	check_int(idx, ==, 0);
	check_int(evutil_inet_pton_scope(AF_INET, "1.2.3.4%1", &a4, &idx),
	    ==, 0);
end:
	;
}

/* ntop's buffer sizes and families. */
static void
ntop_buffers(void)
{
	struct in_addr a;
	struct in6_addr a6;
	char buf[32];

	a.s_addr = htonl(0x01020304);
	memset(buf, 'x', sizeof(buf));
	/* "1.2.3.4" needs 8 bytes; 7 is too few but gets a truncated copy. */
	check_ptr(evutil_inet_ntop(AF_INET, &a, buf, 8), ==, buf);
	check_str(buf, "1.2.3.4");
	memset(buf, 'x', sizeof(buf));
	check_ptr(evutil_inet_ntop(AF_INET, &a, buf, 7), ==, NULL);
	check_str(buf, "1.2.3.");
	check_ptr(evutil_inet_ntop(AF_INET, &a, buf, 0), ==, NULL);

	check_int(evutil_inet_pton(AF_INET6, "1::2", &a6), ==, 1);
	/* "1::2" is 4 characters: 5 bytes fit; with 4 the last one is cut;
	 * with 3 nothing is written. */
	memset(buf, 'x', sizeof(buf));
	check_ptr(evutil_inet_ntop(AF_INET6, &a6, buf, 5), ==, buf);
	check_str(buf, "1::2");
	memset(buf, 'x', sizeof(buf));
	check_ptr(evutil_inet_ntop(AF_INET6, &a6, buf, 4), ==, buf);
	check_str(buf, "1::");
	memset(buf, 'x', sizeof(buf));
	check_ptr(evutil_inet_ntop(AF_INET6, &a6, buf, 3), ==, NULL);
	check_int(buf[0], ==, 'x');

	check_ptr(evutil_inet_ntop(AF_UNIX, &a, buf, sizeof(buf)), ==, NULL);
end:
	;
}

/* Parses text into a zeroed-then-filled sockaddr_storage. */
static int
parse(const char *text, struct sockaddr_storage *ss, int *len)
{
	memset(ss, 0xaa, sizeof(*ss));
	*len = (int)sizeof(*ss);
	return evutil_parse_sockaddr_port(text, (struct sockaddr *)ss, len);
}

/* The accepted forms of evutil_parse_sockaddr_port. */
static void
parse_forms(void)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	unsigned char *raw = (unsigned char *)&ss;
	char buf[64];
	int len;
	size_t i;

	check_int(parse("1.2.3.4", &ss, &len), ==, 0);
	check_int(len, ==, sizeof(struct sockaddr_in));
	check_int(sin->sin_family, ==, AF_INET);
	check_int(sin->sin_port, ==, 0);
	check_int(sin->sin_addr.s_addr, ==, htonl(0x01020304));
	/* The whole buffer given was zeroed before the address went in. */
	for (i = sizeof(struct sockaddr_in); i < sizeof(ss); i++)
		check_int(raw[i], ==, 0);

	check_int(parse("1.2.3.4:80", &ss, &len), ==, 0);
	check_int(ntohs(sin->sin_port), ==, 80);
	check_int(parse("127.0.0.1:65535", &ss, &len), ==, 0);
	check_int(ntohs(sin->sin_port), ==, 65535);

	check_int(parse("[::1]:80", &ss, &len), ==, 0);
	check_int(len, ==, sizeof(struct sockaddr_in6));
	check_int(sin6->sin6_family, ==, AF_INET6);
	check_int(ntohs(sin6->sin6_port), ==, 80);
	check_int(sin6->sin6_scope_id, ==, 0);
	check(IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr));

	check_int(parse("::1", &ss, &len), ==, 0);
	check_int(len, ==, sizeof(struct sockaddr_in6));
	check_int(sin6->sin6_port, ==, 0);
	check_int(parse("[ffff::1]", &ss, &len), ==, 0);
	check_str(evutil_inet_ntop(AF_INET6, &sin6->sin6_addr, buf,
	    sizeof(buf)), "ffff::1");
	check_int(parse("[fe80::1%3]:443", &ss, &len), ==, 0);
	check_int(sin6->sin6_scope_id, ==, 3);
	check_int(ntohs(sin6->sin6_port), ==, 443);
	/* Text after ']' that is not ":port" is ignored. */
	check_int(parse("[::1]junk", &ss, &len), ==, 0);
	check_int(sin6->sin6_port, ==, 0);
	/* A colon after the last group passes. */
	check_int(parse("::1:80:", &ss, &len), ==, 0);
	check_int(len, ==, sizeof(struct sockaddr_in6));
	/* The port is read as atoi() reads it. */
	check_int(parse("1.2.3.4:80x", &ss, &len), ==, 0);
	check_int(ntohs(sin->sin_port), ==, 80);
	check_int(parse("1.2.3.4: 81", &ss, &len), ==, 0);
	check_int(ntohs(sin->sin_port), ==, 81);
end:
	;
}

/* What evutil_parse_sockaddr_port refuses. */
static void
parse_failures(void)
{
	struct sockaddr_storage ss;
	struct sockaddr_in sin;
	char longtext[200];
	int len;

	check_int(parse("1.2.3.4:0", &ss, &len), ==, -1);
	check_int(parse("1.2.3.4:65536", &ss, &len), ==, -1);
	check_int(parse("1.2.3.4:-1", &ss, &len), ==, -1);
	check_int(parse("1.2.3.4:", &ss, &len), ==, -1);
	check_int(parse("1.2.3.4:http", &ss, &len), ==, -1);
	check_int(parse("[::1]:0", &ss, &len), ==, -1);
	check_int(parse("[::1", &ss, &len), ==, -1);
	check_int(parse("[1.2.3.4]:80", &ss, &len), ==, -1);
	check_int(parse("1::2::3", &ss, &len), ==, -1);
	check_int(parse("1.2.3:80", &ss, &len), ==, -1);
	check_int(parse("localhost:80", &ss, &len), ==, -1);
	check_int(parse("", &ss, &len), ==, -1);
	check_int(parse(":80", &ss, &len), ==, -1);
	memset(longtext, '1', sizeof(longtext));
	longtext[150] = ':';
	longtext[151] = '8';
	longtext[152] = '\0';
	check_int(parse(longtext, &ss, &len), ==, -1);

	/* Too small an output: -1, and the length is left alone. */
	len = (int)sizeof(sin) - 1;
	check_int(evutil_parse_sockaddr_port("1.2.3.4", (struct sockaddr *)&sin,
	    &len), ==, -1);
	check_int(len, ==, sizeof(sin) - 1);
	len = (int)sizeof(sin);
	check_int(evutil_parse_sockaddr_port("::1", (struct sockaddr *)&sin,
	    &len), ==, -1);
	check_int(len, ==, sizeof(sin));
	check_int(evutil_parse_sockaddr_port("1.2.3.4", (struct sockaddr *)&sin,
	    &len), ==, 0);
end:
	;
}

/* Builds an IPv4 or IPv6 sockaddr from text. */
static struct sockaddr *
sa(const char *text, struct sockaddr_storage *ss)
{
	int len;

	if (parse(text, ss, &len) != 0)
		return NULL;
	return (struct sockaddr *)ss;
}

/* Family first, then address, then (if asked) port. */
static void
sockaddr_cmp(void)
{
	struct sockaddr_storage a, b;
	struct sockaddr_un_like {
		sa_family_t family;
		char path[30];
	} u1, u2;

	check_int(evutil_sockaddr_cmp(sa("1.2.3.4:80", &a), sa("1.2.3.4:80",
	    &b), 1), ==, 0);
	check_int(evutil_sockaddr_cmp(sa("1.2.3.4:80", &a), sa("1.2.3.4:81",
	    &b), 0), ==, 0);
	check_int(evutil_sockaddr_cmp(sa("1.2.3.4:80", &a), sa("1.2.3.4:81",
	    &b), 1), !=, 0);
	check_int(evutil_sockaddr_cmp(sa("1.2.3.4:80", &a), sa("1.2.3.5:80",
	    &b), 1), <, 0);
	check_int(evutil_sockaddr_cmp(sa("1.2.3.5:80", &a), sa("1.2.3.4:80",
	    &b), 0), >, 0);
	/* IPv4 addresses compare as the stored integer: on a little-endian
	 * machine the last byte weighs most. */
	check_int(evutil_sockaddr_cmp(sa("2.0.0.1", &a), sa("1.0.0.2",
	    &b), 0), ==, -1);
	/* Ports compare as stored, in network order. */
	check_int(evutil_sockaddr_cmp(sa("1.1.1.1:256", &a), sa("1.1.1.1:1",
	    &b), 1), ==, 1 - 256);
	check_int(evutil_sockaddr_cmp(sa("[::1]:80", &a), sa("[::1]:80", &b),
	    1), ==, 0);
	check_int(evutil_sockaddr_cmp(sa("[::1]:80", &a), sa("[::2]:80", &b),
	    1), <, 0);
	check_int(evutil_sockaddr_cmp(sa("[::1]:80", &a), sa("[::1]:81", &b),
	    0), ==, 0);
	check_int(evutil_sockaddr_cmp(sa("[::1]:80", &a), sa("[::1]:81", &b),
	    1), !=, 0);
	/* Different families: the difference of the family numbers. */
	check_int(evutil_sockaddr_cmp(sa("1.2.3.4", &a), sa("::1", &b), 1),
	    ==, AF_INET - AF_INET6);
	/* Other families never compare equal. */
	memset(&u1, 0, sizeof(u1));
	memset(&u2, 0, sizeof(u2));
	u1.family = u2.family = AF_UNIX;
	check_int(evutil_sockaddr_cmp((struct sockaddr *)&u1,
	    (struct sockaddr *)&u2, 1), ==, 1);
end:
	;
}

static const struct check_case cases[] = {
	{"pton_ipv4", pton_ipv4},
	{"pton_ipv6", pton_ipv6},
	{"pton_scope", pton_scope},
	{"ntop_buffers", ntop_buffers},
	{"parse_forms", parse_forms},
	{"parse_failures", parse_failures},
	{"sockaddr_cmp", sockaddr_cmp},
	{NULL, NULL}
};

int
main(int argc, char **argv)
{
	return check_main(cases, argc, argv);
}
