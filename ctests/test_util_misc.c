/*
 * test_util_misc: the rest of event2/util.h: the secure random source,
 * the monotonic timer, RFC 1123 dates, evutil_strtoll, the ASCII
 * case-insensitive comparisons and the listen-socket options.
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/util.h>

#include "check.h"

/* Random bytes: init succeeds, buffers get filled, differently each time;
 * a device file is refused and added bytes are accepted silently. */
static void
secure_rng(void)
{
	unsigned char a[64], b[64], zero[64];
	char dev[] = "/dev/urandom";
	int i, all_equal = 1;

	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	memset(zero, 0, sizeof(zero));
	check_int(evutil_secure_rng_init(), ==, 0);
	evutil_secure_rng_get_bytes(a, sizeof(a));
	evutil_secure_rng_get_bytes(b, sizeof(b));
	check(memcmp(a, zero, sizeof(a)) != 0);
	check(memcmp(a, b, sizeof(a)) != 0);
	/* Asking for nothing touches nothing. */
	memcpy(b, a, sizeof(a));
	evutil_secure_rng_get_bytes(b, 0);
	check_mem(a, b, sizeof(a));
	/* Short requests fill exactly what was asked. */
	memset(b, 0x5a, sizeof(b));
	for (i = 0; i < 200; i++) {
		evutil_secure_rng_get_bytes(b, 3);
		if (b[0] != b[1] || b[1] != b[2])
			all_equal = 0;
	}
	check(!all_equal);
	for (i = 3; i < (int)sizeof(b); i++)
		check_int(b[i], ==, 0x5a);
	evutil_secure_rng_add_bytes("some entropy", 12);
	check_int(evutil_secure_rng_set_urandom_device_file(dev), ==, -1);
	check_int(evutil_secure_rng_init(), ==, 0);
	evutil_secure_rng_get_bytes(a, sizeof(a));
	check(memcmp(a, b, sizeof(a)) != 0);
end:
	;
}

static long long
tv_us(const struct timeval *tv)
{
	return (long long)tv->tv_sec * 1000000 + tv->tv_usec;
}

/* Each configuration reads a clock that moves forward. */
static void
monotonic_timer(void)
{
	static const int flags[] = {
		0, EV_MONOT_PRECISE, EV_MONOT_FALLBACK,
		EV_MONOT_PRECISE | EV_MONOT_FALLBACK
	};
	struct evutil_monotonic_timer *t = evutil_monotonic_timer_new();
	struct timeval a, b;
	size_t i;

	check(t != NULL);
	for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		check_int(evutil_configure_monotonic_time(t, flags[i]), ==, 0);
		check_int(evutil_gettime_monotonic(t, &a), ==, 0);
		usleep(30000);
		check_int(evutil_gettime_monotonic(t, &b), ==, 0);
		check_int(b.tv_usec, >=, 0);
		check_int(b.tv_usec, <, 1000000);
		check_int(tv_us(&b) - tv_us(&a), >=, 20000);
		check_int(tv_us(&b) - tv_us(&a), <,
		    2000000LL * check_time_scale());
	}
end:
	evutil_monotonic_timer_free(t);
}

/* A precise timer keeps pace with CLOCK_MONOTONIC; the fallback with the
 * time of day; a timer never configured reads the time of day as well. */
static void
monotonic_clocks(void)
{
	struct evutil_monotonic_timer *t = evutil_monotonic_timer_new();
	struct timeval tv, now;
	struct timespec ts;
	long long slack = 500000LL * check_time_scale();

	check(t != NULL);
	check_int(evutil_gettime_monotonic(t, &tv), ==, 0);
	gettimeofday(&now, NULL);
	check_int(tv_us(&now) - tv_us(&tv), <, slack);
	check_int(tv_us(&tv) - tv_us(&now), <, slack);

	check_int(evutil_configure_monotonic_time(t, EV_MONOT_PRECISE), ==, 0);
	check_int(evutil_gettime_monotonic(t, &tv), ==, 0);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	check_int(ts.tv_sec * 1000000LL + ts.tv_nsec / 1000 - tv_us(&tv), >=,
	    0);
	check_int(ts.tv_sec * 1000000LL + ts.tv_nsec / 1000 - tv_us(&tv), <,
	    slack);

	check_int(evutil_configure_monotonic_time(t, EV_MONOT_FALLBACK), ==, 0);
	check_int(evutil_gettime_monotonic(t, &tv), ==, 0);
	gettimeofday(&now, NULL);
	check_int(tv_us(&now) - tv_us(&tv), >=, 0);
	check_int(tv_us(&now) - tv_us(&tv), <, slack);
end:
	evutil_monotonic_timer_free(t);
}

