/*
 * dns_util.h: what the DNS tests share: a UDP socket on the loopback
 * address for a server to answer on, and a record of what an
 * evdns_callback_type callback was given.
 */
#ifndef BEVRS_DNS_UTIL_H
#define BEVRS_DNS_UTIL_H

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include "loop_util.h"

/*
 * A UDP socket bound to 127.0.0.1 on a port the system picks, stored in
 * *port; nonblocking if asked (a forked server reads it blocking). -1 on
 * failure.
 */
static inline evutil_socket_t
udp_loopback(int *port, int nonblocking)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	evutil_socket_t fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
		close(fd);
		return -1;
	}
	if (nonblocking)
		evutil_make_socket_nonblocking(fd);
	*port = ntohs(sin.sin_port);
	return fd;
}

/* What an evdns_callback_type callback was given. */
struct res {
	int called;
	int order;
	int result;
	int type;
	int count;
	int ttl;
	int null_addrs;
	unsigned char addrs[64];
	char name[64];
};

/* How many results came in so far: each result's order. */
static int res_calls;

/* An evdns_callback_type callback filling the struct res at arg: the
 * first addresses (as many as fit), or the name of a PTR answer. */
static inline void
resolved(int result, char type, int count, int ttl, void *addresses,
    void *arg)
{
	struct res *r = arg;

	r->called++;
	r->order = ++res_calls;
	r->result = result;
	r->type = type;
	r->count = count;
	r->ttl = ttl;
	r->null_addrs = addresses == NULL;
	if (addresses && type == DNS_IPv4_A)
		memcpy(r->addrs, addresses, 4 * (count < 16 ? count : 16));
	if (addresses && type == DNS_IPv6_AAAA)
		memcpy(r->addrs, addresses, 16 * (count < 4 ? count : 4));
	if (addresses && type == DNS_PTR)
		snprintf(r->name, sizeof(r->name), "%s", *(char **)addresses);
}

/* Runs the loop until the callback of r ran (or nothing is left). */
static inline void
wait_res(struct event_base *base, struct res *r)
{
	run_until(base, &r->called);
}

#endif
