/*
 * test_listener: evconnlistener (BEHAVIOUR LST-1 to LST-9): new and
 * new_bind, backlog rules, socket options, accepting, enable and disable,
 * a NULL callback, freeing with and without LEV_OPT_CLOSE_ON_FREE, and the
 * error callback. Everything listens on 127.0.0.1 with a port the kernel
 * picks.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "check.h"

#define MAX_ACCEPTED 8

/* What the accept callback saw. */
static int accepted;
static evutil_socket_t accepted_fd[MAX_ACCEPTED];
static struct sockaddr_in accepted_addr;
static int accepted_len;
static int errors;
static int error_errno;
static int break_after;
static int free_in_cb;
static struct rlimit saved_limit;
static int late_client = -1;
static int late_port;

static void
reset(void)
{
	int i;

	accepted = 0;
	for (i = 0; i < MAX_ACCEPTED; i++)
		accepted_fd[i] = -1;
	memset(&accepted_addr, 0, sizeof(accepted_addr));
	accepted_len = 0;
	errors = 0;
	error_errno = 0;
	break_after = 0;
	free_in_cb = 0;
}

static void
close_accepted(void)
{
	int i;

	for (i = 0; i < MAX_ACCEPTED; i++) {
		if (accepted_fd[i] >= 0)
			close(accepted_fd[i]);
		accepted_fd[i] = -1;
	}
}

static void
accept_cb(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *addr, int len, void *arg)
{
	(void)arg;
	if (accepted < MAX_ACCEPTED)
		accepted_fd[accepted] = fd;
	else
		close(fd);
	accepted++;
	if (addr && len <= (int)sizeof(accepted_addr))
		memcpy(&accepted_addr, addr, len);
	accepted_len = len;
	if (free_in_cb) {
		evconnlistener_free(lev);
		return;
	}
	if (break_after && accepted == break_after)
		event_base_loopbreak(evconnlistener_get_base(lev));
}

static int connect_to(int port);

static void
error_cb(struct evconnlistener *lev, void *arg)
{
	(void)lev;
	(void)arg;
	errors++;
	error_errno = EVUTIL_SOCKET_ERROR();
	setrlimit(RLIMIT_NOFILE, &saved_limit);
	/*
	 * A second client: the first may be gone when the kernel's accept
	 * succeeded and only the descriptor limit was refused (valgrind
	 * emulates the limit that way).
	 */
	if (late_client < 0)
		late_client = connect_to(late_port);
}

static void
loopback(struct sockaddr_in *sin, int port)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

/* The port a listening socket got from the kernel, or -1. */
static int
port_of(evutil_socket_t fd)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	if (getsockname(fd, (struct sockaddr *)&sin, &len) < 0)
		return -1;
	return ntohs(sin.sin_port);
}

/* A blocking client socket connected to 127.0.0.1:port, or -1. */
static int
connect_to(int port)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	loopback(&sin, port);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
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

static struct evconnlistener *
bind_any(struct event_base *base, evconnlistener_cb cb, unsigned flags)
{
	struct sockaddr_in sin;

	loopback(&sin, 0);
	return evconnlistener_new_bind(base, cb, NULL, flags, -1,
	    (struct sockaddr *)&sin, sizeof(sin));
}

/* LST-1: backlog 0 makes new_bind fail; -1 means a default backlog. */
static void
new_bind_backlog(void)
{
	struct event_base *base = event_base_new();
	struct evconnlistener *lev = NULL;
	struct sockaddr_in sin;

	check(base != NULL);
	loopback(&sin, 0);
	lev = evconnlistener_new_bind(base, accept_cb, NULL,
	    LEV_OPT_CLOSE_ON_FREE, 0, (struct sockaddr *)&sin, sizeof(sin));
	check(lev == NULL);
	lev = evconnlistener_new_bind(base, accept_cb, NULL,
	    LEV_OPT_CLOSE_ON_FREE, -1, (struct sockaddr *)&sin, sizeof(sin));
	check(lev != NULL);
	check_int(evconnlistener_get_fd(lev), >=, 0);
	check_int(port_of(evconnlistener_get_fd(lev)), >, 0);
	check_int(sockopt(evconnlistener_get_fd(lev), SOL_SOCKET,
	    SO_ACCEPTCONN), ==, 1);
end:
	if (lev)
		evconnlistener_free(lev);
	if (base)
		event_base_free(base);
}

/*
 * LST-2, LST-4: the listening socket is nonblocking with SO_KEEPALIVE;
 * REUSEABLE, REUSEABLE_PORT and CLOSE_ON_EXEC only when asked for.
 */
