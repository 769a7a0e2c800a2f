/*
 * Rate limiting: token bucket configurations, per-bufferevent buckets,
 * groups, and a limited socket that really is slowed down.
 */
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>

#include "check.h"

/* RL-1 */
static void
cfg_checks(void)
{
	struct ev_token_bucket_cfg *c = NULL;
	struct timeval tick = { 0, 100000 };

	check_ptr(ev_token_bucket_cfg_new(10, 5, 10, 10, NULL), ==, NULL);
	check_ptr(ev_token_bucket_cfg_new(10, 10, 11, 10, NULL), ==, NULL);
	check_ptr(ev_token_bucket_cfg_new(0, 10, 10, 10, NULL), ==, NULL);
	check_ptr(ev_token_bucket_cfg_new(10, 10, 0, 10, NULL), ==, NULL);
	check_ptr(ev_token_bucket_cfg_new(10, (size_t)EV_RATE_LIMIT_MAX + 1,
	    10, 10, NULL), ==, NULL);
	c = ev_token_bucket_cfg_new(10, 10, 20, 20, &tick);
	check(c != NULL);
end:
	if (c)
		ev_token_bucket_cfg_free(c);
}

/* RL-2..RL-6 */
static void
bev_buckets(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *bev = NULL;
	struct ev_token_bucket_cfg *c = NULL;
	struct timeval tick = { 3600, 0 };

	check(base != NULL);
	bev = bufferevent_socket_new(base, -1, 0);
	check(bev != NULL);
	check_int(EV_RATE_LIMIT_MAX, ==, EV_SSIZE_MAX);
	check_int(bufferevent_get_read_limit(bev), ==, EV_SSIZE_MAX);
	check_int(bufferevent_get_write_limit(bev), ==, EV_SSIZE_MAX);
	check_ptr(bufferevent_get_token_bucket_cfg(bev), ==, NULL);
	check_int(bufferevent_get_max_to_read(bev), ==, 16384);
	/*
	 * An hour-long tick, so that no refill happens during the test: ticks
	 * are counted from a fixed start, and a 10-second one could end
	 * during a slow (valgrind) run.
	 */
	c = ev_token_bucket_cfg_new(30000, 60000, 100, 200, &tick);
	check(c != NULL);
	check_int(bufferevent_set_rate_limit(bev, c), ==, 0);
	check_ptr(bufferevent_get_token_bucket_cfg(bev), ==, c);
	/* RL-3: the buckets start at one tick's rate. */
	check_int(bufferevent_get_read_limit(bev), ==, 30000);
	check_int(bufferevent_get_write_limit(bev), ==, 100);
	/* RL-4: not clamped to max_single_read. */
	check_int(bufferevent_get_max_to_read(bev), ==, 30000);
	check_int(bufferevent_get_max_to_write(bev), ==, 100);
	/* RL-5: may go negative; a negative amount adds. */
	check_int(bufferevent_decrement_read_limit(bev, 30010), ==, 0);
	check_int(bufferevent_get_read_limit(bev), ==, -10);
	check_int(bufferevent_get_max_to_read(bev), ==, 0);
	check_int(bufferevent_decrement_read_limit(bev, -20), ==, 0);
	check_int(bufferevent_get_read_limit(bev), ==, 10);
	check_int(bufferevent_decrement_write_limit(bev, 40), ==, 0);
	check_int(bufferevent_get_write_limit(bev), ==, 60);
	/* RL-6: removing the limit. */
	check_int(bufferevent_set_rate_limit(bev, NULL), ==, 0);
	check_int(bufferevent_get_read_limit(bev), ==, EV_SSIZE_MAX);
	check_int(bufferevent_get_max_to_read(bev), ==, 16384);
end:
	if (bev)
		bufferevent_free(bev);
	if (c)
		ev_token_bucket_cfg_free(c);
	if (base)
		event_base_free(base);
}

