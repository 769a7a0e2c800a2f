/*
 * test_util_null: NULL arguments to the functions of event2/util.h. The
 * reference dereferences them and crashes; bufferevent-rs logs one warning
 * naming the function and returns its failure value (DESIGN, pointer
 * contract of src/ffi), so every case is a deliberate difference.
 */
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <event2/util.h>

#include "check.h"

static int warnings;
static char last_msg[256];

static void
log_cb(int severity, const char *msg)
{
	if (severity == EVENT_LOG_WARN)
		warnings++;
	snprintf(last_msg, sizeof(last_msg), "%s", msg);
}

static void
start(void)
{
	CHECK_REF_DIFFERS("libevent crashes on these NULL arguments");
	event_set_log_callback(log_cb);
	warnings = 0;
	last_msg[0] = '\0';
}

/* One warning since the last look, naming fn. */
static int
warned(const char *fn)
{
	int ok = warnings == 1 && strstr(last_msg, fn) != NULL;

	warnings = 0;
	last_msg[0] = '\0';
	return ok;
}

static void
null_addresses(void)
{
	struct in_addr a;
	struct sockaddr_in sin;
	unsigned idx;
	int len = (int)sizeof(sin);
	char buf[64];

	start();
	check_int(evutil_inet_pton(AF_INET, NULL, &a), ==, -1);
	check(warned("evutil_inet_pton"));
	check_int(evutil_inet_pton(AF_INET, "1.2.3.4", NULL), ==, -1);
	check(warned("evutil_inet_pton"));
	check_int(evutil_inet_pton_scope(AF_INET6, "::1", &a, NULL), ==, -1);
	check(warned("evutil_inet_pton_scope"));
	check_int(evutil_inet_pton_scope(AF_INET6, NULL, &a, &idx), ==, -1);
	check(warned("evutil_inet_pton_scope"));
	check_ptr(evutil_inet_ntop(AF_INET, NULL, buf, sizeof(buf)), ==, NULL);
	check(warned("evutil_inet_ntop"));
	check_ptr(evutil_inet_ntop(AF_INET, &a, NULL, 16), ==, NULL);
	check(warned("evutil_inet_ntop"));
	check_int(evutil_parse_sockaddr_port(NULL, (struct sockaddr *)&sin,
	    &len), ==, -1);
	check(warned("evutil_parse_sockaddr_port"));
	check_int(evutil_parse_sockaddr_port("1.2.3.4", (struct sockaddr *)&sin,
	    NULL), ==, -1);
	check(warned("evutil_parse_sockaddr_port"));
	check_int(evutil_parse_sockaddr_port("1.2.3.4", NULL, &len), ==, -1);
	check(warned("evutil_parse_sockaddr_port"));
	check_int(evutil_sockaddr_cmp(NULL, (struct sockaddr *)&sin, 1), ==,
	    -1);
	check(warned("evutil_sockaddr_cmp"));
end:
	event_set_log_callback(NULL);
}

static void
null_resolver(void)
{
	struct evutil_monotonic_timer *t = NULL;
	struct timeval tv;

	start();
	check_int(evutil_getaddrinfo("127.0.0.1", "80", NULL, NULL), ==,
	    EVUTIL_EAI_FAIL);
	check(warned("evutil_getaddrinfo"));
	evutil_freeaddrinfo(NULL);
	check(warned("evutil_freeaddrinfo"));
	check_int(evutil_gettime_monotonic(NULL, &tv), ==, -1);
	check(warned("evutil_gettime_monotonic"));
	t = evutil_monotonic_timer_new();
	check(t != NULL);
	check_int(evutil_gettime_monotonic(t, NULL), ==, -1);
	check(warned("evutil_gettime_monotonic"));
	check_int(evutil_configure_monotonic_time(NULL, 0), ==, -1);
	check(warned("evutil_configure_monotonic_time"));
end:
	evutil_monotonic_timer_free(t);
	event_set_log_callback(NULL);
}

static void
null_text(void)
{
	start();
	check_int(evutil_ascii_strcasecmp(NULL, "a"), ==, -1);
	check(warned("evutil_ascii_strcasecmp"));
	check_int(evutil_ascii_strncasecmp("a", NULL, 1), ==, -1);
	check(warned("evutil_ascii_strncasecmp"));
	check_int(evutil_strtoll(NULL, NULL, 10), ==, -1);
	check(warned("evutil_strtoll"));
	check_int(evutil_date_rfc1123(NULL, 30, NULL), ==, -1);
	check(warned("evutil_date_rfc1123"));
	evutil_secure_rng_get_bytes(NULL, 4);
	check(warned("evutil_secure_rng_get_bytes"));
	/* Nothing asked of a NULL buffer is no error. */
	evutil_secure_rng_get_bytes(NULL, 0);
	check_int(warnings, ==, 0);
end:
	event_set_log_callback(NULL);
}

static const struct check_case cases[] = {
	{"null_addresses", null_addresses},
	{"null_resolver", null_resolver},
	{"null_text", null_text},
	{NULL, NULL}
};

int
main(int argc, char **argv)
{
	return check_main(cases, argc, argv);
}