static void
listening_socket_options(void)
{
	struct event_base *base = event_base_new();
	struct evconnlistener *plain = NULL, *opts = NULL;
	evutil_socket_t fd;

	check(base != NULL);
	plain = bind_any(base, accept_cb, LEV_OPT_CLOSE_ON_FREE);
	check(plain != NULL);
	fd = evconnlistener_get_fd(plain);
	check_ptr(evconnlistener_get_base(plain), ==, base);
	check(fcntl(fd, F_GETFL) & O_NONBLOCK);
	check_int(sockopt(fd, SOL_SOCKET, SO_KEEPALIVE), ==, 1);
	check_int(sockopt(fd, SOL_SOCKET, SO_REUSEADDR), ==, 0);
	check_int(sockopt(fd, SOL_SOCKET, SO_REUSEPORT), ==, 0);
	check_int(fcntl(fd, F_GETFD) & FD_CLOEXEC, ==, 0);

	opts = bind_any(base, accept_cb, LEV_OPT_CLOSE_ON_FREE |
	    LEV_OPT_REUSEABLE | LEV_OPT_REUSEABLE_PORT | LEV_OPT_CLOSE_ON_EXEC);
	check(opts != NULL);
	fd = evconnlistener_get_fd(opts);
	check(fcntl(fd, F_GETFL) & O_NONBLOCK);
	check_int(sockopt(fd, SOL_SOCKET, SO_KEEPALIVE), ==, 1);
	check_int(sockopt(fd, SOL_SOCKET, SO_REUSEADDR), ==, 1);
	check_int(sockopt(fd, SOL_SOCKET, SO_REUSEPORT), ==, 1);
	check_int(fcntl(fd, F_GETFD) & FD_CLOEXEC, ==, FD_CLOEXEC);
end:
	if (plain)
		evconnlistener_free(plain);
	if (opts)
		evconnlistener_free(opts);
	if (base)
		event_base_free(base);
}

/*
 * LST-3, LST-4: an accepted socket is nonblocking (unless
 * LEAVE_SOCKETS_BLOCKING), close-on-exec with CLOSE_ON_EXEC, and the
 * callback gets the peer's address.
 */
static void
accepted_socket(void)
{
	struct event_base *base = event_base_new();
	struct evconnlistener *lev = NULL;
	unsigned flags[2] = {
		LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
		LEV_OPT_CLOSE_ON_FREE | LEV_OPT_LEAVE_SOCKETS_BLOCKING,
	};
	struct sockaddr_in local;
	socklen_t len;
	int client = -1, i;

	check(base != NULL);
	for (i = 0; i < 2; i++) {
		reset();
		lev = bind_any(base, accept_cb, flags[i]);
		check(lev != NULL);
		client = connect_to(port_of(evconnlistener_get_fd(lev)));
		check(client >= 0);
		break_after = 1;
		check_int(event_base_dispatch(base), ==, 0);
		check_int(accepted, ==, 1);
		check_int(accepted_fd[0], >=, 0);
		check_int(accepted_len, ==, sizeof(struct sockaddr_in));
		check_int(accepted_addr.sin_family, ==, AF_INET);
		len = sizeof(local);
		check_int(getsockname(client, (struct sockaddr *)&local, &len),
		    ==, 0);
		check_int(accepted_addr.sin_port, ==, local.sin_port);
		if (i == 0) {
			check(fcntl(accepted_fd[0], F_GETFL) & O_NONBLOCK);
			check(fcntl(accepted_fd[0], F_GETFD) & FD_CLOEXEC);
		} else {
			check(!(fcntl(accepted_fd[0], F_GETFL) & O_NONBLOCK));
			check(!(fcntl(accepted_fd[0], F_GETFD) & FD_CLOEXEC));
		}
		close_accepted();
		close(client);
		client = -1;
		evconnlistener_free(lev);
		lev = NULL;
	}
end:
	close_accepted();
	if (client >= 0)
		close(client);
	if (lev)
		evconnlistener_free(lev);
	if (base)
		event_base_free(base);
}

/*
 * LST-5: with LEV_OPT_DISABLED, and after evconnlistener_disable, nothing
 * is accepted until evconnlistener_enable.
 */