/* Freeing NULL is harmless. */
static void
monotonic_free_null(void)
{
	evutil_monotonic_timer_free(NULL);
}

/* Dates are formatted like snprintf, from a tm or from the clock. */
static void
date_rfc1123(void)
{
	struct tm tm;
	char buf[64];
	time_t t = 784111777; /* Sun, 06 Nov 1994 08:49:37 GMT */
	int n;

	gmtime_r(&t, &tm);
	check_int(evutil_date_rfc1123(buf, sizeof(buf), &tm), ==, 29);
	check_str(buf, "Sun, 06 Nov 1994 08:49:37 GMT");
	/* Short buffers receive a truncated, terminated date. */
	memset(buf, 'x', sizeof(buf));
	check_int(evutil_date_rfc1123(buf, 8, &tm), ==, 29);
	check_str(buf, "Sun, 06");
	memset(buf, 'x', sizeof(buf));
	check_int(evutil_date_rfc1123(buf, 0, &tm), ==, 0);
	check_int(buf[0], ==, 'x');
	check_int(evutil_date_rfc1123(NULL, 0, &tm), ==, 0);
	/* Fields are printed as they are, years padded to four places. */
	memset(&tm, 0, sizeof(tm));
	tm.tm_wday = 6;
	tm.tm_mon = 11;
	tm.tm_mday = 31;
	tm.tm_year = -1850;
	tm.tm_hour = 23;
	tm.tm_min = 5;
	tm.tm_sec = 60;
	check_int(evutil_date_rfc1123(buf, sizeof(buf), &tm), ==, 29);
	check_str(buf, "Sat, 31 Dec   50 23:05:60 GMT");
	/* No tm: now. */
	t = time(NULL);
	n = evutil_date_rfc1123(buf, sizeof(buf), NULL);
	check_int(n, ==, 29);
	check_int(strlen(buf), ==, 29);
	check_str(buf + 25, " GMT");
	gmtime_r(&t, &tm);
	check_int(atoi(buf + 12), >=, tm.tm_year + 1900);
end:
	;
}

/* strtoll: all bases, the end pointer, the limits. */
static void
strtoll_cases(void)
{
	const char *s;
	char *end;

	check_int(evutil_strtoll("12345", NULL, 10), ==, 12345);
	s = "  -42xyz";
	check_int(evutil_strtoll(s, &end, 10), ==, -42);
	check_ptr(end, ==, s + 5);
	check_int(evutil_strtoll("0x1F", NULL, 16), ==, 31);
	check_int(evutil_strtoll("0x1F", NULL, 0), ==, 31);
	check_int(evutil_strtoll("017", NULL, 0), ==, 15);
	check_int(evutil_strtoll("zz", NULL, 36), ==, 36 * 35 + 35);
	check_int(evutil_strtoll("9223372036854775807", NULL, 10), ==,
	    EV_INT64_MAX);
	errno = 0;
	check_int(evutil_strtoll("9223372036854775808", NULL, 10), ==,
	    EV_INT64_MAX);
	check_int(errno, ==, ERANGE);
	check_int(evutil_strtoll("-9223372036854775808", NULL, 10), ==,
	    EV_INT64_MIN);
	s = "abc";
	check_int(evutil_strtoll(s, &end, 10), ==, 0);
	check_ptr(end, ==, s);
end:
	;
}

