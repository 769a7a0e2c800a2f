/*
 * test_listener_opts.c: the listener options test_listener.c leaves out
 * (BEHAVIOUR.md LST-2 to LST-14): LEV_OPT_DEFERRED_ACCEPT,
 * LEV_OPT_BIND_IPV6ONLY, LEV_OPT_THREADSAFE, LEV_OPT_LEAVE_SOCKETS_BLOCKING,
 * the backlog given to evconnlistener_new, evconnlistener_set_cb and
 * evconnlistener_get_base, and a callback that disables the listener.
 * Everything listens on 127.0.0.1 or ::1 with a port the kernel picks.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "check.h"

struct accepts {
	int n;
	int fds[8];
	void *arg;		/* the argument the last call got */
	int disable;		/* the callback disables the listener */
};

static void
on_accept(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *addr, int len, void *arg)
{
	struct accepts *a = arg;

	(void)addr;
	(void)len;
	if (a->n < 8)
		a->fds[a->n] = fd;
	else
		close(fd);
	a->n++;
	a->arg = arg;
	if (a->disable)
		evconnlistener_disable(lev);
}

static void
accepts_done(struct accepts *a)
{
	int i;

	for (i = 0; i < a->n && i < 8; i++)
		close(a->fds[i]);
	a->n = 0;
}

static int
sockopt(evutil_socket_t fd, int level, int name)
{
	int v = 0;
	socklen_t len = sizeof(v);

	if (getsockopt(fd, level, name, &v, &len) < 0)
		return -1;
	return v;
}

static int
port_of(evutil_socket_t fd)
{
	struct sockaddr_in6 sin;
	socklen_t len = sizeof(sin);

	if (getsockname(fd, (struct sockaddr *)&sin, &len) < 0)
		return -1;
	return ntohs(sin.sin6_port);
}

/* A nonblocking client that starts connecting to 127.0.0.1:port. */
static int
connect_v4(int port)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static struct evconnlistener *
bind_v4(struct event_base *base, void *arg, unsigned flags)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return evconnlistener_new_bind(base, on_accept, arg, flags, -1,
	    (struct sockaddr *)&sin, sizeof(sin));
}

/* LST-11: DEFERRED_ACCEPT sets TCP_DEFER_ACCEPT, not set by default. */
static void
deferred_accept(void)
{
	struct event_base *base = event_base_new();
	struct evconnlistener *plain = NULL, *lev = NULL;
	struct accepts a;

	memset(&a, 0, sizeof(a));
	check(base != NULL);
	plain = bind_v4(base, &a, LEV_OPT_CLOSE_ON_FREE);
	lev = bind_v4(base, &a, LEV_OPT_CLOSE_ON_FREE |
	    LEV_OPT_DEFERRED_ACCEPT);
	check(plain != NULL && lev != NULL);
	check_int(sockopt(evconnlistener_get_fd(plain), IPPROTO_TCP,
	    TCP_DEFER_ACCEPT), ==, 0);
	check(sockopt(evconnlistener_get_fd(lev), IPPROTO_TCP,
	    TCP_DEFER_ACCEPT) > 0);
end:
	if (plain)
		evconnlistener_free(plain);
	if (lev)
		evconnlistener_free(lev);
	if (base)
		event_base_free(base);
}

/* LST-11: BIND_IPV6ONLY sets IPV6_V6ONLY on an IPv6 listener. */
static void
bind_ipv6only(void)
{
	struct event_base *base = event_base_new();
	struct evconnlistener *lev = NULL;
	struct sockaddr_in6 sin6;
	struct accepts a;
	int fd;

	memset(&a, 0, sizeof(a));
	check(base != NULL);
	fd = socket(AF_INET6, SOCK_STREAM, 0);
	if (fd < 0) {
		printf("SKIP bind_ipv6only: no IPv6 here\n");
		goto end;
	}
	close(fd);
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_addr = in6addr_loopback;
	lev = evconnlistener_new_bind(base, on_accept, &a,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_BIND_IPV6ONLY, -1,
	    (struct sockaddr *)&sin6, sizeof(sin6));
	if (!lev && errno == EADDRNOTAVAIL) {
		printf("SKIP bind_ipv6only: no ::1 here\n");
		goto end;
	}
	check(lev != NULL);
	check_int(sockopt(evconnlistener_get_fd(lev), IPPROTO_IPV6,
	    IPV6_V6ONLY), ==, 1);
end:
	if (lev)
		evconnlistener_free(lev);
	if (base)
		event_base_free(base);
}