static void
disabled_until_enabled(void)
{
	struct event_base *base = event_base_new();
	struct evconnlistener *lev = NULL;
	int client = -1, again = -1;

	reset();
	check(base != NULL);
	lev = bind_any(base, accept_cb,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_DISABLED);
	check(lev != NULL);
	client = connect_to(port_of(evconnlistener_get_fd(lev)));
	check(client >= 0);
	/* Nothing is registered: the loop finds the base empty. */
	check_int(event_base_loop(base, EVLOOP_NONBLOCK), ==, 1);
	check_int(accepted, ==, 0);

	check_int(evconnlistener_enable(lev), ==, 0);
	break_after = 1;
	check_int(event_base_dispatch(base), ==, 0);
	check_int(accepted, ==, 1);

	check_int(evconnlistener_disable(lev), ==, 0);
	again = connect_to(port_of(evconnlistener_get_fd(lev)));
	check(again >= 0);
	check_int(event_base_loop(base, EVLOOP_NONBLOCK), ==, 1);
	check_int(accepted, ==, 1);
	check_int(evconnlistener_enable(lev), ==, 0);
	break_after = 2;
	check_int(event_base_dispatch(base), ==, 0);
	check_int(accepted, ==, 2);
end:
	close_accepted();
	if (client >= 0)
		close(client);
	if (again >= 0)
		close(again);
	if (lev)
		evconnlistener_free(lev);
	if (base)
		event_base_free(base);
}

/* LST-6: one readiness callback accepts every queued connection. */
static void
accepts_all_queued(void)
{
	struct event_base *base = event_base_new();
	struct evconnlistener *lev = NULL;
	int clients[3] = {-1, -1, -1};
	int i, port;

	reset();
	check(base != NULL);
	lev = bind_any(base, accept_cb, LEV_OPT_CLOSE_ON_FREE);
	check(lev != NULL);
	port = port_of(evconnlistener_get_fd(lev));
	for (i = 0; i < 3; i++) {
		clients[i] = connect_to(port);
		check(clients[i] >= 0);
	}
	check_int(event_base_loop(base, EVLOOP_ONCE), ==, 0);
	check_int(accepted, ==, 3);
end:
	close_accepted();
	for (i = 0; i < 3; i++)
		if (clients[i] >= 0)
			close(clients[i]);
	if (lev)
		evconnlistener_free(lev);
	if (base)
		event_base_free(base);
}

/*
 * LST-7: a listener without a callback does not accept; set_cb on the
 * enabled listener starts accepting.
 */
static void
null_callback_waits(void)
{
	struct event_base *base = event_base_new();
	struct evconnlistener *lev = NULL;
	int client = -1;

	reset();
	check(base != NULL);
	lev = bind_any(base, NULL, LEV_OPT_CLOSE_ON_FREE);
	check(lev != NULL);
	client = connect_to(port_of(evconnlistener_get_fd(lev)));
	check(client >= 0);
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_int(accepted, ==, 0);
	evconnlistener_set_cb(lev, accept_cb, NULL);
	break_after = 1;
	check_int(event_base_dispatch(base), ==, 0);
	check_int(accepted, ==, 1);
end:
	close_accepted();
	if (client >= 0)
		close(client);
	if (lev)
		evconnlistener_free(lev);
	if (base)
		event_base_free(base);
}

/*
 * LST-8: without CLOSE_ON_FREE the socket outlives the listener; with it
 * the socket is closed inside evconnlistener_free.
 */
static void
free_and_close(void)
{
	struct event_base *base = event_base_new();
	struct evconnlistener *lev = NULL;
	evutil_socket_t fd = -1;

	check(base != NULL);
	lev = bind_any(base, accept_cb, 0);
	check(lev != NULL);
	fd = evconnlistener_get_fd(lev);
	evconnlistener_free(lev);
	lev = NULL;
	check(fcntl(fd, F_GETFD) != -1);
	check_int(sockopt(fd, SOL_SOCKET, SO_ACCEPTCONN), ==, 1);
	close(fd);
	fd = -1;

	lev = bind_any(base, accept_cb, LEV_OPT_CLOSE_ON_FREE);
	check(lev != NULL);
	fd = evconnlistener_get_fd(lev);
	evconnlistener_free(lev);
	lev = NULL;
	errno = 0;
	check_int(fcntl(fd, F_GETFD), ==, -1);
	check_int(errno, ==, EBADF);
	fd = -1;
end:
	if (lev)
		evconnlistener_free(lev);
	if (fd >= 0)
		close(fd);
	if (base)
		event_base_free(base);
}

