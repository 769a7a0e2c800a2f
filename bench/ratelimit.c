/*
 * Rate-limit accuracy. For <seconds> seconds, on AF_UNIX socketpairs:
 *   - one bufferevent limited to <rate> KiB/s reading and writing, its
 *     unlimited peer sending to it and draining it as fast as it can;
 *   - <members> bufferevents in one rate-limit group sharing <grate>
 *     KiB/s each way, each with an unlimited peer doing the same.
 * Both run in the same loop at the same time. Every byte that arrives, in
 * either direction, is checked against the stream it was sent as; a wrong
 * byte or an unexpected event fails the run. The accuracy is reported,
 * never judged:
 *   value          the worst of the four errors below, in percent
 *   single_rd/wr   achieved vs configured rate of the single bufferevent
 *   group_rd/wr    achieved vs configured rate of the whole group
 *   min_share      the least a member moved (reading plus writing) as a
 *                  fraction of its fair share; starved=1 if below 0.5
 *   max_tick       the most bytes the single bufferevent read in one tick
 *                  (a wall-clock window of <tick_ms>, the reference's tick
 *                  boundaries), next to burst, its configured burst
 *   cpu_s          user plus system CPU time of the whole process
 *                  (getrusage), to show the limited side does not spin
 * One op is one KiB moved by the limited bufferevents, either way.
 *
 * Arguments: seconds=3 rate=100 grate=500 members=20 tick_ms=100
 *            burst_ticks=1 (burst as a multiple of the per-tick rate)
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>

#include "bench.h"

#define CHUNK 4096
#define TOPUP (8 * CHUNK)

/* One direction of one connection: what was sent and what arrived. */
struct stream {
	unsigned id;
	unsigned long long sent;
	unsigned long long got;
};

/* One socketpair: the limited end and its unlimited peer. */
struct link {
	struct bufferevent *lim;
	struct bufferevent *peer;
	struct stream down; /* peer -> lim: the limited end reads it */
	struct stream up;   /* lim -> peer: the limited end writes it */
};

static long tick_ms;
static int counting;
static unsigned long long tick_index = (unsigned long long)-1;
static unsigned long long tick_bytes;
static unsigned long long max_tick;
static struct link *single_link;

static unsigned long long
wall_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (unsigned long long)tv.tv_sec * 1000 +
	    (unsigned long long)tv.tv_usec / 1000;
}

/* Adds stream chunks to out until it holds at least TOPUP bytes. */
static void
top_up(struct evbuffer *out, struct stream *s)
{
	while (evbuffer_get_length(out) < TOPUP) {
		unsigned k = (unsigned)(s->sent / CHUNK);

		if (evbuffer_add(out, bench_pattern(CHUNK, s->id, k),
		    CHUNK) != 0)
			bench_fail("evbuffer_add failed");
		s->sent += CHUNK;
	}
}

/* Takes everything in `in` and checks it against stream s. */
static size_t
take(struct evbuffer *in, struct stream *s)
{
	unsigned char buf[CHUNK];
	size_t total = 0;

	for (;;) {
		size_t pos = (size_t)(s->got % CHUNK);
		unsigned k = (unsigned)(s->got / CHUNK);
		int n = evbuffer_remove(in, buf, CHUNK - pos);

		if (n <= 0)
			break;
		if (memcmp(buf, bench_pattern(CHUNK, s->id, k) + pos,
		    (size_t)n) != 0)
			bench_fail("stream %u: wrong data near byte %llu",
			    s->id, s->got);
		s->got += (unsigned long long)n;
		total += (size_t)n;
	}
	if (s->got > s->sent)
		bench_fail("stream %u: more data than sent", s->id);
	return total;
}

static void
lim_read(struct bufferevent *bev, void *arg)
{
	struct link *l = arg;
	size_t n = take(bufferevent_get_input(bev), &l->down);

	if (l == single_link && counting) {
		unsigned long long t = wall_ms() / (unsigned long long)tick_ms;

		if (t != tick_index) {
			tick_index = t;
			tick_bytes = 0;
		}
		tick_bytes += n;
		if (tick_bytes > max_tick)
			max_tick = tick_bytes;
	}
}

