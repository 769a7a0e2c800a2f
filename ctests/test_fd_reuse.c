/*
 * test_fd_reuse: a program closes an fd that still has events, or deletes
 * the events only after closing it, and its next socket gets the same
 * number. The kernel has dropped the old fd from epoll by then, and the
 * events of the new one must work: libevent retries a change that epoll
 * refuses for that reason as the one that fits (a changed registration
 * made anew, a dropped one counted as dropped). sslsplit frees its
 * bufferevents and closes their fds while another thread adds events for
 * the next connection, which reuses the number.
 */
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "check.h"

static int calls;
static short last_what;

static void
note_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)arg;
	calls++;
	last_what = what;
}

/*
 * Moves a fresh socket onto the number `fd`, which must be closed; its
 * peer goes to *peer. Returns 0 on success.
 */
static int
socket_at(int fd, int *peer)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		return -1;
	/* The lowest free numbers are handed out: often `fd` itself. */
	if (sv[1] == fd) {
		sv[1] = sv[0];
		sv[0] = fd;
	}
	if (sv[0] != fd) {
		if (dup2(sv[0], fd) != fd) {
			close(sv[0]);
			close(sv[1]);
			return -1;
		}
		close(sv[0]);
	}
	*peer = sv[1];
	return 0;
}

/*
 * An event still added when its fd is closed; a new event for the reused
 * number asks for more (reading and writing), which must reach the new
 * socket.
 */
static void
closed_with_event_then_reused(void)
{
	struct event_base *base = event_base_new();
	struct event *old = NULL, *new = NULL;
	struct timeval limit = {2, 0};
	int sv[2] = {-1, -1}, fd, peer = -1;

	check(base != NULL);
	check_int(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
	fd = sv[0];
	old = event_new(base, fd, EV_READ | EV_PERSIST, note_cb, NULL);
	check(old != NULL);
	check_int(event_add(old, NULL), ==, 0);
	check_int(event_base_loop(base, EVLOOP_NONBLOCK), ==, 0);
	close(sv[0]);
	close(sv[1]);
	sv[0] = sv[1] = -1;

	check_int(socket_at(fd, &peer), ==, 0);
	new = event_new(base, fd, EV_READ | EV_WRITE, note_cb, NULL);
	check(new != NULL);
	calls = 0;
	check_int(event_add(new, NULL), ==, 0);
	check_int(event_base_loopexit(base, &limit), ==, 0);
	check_int(event_base_loop(base, EVLOOP_ONCE), ==, 0);
	check_int(calls, ==, 1);
	check_int(last_what, ==, EV_WRITE);
end:
	if (old)
		event_free(old);
	if (new)
		event_free(new);
	if (peer >= 0) {
		close(peer);
		close(fd);
	}
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	if (base)
		event_base_free(base);
}

/*
 * The event deleted only after its fd was closed; a new event for the
 * reused number, asking for the same as the old one, must be told when the
 * new socket becomes readable.
 */
static void
deleted_after_close_then_reused(void)
{
	struct event_base *base = event_base_new();
	struct event *old = NULL, *new = NULL;
	struct timeval limit = {2, 0};
	int sv[2] = {-1, -1}, fd, peer = -1;

	check(base != NULL);
	check_int(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
	fd = sv[0];
	old = event_new(base, fd, EV_READ | EV_PERSIST, note_cb, NULL);
	check(old != NULL);
	check_int(event_add(old, NULL), ==, 0);
	check_int(event_base_loop(base, EVLOOP_NONBLOCK), ==, 0);
	close(sv[0]);
	close(sv[1]);
	sv[0] = sv[1] = -1;
	check_int(event_del(old), ==, 0);

	check_int(socket_at(fd, &peer), ==, 0);
	new = event_new(base, fd, EV_READ, note_cb, NULL);
	check(new != NULL);
	check_int(event_add(new, NULL), ==, 0);
	check_int(write(peer, "x", 1), ==, 1);
	calls = 0;
	check_int(event_base_loopexit(base, &limit), ==, 0);
	check_int(event_base_loop(base, EVLOOP_ONCE), ==, 0);
	check_int(calls, ==, 1);
	check_int(last_what, ==, EV_READ);
end:
	if (old)
		event_free(old);
	if (new)
		event_free(new);
	if (peer >= 0) {
		close(peer);
		close(fd);
	}
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	if (base)
		event_base_free(base);
}

static const struct check_case cases[] = {
	{"closed_with_event_then_reused", closed_with_event_then_reused},
	{"deleted_after_close_then_reused", deleted_after_close_then_reused},
	{NULL, NULL}
};

int
main(int argc, char **argv)
{
	return check_main(cases, argc, argv);
}