/* LST-8: freeing the listener in its callback stops further accepts. */
static void
free_inside_callback(void)
{
	struct event_base *base = event_base_new();
	struct evconnlistener *lev = NULL;
	int clients[2] = {-1, -1};
	int i, port;

	reset();
	check(base != NULL);
	lev = bind_any(base, accept_cb, LEV_OPT_CLOSE_ON_FREE);
	check(lev != NULL);
	port = port_of(evconnlistener_get_fd(lev));
	for (i = 0; i < 2; i++) {
		clients[i] = connect_to(port);
		check(clients[i] >= 0);
	}
	free_in_cb = 1;
	lev = NULL;
	check_int(event_base_dispatch(base), ==, 1);
	check_int(accepted, ==, 1);
end:
	close_accepted();
	for (i = 0; i < 2; i++)
		if (clients[i] >= 0)
			close(clients[i]);
	if (lev)
		evconnlistener_free(lev);
	if (base)
		event_base_free(base);
}

/* evconnlistener_new over a socket the program already made listen. */
static void
new_over_listening_socket(void)
{
	struct event_base *base = event_base_new();
	struct evconnlistener *lev = NULL;
	struct sockaddr_in sin;
	evutil_socket_t fd = -1;
	int client = -1;

	reset();
	check(base != NULL);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	check(fd >= 0);
	loopback(&sin, 0);
	check_int(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), ==, 0);
	check_int(listen(fd, 8), ==, 0);
	check_int(evutil_make_socket_nonblocking(fd), ==, 0);
	lev = evconnlistener_new(base, accept_cb, NULL, LEV_OPT_CLOSE_ON_FREE,
	    0, fd);
	check(lev != NULL);
	check_int(evconnlistener_get_fd(lev), ==, fd);
	fd = -1;
	client = connect_to(port_of(evconnlistener_get_fd(lev)));
	check(client >= 0);
	break_after = 1;
	check_int(event_base_dispatch(base), ==, 0);
	check_int(accepted, ==, 1);
end:
	close_accepted();
	if (client >= 0)
		close(client);
	if (lev)
		evconnlistener_free(lev);
	if (fd >= 0)
		close(fd);
	if (base)
		event_base_free(base);
}

/*
 * LST-9: an accept that fails for lack of descriptors calls the error
 * callback with errno EMFILE; the listener stays enabled and accepts once
 * descriptors are available again (error_cb restores the limit and
 * connects once more).
 */
static void
error_callback_on_emfile(void)
{
	struct event_base *base = event_base_new();
	struct evconnlistener *lev = NULL;
	struct rlimit low;
	int client = -1, probe, lowered = 0;

	reset();
	check(base != NULL);
	lev = bind_any(base, accept_cb, LEV_OPT_CLOSE_ON_FREE);
	check(lev != NULL);
	evconnlistener_set_error_cb(lev, error_cb);
	late_port = port_of(evconnlistener_get_fd(lev));
	late_client = -1;
	client = connect_to(late_port);
	check(client >= 0);

	/* The lowest free descriptor becomes the limit: accept must fail. */
	check_int(getrlimit(RLIMIT_NOFILE, &saved_limit), ==, 0);
	probe = dup(0);
	check(probe >= 0);
	close(probe);
	low = saved_limit;
	low.rlim_cur = probe;
	check_int(setrlimit(RLIMIT_NOFILE, &low), ==, 0);
	lowered = 1;

	break_after = 1;
	check_int(event_base_dispatch(base), ==, 0);
	check_int(errors, >=, 1);
	check_int(error_errno, ==, EMFILE);
	/* Both clients natively; only the second under valgrind. */
	check_int(accepted, >=, 1);
	check_int(accepted, <=, 2);
	check(late_client >= 0);
end:
	if (lowered)
		setrlimit(RLIMIT_NOFILE, &saved_limit);
	if (late_client >= 0)
		close(late_client);
	late_client = -1;
	close_accepted();
	if (client >= 0)
		close(client);
	if (lev)
		evconnlistener_free(lev);
	if (base)
		event_base_free(base);
}

static const struct check_case cases[] = {
	{"new_bind_backlog", new_bind_backlog},
	{"listening_socket_options", listening_socket_options},
	{"accepted_socket", accepted_socket},
	{"disabled_until_enabled", disabled_until_enabled},
	{"accepts_all_queued", accepts_all_queued},
	{"null_callback_waits", null_callback_waits},
	{"free_and_close", free_and_close},
	{"free_inside_callback", free_inside_callback},
	{"new_over_listening_socket", new_over_listening_socket},
	{"error_callback_on_emfile", error_callback_on_emfile},
	{NULL, NULL}
};

int
main(int argc, char **argv)
{
	return check_main(cases, argc, argv);
}