/*
 * LST-14: THREADSAFE is accepted without a lock implementation, and the
 * listener accepts as usual.
 */
static void
threadsafe_accepts(void)
{
	struct event_base *base = event_base_new();
	struct evconnlistener *lev = NULL;
	struct accepts a;
	int client = -1;

	memset(&a, 0, sizeof(a));
	check(base != NULL);
	lev = bind_v4(base, &a, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_THREADSAFE);
	check(lev != NULL);
	client = connect_v4(port_of(evconnlistener_get_fd(lev)));
	check(client >= 0);
	check_int(event_base_loop(base, EVLOOP_ONCE), ==, 0);
	check_int(a.n, ==, 1);
	check_ptr(a.arg, ==, &a);
end:
	accepts_done(&a);
	if (client >= 0)
		close(client);
	if (lev)
		evconnlistener_free(lev);
	if (base)
		event_base_free(base);
}

/* LST-3: LEAVE_SOCKETS_BLOCKING keeps accepted sockets blocking. */
static void
leave_blocking(void)
{
	struct event_base *base = event_base_new();
	struct evconnlistener *lev = NULL;
	struct accepts a;
	int client = -1;

	memset(&a, 0, sizeof(a));
	check(base != NULL);
	lev = bind_v4(base, &a, LEV_OPT_CLOSE_ON_FREE |
	    LEV_OPT_LEAVE_SOCKETS_BLOCKING);
	check(lev != NULL);
	client = connect_v4(port_of(evconnlistener_get_fd(lev)));
	check(client >= 0);
	check_int(event_base_loop(base, EVLOOP_ONCE), ==, 0);
	check_int(a.n, ==, 1);
	check_int(fcntl(a.fds[0], F_GETFL) & O_NONBLOCK, ==, 0);
end:
	accepts_done(&a);
	if (client >= 0)
		close(client);
	if (lev)
		evconnlistener_free(lev);
	if (base)
		event_base_free(base);
}

/* An unlistening bound TCP socket on 127.0.0.1. */
static int
bound_socket(void)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		close(fd);
		return -1;
	}
	evutil_make_socket_nonblocking(fd);
	return fd;
}

/*
 * LST-10: evconnlistener_new listens with the backlog given, with a
 * default for a negative one, and not at all for 0.
 */
static void
new_backlog(void)
{
	struct event_base *base = event_base_new();
	struct evconnlistener *lev[3] = { NULL, NULL, NULL };
	int backlog[3] = { 0, -1, 5 }, i;
	struct accepts a;

	memset(&a, 0, sizeof(a));
	check(base != NULL);
	for (i = 0; i < 3; i++) {
		int fd = bound_socket();

		check(fd >= 0);
		lev[i] = evconnlistener_new(base, on_accept, &a,
		    LEV_OPT_CLOSE_ON_FREE, backlog[i], fd);
		check(lev[i] != NULL);
		check_int(sockopt(fd, SOL_SOCKET, SO_ACCEPTCONN), ==,
		    i == 0 ? 0 : 1);
	}
end:
	for (i = 0; i < 3; i++)
		if (lev[i])
			evconnlistener_free(lev[i]);
	if (base)
		event_base_free(base);
}

/*
 * LST-7, LST-4: set_cb changes the callback and its argument; get_base
 * returns the base.
 */
static void
set_cb_and_base(void)
{
	struct event_base *base = event_base_new();
	struct evconnlistener *lev = NULL;
	struct accepts a, b;
	int c1 = -1, c2 = -1, port;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	check(base != NULL);
	lev = bind_v4(base, &a, LEV_OPT_CLOSE_ON_FREE);
	check(lev != NULL);
	check_ptr(evconnlistener_get_base(lev), ==, base);
	port = port_of(evconnlistener_get_fd(lev));
	c1 = connect_v4(port);
	check(c1 >= 0);
	check_int(event_base_loop(base, EVLOOP_ONCE), ==, 0);
	check_int(a.n, ==, 1);
	evconnlistener_set_cb(lev, on_accept, &b);
	c2 = connect_v4(port);
	check(c2 >= 0);
	check_int(event_base_loop(base, EVLOOP_ONCE), ==, 0);
	check_int(a.n, ==, 1);
	check_int(b.n, ==, 1);
	check_ptr(b.arg, ==, &b);
	/* NULL afterwards: no callback runs. */
	evconnlistener_set_cb(lev, NULL, NULL);
	close(c1);
	c1 = connect_v4(port);
	check(c1 >= 0);
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_int(b.n, ==, 1);
end:
	accepts_done(&a);
	accepts_done(&b);
	if (c1 >= 0)
		close(c1);
	if (c2 >= 0)
		close(c2);
	if (lev)
		evconnlistener_free(lev);
	if (base)
		event_base_free(base);
}