static void
lim_write(struct bufferevent *bev, void *arg)
{
	struct link *l = arg;

	if (counting)
		top_up(bufferevent_get_output(bev), &l->up);
}

static void
peer_read(struct bufferevent *bev, void *arg)
{
	struct link *l = arg;

	take(bufferevent_get_input(bev), &l->up);
}

static void
peer_write(struct bufferevent *bev, void *arg)
{
	struct link *l = arg;

	if (counting)
		top_up(bufferevent_get_output(bev), &l->down);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)arg;
	bench_fail("unexpected event 0x%x", what);
}

static void
link_open(struct event_base *base, struct link *l, unsigned id)
{
	evutil_socket_t fds[2];
	int opt = BEV_OPT_CLOSE_ON_FREE;

	if (evutil_socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0)
		bench_fail("socketpair failed");
	evutil_make_socket_nonblocking(fds[0]);
	evutil_make_socket_nonblocking(fds[1]);
	l->lim = bufferevent_socket_new(base, fds[0], opt);
	l->peer = bufferevent_socket_new(base, fds[1], opt);
	if (!l->lim || !l->peer)
		bench_fail("bufferevent_socket_new failed");
	l->down.id = 2 * id;
	l->up.id = 2 * id + 1;
	bufferevent_setcb(l->lim, lim_read, lim_write, on_event, l);
	bufferevent_setcb(l->peer, peer_read, peer_write, on_event, l);
	bufferevent_setwatermark(l->lim, EV_WRITE, TOPUP / 2, 0);
	bufferevent_setwatermark(l->peer, EV_WRITE, TOPUP / 2, 0);
}

static void
link_start(struct link *l)
{
	top_up(bufferevent_get_output(l->lim), &l->up);
	top_up(bufferevent_get_output(l->peer), &l->down);
	bufferevent_enable(l->lim, EV_READ | EV_WRITE);
	bufferevent_enable(l->peer, EV_READ | EV_WRITE);
}

static double
pct_err(double got, double want)
{
	return (got - want) / want * 100.0;
}

static double
absd(double x)
{
	return x < 0 ? -x : x;
}

