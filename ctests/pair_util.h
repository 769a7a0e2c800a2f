/*
 * pair_util.h: what the pair and filter tests share: the lengths of a
 * bufferevent's buffers, and the teardown.
 */
#ifndef BEVRS_PAIR_UTIL_H
#define BEVRS_PAIR_UTIL_H

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

/* How many bytes wait in the input, and in the output. */
static inline size_t
in_len(struct bufferevent *bev)
{
	return evbuffer_get_length(bufferevent_get_input(bev));
}

static inline size_t
out_len(struct bufferevent *bev)
{
	return evbuffer_get_length(bufferevent_get_output(bev));
}

/*
 * Frees what a case made, whichever of it exists: a filter (which may own
 * a half), the halves still held, then the base.
 */
static inline void
pair_case_free(struct event_base *base, struct bufferevent *filt,
    struct bufferevent **pair)
{
	if (filt)
		bufferevent_free(filt);
	if (pair[0])
		bufferevent_free(pair[0]);
	if (pair[1])
		bufferevent_free(pair[1]);
	if (base)
		event_base_free(base);
}

#endif
