/*
 * test_util: the socket helpers of event2/util.h that the first slice
 * provides: evutil_socketpair, evutil_make_socket_nonblocking,
 * evutil_make_socket_closeonexec, evutil_make_listen_socket_reuseable and
 * evutil_closesocket.
 */
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/util.h>

#include "check.h"

static int
sockopt(evutil_socket_t fd, int level, int name)
{
	int v = 0;
	socklen_t len = sizeof(v);

	if (getsockopt(fd, level, name, &v, &len) < 0)
		return -1;
	return v;
}

/* evutil_socketpair gives two connected stream sockets. */
static void
socketpair_connected(void)
{
	evutil_socket_t fds[2] = {-1, -1};
	char buf[8];

	check_int(evutil_socketpair(AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
	check_int(fds[0], >=, 0);
	check_int(fds[1], >=, 0);
	check_int(fds[0], !=, fds[1]);
	check_int(sockopt(fds[0], SOL_SOCKET, SO_TYPE), ==, SOCK_STREAM);
	check_int(write(fds[0], "ping", 4), ==, 4);
	check_int(read(fds[1], buf, sizeof(buf)), ==, 4);
	check_mem(buf, "ping", 4);
	check_int(write(fds[1], "pong!", 5), ==, 5);
	check_int(read(fds[0], buf, sizeof(buf)), ==, 5);
	check_mem(buf, "pong!", 5);
	/* Closing one end is EOF on the other. */
	check_int(evutil_closesocket(fds[1]), ==, 0);
	fds[1] = -1;
	check_int(read(fds[0], buf, sizeof(buf)), ==, 0);
end:
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
}

/* A new pair is blocking; make_socket_nonblocking sets O_NONBLOCK. */
static void
make_nonblocking(void)
{
	evutil_socket_t fds[2] = {-1, -1};
	char c;

	check_int(evutil_socketpair(AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
	check_int(fcntl(fds[0], F_GETFL) & O_NONBLOCK, ==, 0);
	check_int(evutil_make_socket_nonblocking(fds[0]), ==, 0);
	check(fcntl(fds[0], F_GETFL) & O_NONBLOCK);
	errno = 0;
	check_int(read(fds[0], &c, 1), ==, -1);
	check(errno == EAGAIN || errno == EWOULDBLOCK);
	/* Again on a nonblocking socket: still fine. */
	check_int(evutil_make_socket_nonblocking(fds[0]), ==, 0);
	check(fcntl(fds[0], F_GETFL) & O_NONBLOCK);
	/* The other end is untouched. */
	check_int(fcntl(fds[1], F_GETFL) & O_NONBLOCK, ==, 0);
end:
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
}

/* make_socket_closeonexec sets FD_CLOEXEC. */
static void
make_closeonexec(void)
{
	evutil_socket_t fds[2] = {-1, -1};

	check_int(evutil_socketpair(AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
	check_int(fcntl(fds[0], F_GETFD) & FD_CLOEXEC, ==, 0);
	check_int(evutil_make_socket_closeonexec(fds[0]), ==, 0);
	check_int(fcntl(fds[0], F_GETFD) & FD_CLOEXEC, ==, FD_CLOEXEC);
end:
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
}

/* make_listen_socket_reuseable sets SO_REUSEADDR (and nothing else). */
static void
listen_socket_reuseable(void)
{
	evutil_socket_t fd = socket(AF_INET, SOCK_STREAM, 0);

	check(fd >= 0);
	check_int(sockopt(fd, SOL_SOCKET, SO_REUSEADDR), ==, 0);
	check_int(evutil_make_listen_socket_reuseable(fd), ==, 0);
	check_int(sockopt(fd, SOL_SOCKET, SO_REUSEADDR), ==, 1);
	check_int(sockopt(fd, SOL_SOCKET, SO_REUSEPORT), ==, 0);
end:
	if (fd >= 0)
		close(fd);
}

/* evutil_closesocket closes; a closed descriptor gives -1 (EBADF). */
static void
closesocket(void)
{
	evutil_socket_t fds[2] = {-1, -1};
	int fd;

	check_int(evutil_socketpair(AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
	fd = fds[0];
	check_int(evutil_closesocket(fd), ==, 0);
	fds[0] = -1;
	errno = 0;
	check_int(fcntl(fd, F_GETFD), ==, -1);
	check_int(errno, ==, EBADF);
	errno = 0;
	check_int(evutil_closesocket(fd), ==, -1);
	check_int(errno, ==, EBADF);
end:
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
}

static const struct check_case cases[] = {
	{"socketpair_connected", socketpair_connected},
	{"make_nonblocking", make_nonblocking},
	{"make_closeonexec", make_closeonexec},
	{"listen_socket_reuseable", listen_socket_reuseable},
	{"closesocket", closesocket},
	{NULL, NULL}
};

int
main(int argc, char **argv)
{
	return check_main(cases, argc, argv);
}
