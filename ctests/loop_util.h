/*
 * loop_util.h: running a test's loop for a while, or until a callback
 * has done its part.
 */
#ifndef BEVRS_LOOP_UTIL_H
#define BEVRS_LOOP_UTIL_H

#include <event2/event.h>

#include "check.h"

static inline void
loop_util_break_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

/* Runs the loop until a callback breaks it or ms (scaled) have passed. */
static inline void
run_for(struct event_base *base, int ms)
{
	struct event *guard = evtimer_new(base, loop_util_break_cb, base);
	struct timeval tv;

	check_set_ms(&tv, ms * check_time_scale());
	evtimer_add(guard, &tv);
	event_base_dispatch(base);
	event_free(guard);
}

/* Runs the loop one pass at a time until *done is set (or the loop has
 * nothing left to wait for). */
static inline void
run_until(struct event_base *base, const int *done)
{
	while (!*done && event_base_loop(base, EVLOOP_ONCE) == 0)
		;
}

#endif
