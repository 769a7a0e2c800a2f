/*
 * bench_net.h: the loopback listener the TCP benchmarks share.
 */
#ifndef BEVRS_BENCH_NET_H
#define BEVRS_BENCH_NET_H

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/listener.h>

#include "bench.h"

/*
 * A listener on 127.0.0.1 at a port the kernel picks, calling cb for each
 * connection; *addr gets the address to connect to. Fails the run if it
 * cannot be made.
 */
static inline struct evconnlistener *
bench_listen_loopback(struct event_base *base, evconnlistener_cb cb,
    struct sockaddr_in *addr)
{
	struct evconnlistener *lev;
	socklen_t len = sizeof(*addr);

	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lev = evconnlistener_new_bind(base, cb, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 128,
	    (struct sockaddr *)addr, sizeof(*addr));
	if (!lev)
		bench_fail("evconnlistener_new_bind failed");
	if (getsockname(evconnlistener_get_fd(lev), (struct sockaddr *)addr,
	    &len) != 0)
		bench_fail("getsockname failed");
	return lev;
}

#endif
