/*
 * tcp_util.h: a connected loopback TCP pair for the socket tests.
 */
#ifndef BEVRS_TCP_UTIL_H
#define BEVRS_TCP_UTIL_H

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/util.h>

/* A connected loopback TCP pair, both ends nonblocking. */
static inline int
tcp_pair(int fds[2])
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int lfd = socket(AF_INET, SOCK_STREAM, 0);

	fds[0] = fds[1] = -1;
	if (lfd < 0)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    listen(lfd, 1) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &len) < 0)
		goto fail;
	fds[0] = socket(AF_INET, SOCK_STREAM, 0);
	if (fds[0] < 0 ||
	    connect(fds[0], (struct sockaddr *)&sin, sizeof(sin)) < 0)
		goto fail;
	fds[1] = accept(lfd, NULL, NULL);
	if (fds[1] < 0)
		goto fail;
	close(lfd);
	evutil_make_socket_nonblocking(fds[0]);
	evutil_make_socket_nonblocking(fds[1]);
	return 0;
fail:
	close(lfd);
	if (fds[0] >= 0)
		close(fds[0]);
	fds[0] = -1;
	return -1;
}

#endif
