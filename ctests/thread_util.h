/*
 * thread_util.h: what the thread tests share: short sleeps, flags one
 * thread sets and another polls, and a timer that keeps a loop blocked
 * in epoll so that only another thread can wake it.
 */
#ifndef BEVRS_THREAD_UTIL_H
#define BEVRS_THREAD_UTIL_H

#include <time.h>

#include <event2/event.h>

#include "check.h"

static inline void
sleep_ms(int ms)
{
	struct timespec ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	nanosleep(&ts, NULL);
}

/* An atomic flag another thread sets and this one polls. */
static inline int
flag_get(int *flag)
{
	return __atomic_load_n(flag, __ATOMIC_SEQ_CST);
}

static inline void
flag_set(int *flag, int value)
{
	__atomic_store_n(flag, value, __ATOMIC_SEQ_CST);
}

/* Waits up to a few seconds for *flag to become nonzero. */
static inline int
flag_wait(int *flag)
{
	int i;

	for (i = 0; i < 500 * check_time_scale(); i++) {
		if (flag_get(flag))
			return 1;
		sleep_ms(10);
	}
	return 0;
}

static inline void
nothing(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

/* A persistent 30-second timer: keeps a loop blocked in epoll. */
static inline struct event *
blocker(struct event_base *base)
{
	struct event *ev = event_new(base, -1, EV_PERSIST, nothing, NULL);
	struct timeval tv = { 30, 0 };

	event_add(ev, &tv);
	return ev;
}

#endif /* BEVRS_THREAD_UTIL_H */