/*
 * LST-13: a callback that disables the listener stops the accept loop
 * for that round; enabling again accepts the rest.
 */
static void
disable_in_callback(void)
{
	struct event_base *base = event_base_new();
	struct evconnlistener *lev = NULL;
	struct accepts a;
	int c[3] = { -1, -1, -1 }, port, i;

	memset(&a, 0, sizeof(a));
	check(base != NULL);
	lev = bind_v4(base, &a, LEV_OPT_CLOSE_ON_FREE);
	check(lev != NULL);
	port = port_of(evconnlistener_get_fd(lev));
	for (i = 0; i < 3; i++) {
		c[i] = connect_v4(port);
		check(c[i] >= 0);
	}
	a.disable = 1;
	event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	check_int(a.n, ==, 1);
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_int(a.n, ==, 1);
	a.disable = 0;
	check_int(evconnlistener_enable(lev), ==, 0);
	check_int(event_base_loop(base, EVLOOP_ONCE), ==, 0);
	check_int(a.n, ==, 3);
end:
	accepts_done(&a);
	for (i = 0; i < 3; i++)
		if (c[i] >= 0)
			close(c[i]);
	if (lev)
		evconnlistener_free(lev);
	if (base)
		event_base_free(base);
}

static int emfile_errors;

static void
count_error(struct evconnlistener *lev, void *arg)
{
	(void)lev;
	(void)arg;
	if (EVUTIL_SOCKET_ERROR() == EMFILE)
		emfile_errors++;
}

/*
 * LST-9: while accept fails for lack of descriptors, 2.1.12 neither
 * disables the listener nor waits: the connection stays queued, the
 * socket stays readable, and every pass of the loop calls the error
 * callback again (the program may disable the listener there). Once
 * descriptors are free the connection is accepted.
 */
static void
emfile_reported_each_pass(void)
{
	struct event_base *base = event_base_new();
	struct evconnlistener *lev = NULL;
	struct rlimit saved, low;
	struct accepts a;
	const char *preload = getenv("LD_PRELOAD");
	int client = -1, probe, lowered = 0, i;

	memset(&a, 0, sizeof(a));
	if (preload && strstr(preload, "vgpreload")) {
		/* valgrind accepts, then refuses the descriptor itself. */
		printf("SKIP emfile_reported_each_pass: under valgrind\n");
		goto end;
	}
	emfile_errors = 0;
	check(base != NULL);
	lev = bind_v4(base, &a, LEV_OPT_CLOSE_ON_FREE);
	check(lev != NULL);
	evconnlistener_set_error_cb(lev, count_error);
	client = connect_v4(port_of(evconnlistener_get_fd(lev)));
	check(client >= 0);
	check_int(getrlimit(RLIMIT_NOFILE, &saved), ==, 0);
	probe = dup(0);
	check(probe >= 0);
	close(probe);
	low = saved;
	low.rlim_cur = probe;
	check_int(setrlimit(RLIMIT_NOFILE, &low), ==, 0);
	lowered = 1;
	for (i = 0; i < 3; i++)
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	check_int(emfile_errors, ==, 3);
	check_int(a.n, ==, 0);
	check_int(setrlimit(RLIMIT_NOFILE, &saved), ==, 0);
	lowered = 0;
	check_int(event_base_loop(base, EVLOOP_ONCE), ==, 0);
	check_int(a.n, ==, 1);
	check_int(emfile_errors, ==, 3);
end:
	if (lowered)
		setrlimit(RLIMIT_NOFILE, &saved);
	accepts_done(&a);
	if (client >= 0)
		close(client);
	if (lev)
		evconnlistener_free(lev);
	if (base)
		event_base_free(base);
}

static const struct check_case cases[] = {
	{ "deferred_accept", deferred_accept },
	{ "bind_ipv6only", bind_ipv6only },
	{ "threadsafe_accepts", threadsafe_accepts },
	{ "leave_blocking", leave_blocking },
	{ "new_backlog", new_backlog },
	{ "set_cb_and_base", set_cb_and_base },
	{ "disable_in_callback", disable_in_callback },
	{ "emfile_reported_each_pass", emfile_reported_each_pass },
	{ NULL, NULL }
};

int
main(int argc, char **argv)
{
	return check_main(cases, argc, argv);
}