/* RL-9..RL-12 */
static void
group_basics(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *a = NULL, *b = NULL;
	struct ev_token_bucket_cfg *c = NULL, *c2 = NULL;
	struct bufferevent_rate_limit_group *g = NULL;
	struct timeval tick = { 3600, 0 };
	ev_uint64_t rd = 1, wr = 1;

	check(base != NULL);
	a = bufferevent_socket_new(base, -1, 0);
	b = bufferevent_socket_new(base, -1, 0);
	check(a != NULL && b != NULL);
	c = ev_token_bucket_cfg_new(1000, 2000, 500, 1000, &tick);
	check(c != NULL);
	g = bufferevent_rate_limit_group_new(base, c);
	check(g != NULL);
	check_int(bufferevent_rate_limit_group_get_read_limit(g), ==, 1000);
	check_int(bufferevent_rate_limit_group_get_write_limit(g), ==, 500);
	check_int(bufferevent_add_to_rate_limit_group(a, g), ==, 0);
	/* Alone, a member may use the whole bucket (under max_single). */
	check_int(bufferevent_get_max_to_read(a), ==, 1000);
	check_int(bufferevent_add_to_rate_limit_group(b, g), ==, 0);
	check_int(bufferevent_get_max_to_read(a), ==, 500);
	check_int(bufferevent_get_max_to_write(b), ==, 250);
	/* A member's own limit is unaffected by the group. */
	check_int(bufferevent_get_read_limit(a), ==, EV_SSIZE_MAX);
	/* RL-12: the min share (64) raises a small share. */
	check_int(bufferevent_rate_limit_group_decrement_read(g, 900), ==, 0);
	check_int(bufferevent_rate_limit_group_get_read_limit(g), ==, 100);
	check_int(bufferevent_get_max_to_read(a), ==, 64);
	check_int(bufferevent_rate_limit_group_set_min_share(g, 0), ==, 0);
	check_int(bufferevent_get_max_to_read(a), ==, 50);
	/* RL-11: at 0 or below, members get nothing. */
	check_int(bufferevent_rate_limit_group_decrement_read(g, 100), ==, 0);
	check_int(bufferevent_get_max_to_read(a), ==, 0);
	check_int(bufferevent_rate_limit_group_decrement_read(g, -300), ==, 0);
	check_int(bufferevent_rate_limit_group_get_read_limit(g), ==, 300);
	/* set_cfg clips the bucket down to the new burst. */
	c2 = ev_token_bucket_cfg_new(100, 200, 100, 200, &tick);
	check(c2 != NULL);
	check_int(bufferevent_rate_limit_group_set_cfg(g, c2), ==, 0);
	check_int(bufferevent_rate_limit_group_get_read_limit(g), ==, 200);
	check_int(bufferevent_rate_limit_group_get_write_limit(g), ==, 200);
	/* RL-10: nothing moved yet. */
	bufferevent_rate_limit_group_get_totals(g, &rd, &wr);
	check_int(rd, ==, 0);
	check_int(wr, ==, 0);
	/* Leaving the group restores the default. */
	check_int(bufferevent_remove_from_rate_limit_group(a), ==, 0);
	check_int(bufferevent_get_max_to_read(a), ==, 16384);
	check_int(bufferevent_remove_from_rate_limit_group(b), ==, 0);
end:
	if (a)
		bufferevent_free(a);
	if (b)
		bufferevent_free(b);
	if (g)
		bufferevent_rate_limit_group_free(g);
	if (c)
		ev_token_bucket_cfg_free(c);
	if (c2)
		ev_token_bucket_cfg_free(c2);
	if (base)
		event_base_free(base);
}

struct reader {
	struct event_base *base;
	size_t got;
	size_t want;
};

static void
reader_cb(struct bufferevent *bev, void *arg)
{
	struct reader *r = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	r->got += evbuffer_get_length(in);
	evbuffer_drain(in, evbuffer_get_length(in));
	if (r->got >= r->want)
		event_base_loopexit(r->base, NULL);
}

/*
 * RL-7, RL-10: a limited socket reads its first bucket, then about one
 * rate per tick; group totals count what members read.
 */