/* Only ASCII letters fold; bytes compare as signed chars. */
static void
ascii_case(void)
{
	check_int(evutil_ascii_strcasecmp("Hello", "hELLO"), ==, 0);
	check_int(evutil_ascii_strcasecmp("", ""), ==, 0);
	check_int(evutil_ascii_strcasecmp("abc", "ABD"), ==, -1);
	check_int(evutil_ascii_strcasecmp("abd", "ABC"), ==, 1);
	check_int(evutil_ascii_strcasecmp("ab", "abc"), ==, -1);
	check_int(evutil_ascii_strcasecmp("abc", "ab"), ==, 1);
	/* '[' lies between 'Z' and 'a': after folding, before letters. */
	check_int(evutil_ascii_strcasecmp("[", "A"), ==, -1);
	/* Non-ASCII bytes do not fold and sort below ASCII. */
	check_int(evutil_ascii_strcasecmp("\xc9", "\xe9"), ==, -1);
	check_int(evutil_ascii_strcasecmp("\xc9", "a"), ==, -1);
	check_int(evutil_ascii_strcasecmp("a", "\xe9"), ==, 1);

	check_int(evutil_ascii_strncasecmp("HTTP/1.1", "http/1.0", 7), ==, 0);
	check_int(evutil_ascii_strncasecmp("HTTP/1.1", "http/1.0", 8), ==, 1);
	check_int(evutil_ascii_strncasecmp("abc", "xyz", 0), ==, 0);
	check_int(evutil_ascii_strncasecmp("ab", "AB", 100), ==, 0);
	check_int(evutil_ascii_strncasecmp("ab", "ABc", 100), ==, -1);
	check_int(evutil_ascii_strncasecmp("Get", "GETX", 3), ==, 0);
end:
	;
}

static int
sockopt(evutil_socket_t fd, int level, int name)
{
	int v = -1;
	socklen_t len = sizeof(v);

	if (getsockopt(fd, level, name, &v, &len) < 0)
		return -1;
	return v;
}

/* IPV6_V6ONLY on an IPv6 socket; -1 on a socket without it. */
static void
listen_ipv6only(void)
{
	evutil_socket_t fd6 = socket(AF_INET6, SOCK_STREAM, 0);
	evutil_socket_t fd4 = socket(AF_INET, SOCK_STREAM, 0);

	check(fd4 >= 0);
	check_int(evutil_make_listen_socket_ipv6only(fd4), ==, -1);
	if (fd6 >= 0) {
		check_int(evutil_make_listen_socket_ipv6only(fd6), ==, 0);
		check_int(sockopt(fd6, IPPROTO_IPV6, IPV6_V6ONLY), ==, 1);
	}
	check_int(evutil_make_listen_socket_ipv6only(-1), ==, -1);
	check_int(errno, ==, EBADF);
end:
	if (fd6 >= 0)
		close(fd6);
	if (fd4 >= 0)
		close(fd4);
}

/* TCP_DEFER_ACCEPT on a TCP socket; -1 on a socket without TCP. */
static void
tcp_deferred(void)
{
	evutil_socket_t fd = socket(AF_INET, SOCK_STREAM, 0);
	evutil_socket_t fds[2] = {-1, -1};

	check(fd >= 0);
	check_int(sockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT), ==, 0);
	check_int(evutil_make_tcp_listen_socket_deferred(fd), ==, 0);
	check_int(sockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT), >, 0);
	check_int(evutil_socketpair(AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
	check_int(evutil_make_tcp_listen_socket_deferred(fds[0]), ==, -1);
end:
	if (fd >= 0)
		close(fd);
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
}

static const struct check_case cases[] = {
	{"secure_rng", secure_rng},
	{"monotonic_timer", monotonic_timer},
	{"monotonic_clocks", monotonic_clocks},
	{"monotonic_free_null", monotonic_free_null},
	{"date_rfc1123", date_rfc1123},
	{"strtoll_cases", strtoll_cases},
	{"ascii_case", ascii_case},
	{"listen_ipv6only", listen_ipv6only},
	{"tcp_deferred", tcp_deferred},
	{NULL, NULL}
};

int
main(int argc, char **argv)
{
	return check_main(cases, argc, argv);
}