static double
cpu_seconds(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		bench_fail("getrusage failed");
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void
stop(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	counting = 0;
	event_base_loopbreak(arg);
}

int
main(int argc, char **argv)
{
	long seconds, rate_kib, grate_kib, members, burst_ticks, i;
	size_t per_tick, gper_tick;
	struct event_base *base;
	struct ev_token_bucket_cfg *cfg, *gcfg;
	struct bufferevent_rate_limit_group *group;
	struct link single, *grp;
	struct event *timer;
	struct timeval run = { 0, 0 }, tick = { 0, 0 };
	unsigned long long s_rd, s_wr, g_rd = 0, g_wr = 0, least = ~0ULL;
	double t0, t1, cpu0, cpu1, el, e_srd, e_swr, e_grd, e_gwr, worst;
	double fair, share;
	char line[512];

	bench_set_name("ratelimit");
	seconds = bench_arg(argc, argv, "seconds", 3);
	rate_kib = bench_arg(argc, argv, "rate", 100);
	grate_kib = bench_arg(argc, argv, "grate", 500);
	members = bench_arg(argc, argv, "members", 20);
	tick_ms = bench_arg(argc, argv, "tick_ms", 100);
	burst_ticks = bench_arg(argc, argv, "burst_ticks", 1);
	if (seconds < 1 || rate_kib < 1 || grate_kib < 1 || members < 1 ||
	    tick_ms < 1 || burst_ticks < 1)
		bench_fail("all arguments must be at least 1");

	per_tick = (size_t)(rate_kib * 1024 * tick_ms / 1000);
	gper_tick = (size_t)(grate_kib * 1024 * tick_ms / 1000);
	tick.tv_sec = tick_ms / 1000;
	tick.tv_usec = (tick_ms % 1000) * 1000;
	run.tv_sec = seconds;

	base = event_base_new();
	grp = calloc((size_t)members, sizeof(*grp));
	if (!base || !grp)
		bench_fail("setup failed");
	memset(&single, 0, sizeof(single));
	single_link = &single;
	cfg = ev_token_bucket_cfg_new(per_tick, per_tick * burst_ticks,
	    per_tick, per_tick * burst_ticks, &tick);
	gcfg = ev_token_bucket_cfg_new(gper_tick, gper_tick * burst_ticks,
	    gper_tick, gper_tick * burst_ticks, &tick);
	if (!cfg || !gcfg)
		bench_fail("ev_token_bucket_cfg_new failed");
	group = bufferevent_rate_limit_group_new(base, gcfg);
	if (!group)
		bench_fail("bufferevent_rate_limit_group_new failed");

	link_open(base, &single, 0);
	if (bufferevent_set_rate_limit(single.lim, cfg) != 0)
		bench_fail("bufferevent_set_rate_limit failed");
	for (i = 0; i < members; i++) {
		link_open(base, &grp[i], (unsigned)i + 1);
		if (bufferevent_add_to_rate_limit_group(grp[i].lim, group))
			bench_fail("bufferevent_add_to_rate_limit_group "
			    "failed");
	}
	timer = evtimer_new(base, stop, base);
	if (!timer || evtimer_add(timer, &run) != 0)
		bench_fail("timer failed");

	counting = 1;
	cpu0 = cpu_seconds();
	t0 = bench_now();
	link_start(&single);
	for (i = 0; i < members; i++)
		link_start(&grp[i]);
	if (event_base_dispatch(base) < 0)
		bench_fail("event_base_dispatch failed");
	t1 = bench_now();
	cpu1 = cpu_seconds();
	el = t1 - t0;

	/* What the limited ends read, and what their peers read of theirs:
	 * bytes still in a socket or a buffer are not counted as moved. */
	s_rd = single.down.got;
	s_wr = single.up.got;
	for (i = 0; i < members; i++) {
		unsigned long long m = grp[i].down.got + grp[i].up.got;

		g_rd += grp[i].down.got;
		g_wr += grp[i].up.got;
		if (m < least)
			least = m;
	}
	if (s_rd == 0 || s_wr == 0 || g_rd == 0 || g_wr == 0)
		bench_fail("a limited direction moved nothing");

	e_srd = pct_err(s_rd / el, rate_kib * 1024.0);
	e_swr = pct_err(s_wr / el, rate_kib * 1024.0);
	e_grd = pct_err(g_rd / el, grate_kib * 1024.0);
	e_gwr = pct_err(g_wr / el, grate_kib * 1024.0);
	worst = absd(e_srd);
	if (absd(e_swr) > worst)
		worst = absd(e_swr);
	if (absd(e_grd) > worst)
		worst = absd(e_grd);
	if (absd(e_gwr) > worst)
		worst = absd(e_gwr);
	fair = 2.0 * grate_kib * 1024.0 * el / (double)members;
	share = (double)least / fair;

	for (i = 0; i < members; i++) {
		/* Members leave the group before it goes: 2.1.12 frees
		 * a bufferevent (and leaves its group) later, in the loop. */
		if (bufferevent_remove_from_rate_limit_group(grp[i].lim) != 0)
			bench_fail("bufferevent_remove_from_rate_limit_group "
			    "failed");
		bufferevent_free(grp[i].lim);
		bufferevent_free(grp[i].peer);
	}
	bufferevent_free(single.lim);
	bufferevent_free(single.peer);
	bufferevent_rate_limit_group_free(group);
	ev_token_bucket_cfg_free(cfg);
	ev_token_bucket_cfg_free(gcfg);
	event_free(timer);
	event_base_free(base);
	free(grp);

	snprintf(line, sizeof(line),
	    "single_rd=%+.1f%% single_wr=%+.1f%% group_rd=%+.1f%% "
	    "group_wr=%+.1f%% min_share=%.2f starved=%d max_tick=%llu "
	    "burst=%zu cpu_s=%.3f",
	    e_srd, e_swr, e_grd, e_gwr, share, share < 0.5 ? 1 : 0,
	    max_tick, per_tick * (size_t)burst_ticks, cpu1 - cpu0);
	printf("RESULT name=ratelimit ops=%llu seconds=%.6f rate=%.1f "
	    "value=%.2f unit=%%err better=lower %s\n",
	    (s_rd + s_wr + g_rd + g_wr) / 1024, el,
	    (double)(s_rd + s_wr + g_rd + g_wr) / 1024.0 / el, worst, line);
	return 0;
}