static void
socket_is_slowed(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *bev = NULL;
	struct ev_token_bucket_cfg *c = NULL;
	struct bufferevent_rate_limit_group *g = NULL;
	struct timeval tick;
	struct reader r;
	int fds[2] = { -1, -1 };
	char data[6000];
	long long t0, elapsed;
	int scale = check_time_scale();
	ev_uint64_t rd = 0, wr = 0;

	memset(data, 'r', sizeof(data));
	check(base != NULL);
	check_int(evutil_socketpair(AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
	evutil_make_socket_nonblocking(fds[0]);
	check_int(write(fds[1], data, sizeof(data)), ==, (int)sizeof(data));
	bev = bufferevent_socket_new(base, fds[0], 0);
	check(bev != NULL);
	check_set_ms(&tick, 50 * scale);
	/* 1000 bytes per 50 ms tick: 6000 bytes need about 5 more ticks. */
	c = ev_token_bucket_cfg_new(1000, 1000, 1000, 1000, &tick);
	check(c != NULL);
	check_int(bufferevent_set_rate_limit(bev, c), ==, 0);
	g = bufferevent_rate_limit_group_new(base, c);
	check(g != NULL);
	check_int(bufferevent_add_to_rate_limit_group(bev, g), ==, 0);
	r.base = base;
	r.got = 0;
	r.want = sizeof(data);
	bufferevent_setcb(bev, reader_cb, NULL, NULL, &r);
	check_int(bufferevent_enable(bev, EV_READ), ==, 0);
	t0 = check_now_ms();
	event_base_dispatch(base);
	elapsed = check_now_ms() - t0;
	check_int(r.got, ==, sizeof(data));
	/* At least four whole ticks must pass; far less than unlimited. */
	check_int(elapsed, >=, 4 * 50 * scale - 10);
	check_int(elapsed, <, 40 * 50 * scale);
	bufferevent_rate_limit_group_get_totals(g, &rd, &wr);
	check_int(rd, ==, sizeof(data));
	check_int(wr, ==, 0);
	bufferevent_rate_limit_group_reset_totals(g);
	bufferevent_rate_limit_group_get_totals(g, &rd, &wr);
	check_int(rd, ==, 0);
	check_int(bufferevent_remove_from_rate_limit_group(bev), ==, 0);
end:
	if (bev)
		bufferevent_free(bev);
	if (g)
		bufferevent_rate_limit_group_free(g);
	if (c)
		ev_token_bucket_cfg_free(c);
	if (fds[1] >= 0)
		close(fds[1]);
	if (base)
		event_base_free(base);
}

/* RL-8: pairs ignore rate limits. */
static void
pairs_ignore_limits(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *pair[2] = { NULL, NULL };
	struct ev_token_bucket_cfg *c = NULL;
	char data[5000];

	memset(data, 'p', sizeof(data));
	check(base != NULL);
	check_int(bufferevent_pair_new(base, 0, pair), ==, 0);
	c = ev_token_bucket_cfg_new(10, 10, 10, 10, NULL);
	check(c != NULL);
	check_int(bufferevent_set_rate_limit(pair[0], c), ==, 0);
	check_int(bufferevent_set_rate_limit(pair[1], c), ==, 0);
	check_int(bufferevent_enable(pair[1], EV_READ), ==, 0);
	check_int(bufferevent_write(pair[0], data, sizeof(data)), ==, 0);
	check_int(evbuffer_get_length(bufferevent_get_input(pair[1])), ==,
	    sizeof(data));
end:
	if (pair[0])
		bufferevent_free(pair[0]);
	if (pair[1])
		bufferevent_free(pair[1]);
	if (c)
		ev_token_bucket_cfg_free(c);
	if (base)
		event_base_free(base);
}

/* Freeing a member leaves the group consistent: once the loop has torn the
 * member down, the group counts one member less and can be freed. */
static void
freed_member_leaves_group(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *a = NULL, *b = NULL;
	struct ev_token_bucket_cfg *c = NULL;
	struct bufferevent_rate_limit_group *g = NULL;
	struct timeval tick = { 3600, 0 };

	check(base != NULL);
	a = bufferevent_socket_new(base, -1, 0);
	b = bufferevent_socket_new(base, -1, 0);
	check(a != NULL && b != NULL);
	c = ev_token_bucket_cfg_new(1000, 2000, 1000, 2000, &tick);
	check(c != NULL);
	g = bufferevent_rate_limit_group_new(base, c);
	check(g != NULL);
	check_int(bufferevent_add_to_rate_limit_group(a, g), ==, 0);
	check_int(bufferevent_add_to_rate_limit_group(b, g), ==, 0);
	check_int(bufferevent_get_max_to_read(b), ==, 500);
	bufferevent_free(a);
	a = NULL;
	event_base_loop(base, EVLOOP_NONBLOCK);
	/* b is alone now and may use the whole bucket. */
	check_int(bufferevent_get_max_to_read(b), ==, 1000);
	bufferevent_free(b);
	b = NULL;
	event_base_loop(base, EVLOOP_NONBLOCK);
end:
	if (a)
		bufferevent_free(a);
	if (b)
		bufferevent_free(b);
	if (g)
		bufferevent_rate_limit_group_free(g);
	if (c)
		ev_token_bucket_cfg_free(c);
	if (base)
		event_base_free(base);
}

static const struct check_case cases[] = {
	{ "freed_member_leaves_group", freed_member_leaves_group },
	{ "cfg_checks", cfg_checks },
	{ "bev_buckets", bev_buckets },
	{ "group_basics", group_basics },
	{ "socket_is_slowed", socket_is_slowed },
	{ "pairs_ignore_limits", pairs_ignore_limits },
	{ NULL, NULL },
};

int
main(int argc, char **argv)
{
	return check_main(cases, argc, argv);
}
