/*
 * test_thread.c: libevent_pthreads and the thread-safety it gives bases,
 * bufferevents, evbuffers and listeners: locks that other threads wait on,
 * loops woken by other threads, event_del waiting for a running callback,
 * and several threads writing to bufferevents that another thread frees.
 *
 * The first case must run before evthread_use_pthreads(), so the whole
 * table runs in one process in order; every later case installs the
 * pthread functions itself (installing twice is allowed).
 */
#include <fcntl.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>
#include <event2/thread.h>

#include "check.h"
#include "thread_util.h"

static void
threadsafe_refused_before_install(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *bev = NULL, *pair[2] = { NULL, NULL };
	struct evbuffer *buf = evbuffer_new();

	check(base != NULL);
	bev = bufferevent_socket_new(base, -1, BEV_OPT_THREADSAFE);
	check_ptr(bev, ==, NULL);
	check_int(bufferevent_pair_new(base, BEV_OPT_THREADSAFE, pair), ==, -1);
	check_int(evbuffer_enable_locking(buf, NULL), ==, -1);
	/* Without a thread implementation the lock calls do nothing. */
	evbuffer_lock(buf);
	evbuffer_unlock(buf);
end:
	if (bev)
		bufferevent_free(bev);
	evbuffer_free(buf);
	if (base)
		event_base_free(base);
}

static void
install_twice(void)
{
	struct event_base *base = NULL;

	check_int(evthread_use_pthreads(), ==, 0);
	check_int(evthread_use_pthreads(), ==, 0);
	base = event_base_new();
	check(base != NULL);
	check_int(evthread_make_base_notifiable(base), ==, 0);
	check_int(evthread_make_base_notifiable(NULL), ==, -1);
end:
	if (base)
		event_base_free(base);
}

/* A thread that takes a bufferevent's lock, says so, and lets it go. */
struct locker {
	struct bufferevent *bev;
	int got;
};

static void *
locker_main(void *arg)
{
	struct locker *l = arg;

	bufferevent_lock(l->bev);
	flag_set(&l->got, 1);
	bufferevent_unlock(l->bev);
	return NULL;
}

static void
lock_is_recursive_and_holds_a_reference(void)
{
	struct event_base *base = NULL;
	struct bufferevent *bev = NULL;
	struct locker l;
	pthread_t t;
	int started = 0;
	int fds[2] = { -1, -1 };

	check_int(evthread_use_pthreads(), ==, 0);
	base = event_base_new();
	check_int(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
	bev = bufferevent_socket_new(base, fds[0],
	    BEV_OPT_THREADSAFE | BEV_OPT_CLOSE_ON_FREE);
	check(bev != NULL);
	/* Taken twice: another thread waits until both are released. */
	bufferevent_lock(bev);
	bufferevent_lock(bev);
	l.bev = bev;
	l.got = 0;
	check_int(pthread_create(&t, NULL, locker_main, &l), ==, 0);
	started = 1;
	sleep_ms(100);
	check_int(flag_get(&l.got), ==, 0);
	bufferevent_unlock(bev);
	sleep_ms(50);
	check_int(flag_get(&l.got), ==, 0);
	bufferevent_unlock(bev);
	check(flag_wait(&l.got));
	pthread_join(t, NULL);
	started = 0;
	/* Freed while locked: the fd stays open until the unlock. */
	bufferevent_lock(bev);
	bufferevent_free(bev);
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_int(fcntl(fds[0], F_GETFD), !=, -1);
	bufferevent_unlock(bev);
	bev = NULL;
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_int(fcntl(fds[0], F_GETFD), ==, -1);
	fds[0] = -1;
end:
	if (started)
		pthread_join(t, NULL);
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	if (base)
		event_base_free(base);
}

/* What a helper thread does to a running loop, after a pause. */
struct poke {
	struct event_base *base;
	struct bufferevent *bev;
	struct event *ev;
	int mode;
};

enum { POKE_WRITE, POKE_ACTIVE_THEN_BREAK, POKE_LOOP_AGAIN };

static int second_loop_result;

static void *
poke_main(void *arg)
{
	struct poke *p = arg;

	sleep_ms(100);
	switch (p->mode) {
	case POKE_WRITE:
		bufferevent_write(p->bev, "hello", 5);
		break;
	case POKE_ACTIVE_THEN_BREAK:
		event_active(p->ev, EV_READ, 1);
		sleep_ms(100);
		event_base_loopbreak(p->base);
		break;
	case POKE_LOOP_AGAIN:
		second_loop_result = event_base_loop(p->base, EVLOOP_NONBLOCK);
		event_base_loopbreak(p->base);
		break;
	}
	return NULL;
}

static void
got_hello(struct bufferevent *bev, void *arg)
{
	char buf[16];
	size_t n = bufferevent_read(bev, buf, sizeof(buf));

	(void)arg;
	if (n == 5 && !memcmp(buf, "hello", 5))
		event_base_loopbreak(bufferevent_get_base(bev));
}

static void
write_from_thread_wakes_loop(void)
{
	struct event_base *base = NULL;
	struct bufferevent *a = NULL, *b = NULL;
	struct event *block = NULL;
	struct poke p;
	pthread_t t;
	int fds[2] = { -1, -1 };
	long long start;

	check_int(evthread_use_pthreads(), ==, 0);
	base = event_base_new();
	check_int(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
	a = bufferevent_socket_new(base, fds[0],
	    BEV_OPT_THREADSAFE | BEV_OPT_CLOSE_ON_FREE);
	b = bufferevent_socket_new(base, fds[1], BEV_OPT_CLOSE_ON_FREE);
	check(a != NULL && b != NULL);
	bufferevent_setcb(b, got_hello, NULL, NULL, NULL);
	bufferevent_enable(b, EV_READ);
	block = blocker(base);
	p.base = base;
	p.bev = a;
	p.mode = POKE_WRITE;
	start = check_now_ms();
	check_int(pthread_create(&t, NULL, poke_main, &p), ==, 0);
	check_int(event_base_dispatch(base), ==, 0);
	pthread_join(t, NULL);
	check_int(check_now_ms() - start, <, 3000 * check_time_scale());
end:
	if (block)
		event_free(block);
	if (a)
		bufferevent_free(a);
	if (b)
		bufferevent_free(b);
	if (base)
		event_base_free(base);
}

static int woken_runs;

static void
woken(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)arg;
	if (what & EV_READ)
		woken_runs++;
}

static void
active_and_loopbreak_from_thread(void)
{
	struct event_base *base = NULL;
	struct event *block = NULL, *ev = NULL;
	struct poke p;
	pthread_t t;
	long long start;

	check_int(evthread_use_pthreads(), ==, 0);
	base = event_base_new();
	block = blocker(base);
	ev = event_new(base, -1, 0, woken, NULL);
	woken_runs = 0;
	p.base = base;
	p.ev = ev;
	p.mode = POKE_ACTIVE_THEN_BREAK;
	start = check_now_ms();
	check_int(pthread_create(&t, NULL, poke_main, &p), ==, 0);
	check_int(event_base_dispatch(base), ==, 0);
	pthread_join(t, NULL);
	check_int(woken_runs, ==, 1);
	check_int(event_base_got_break(base), ==, 1);
	check_int(check_now_ms() - start, <, 3000 * check_time_scale());
end:
	if (ev)
		event_free(ev);
	if (block)
		event_free(block);
	if (base)
		event_base_free(base);
}

static void
second_loop_is_refused(void)
{
	struct event_base *base = NULL;
	struct event *block = NULL;
	struct poke p;
	pthread_t t;

	check_int(evthread_use_pthreads(), ==, 0);
	base = event_base_new();
	block = blocker(base);
	second_loop_result = 0;
	p.base = base;
	p.mode = POKE_LOOP_AGAIN;
	check_int(pthread_create(&t, NULL, poke_main, &p), ==, 0);
	check_int(event_base_dispatch(base), ==, 0);
	pthread_join(t, NULL);
	check_int(second_loop_result, ==, -1);
end:
	if (block)
		event_free(block);
	if (base)
		event_base_free(base);
}

static enum bufferevent_filter_result
pass_through(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t lim,
    enum bufferevent_flush_mode mode, void *ctx)
{
	(void)lim;
	(void)mode;
	(void)ctx;
	evbuffer_add_buffer(dst, src);
	return BEV_OK;
}

static void
filter_has_its_own_lock(void)
{
	struct event_base *base = NULL;
	struct bufferevent *under = NULL, *filt = NULL;
	struct locker l;
	pthread_t t;
	int started = 0;
	int fds[2] = { -1, -1 };

	check_int(evthread_use_pthreads(), ==, 0);
	base = event_base_new();
	check_int(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
	under = bufferevent_socket_new(base, fds[0], BEV_OPT_CLOSE_ON_FREE);
	check(under != NULL);
	filt = bufferevent_filter_new(under, pass_through, pass_through,
	    BEV_OPT_THREADSAFE | BEV_OPT_CLOSE_ON_FREE, NULL, NULL);
	check(filt != NULL);
	under = NULL;
	/*
	 * 2.1.12 makes a thread-safe filter's lock before it records the
	 * underlying bufferevent, so the two do not share it: holding the
	 * filter's lock leaves the underlying free for another thread.
	 */
	bufferevent_lock(filt);
	l.bev = bufferevent_get_underlying(filt);
	l.got = 0;
	check_int(pthread_create(&t, NULL, locker_main, &l), ==, 0);
	started = 1;
	check(flag_wait(&l.got));
	bufferevent_unlock(filt);
end:
	if (started)
		pthread_join(t, NULL);
	if (under)
		bufferevent_free(under);
	if (filt)
		bufferevent_free(filt);
	if (fds[1] >= 0)
		close(fds[1]);
	if (base)
		event_base_free(base);
}

/* event_del from another thread waits for the running callback. */
static int slow_started, slow_done;

static void
slow_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	flag_set(&slow_started, 1);
	sleep_ms(200);
	flag_set(&slow_done, 1);
}

static void *
dispatch_main(void *arg)
{
	event_base_dispatch(arg);
	return NULL;
}

static void
del_waits_for_running_callback(void)
{
	struct event_base *base = NULL;
	struct event *ev = NULL, *block = NULL;
	pthread_t t;
	int started = 0;

	check_int(evthread_use_pthreads(), ==, 0);
	base = event_base_new();
	block = blocker(base);
	ev = event_new(base, -1, EV_PERSIST, slow_cb, NULL);
	slow_started = slow_done = 0;
	event_active(ev, EV_READ, 1);
	check_int(pthread_create(&t, NULL, dispatch_main, base), ==, 0);
	started = 1;
	check(flag_wait(&slow_started));
	check_int(event_del(ev), ==, 0);
	check_int(flag_get(&slow_done), ==, 1);
	event_base_loopbreak(base);
	pthread_join(t, NULL);
	started = 0;
end:
	if (started) {
		event_base_loopbreak(base);
		pthread_join(t, NULL);
	}
	if (ev)
		event_free(ev);
	if (block)
		event_free(block);
	if (base)
		event_base_free(base);
}

/* evbuffer_enable_locking: another thread's add waits for the lock. */
struct adder {
	struct evbuffer *buf;
	int done;
};

static void *
adder_main(void *arg)
{
	struct adder *a = arg;

	evbuffer_add(a->buf, "x", 1);
	flag_set(&a->done, 1);
	return NULL;
}

static void
evbuffer_locking(void)
{
	struct evbuffer *buf = evbuffer_new();
	struct adder a;
	pthread_t t;
	int started = 0;

	check_int(evthread_use_pthreads(), ==, 0);
	check_int(evbuffer_enable_locking(buf, NULL), ==, 0);
	check_int(evbuffer_enable_locking(buf, NULL), ==, -1);
	evbuffer_lock(buf);
	evbuffer_lock(buf);
	a.buf = buf;
	a.done = 0;
	check_int(pthread_create(&t, NULL, adder_main, &a), ==, 0);
	started = 1;
	sleep_ms(100);
	check_int(flag_get(&a.done), ==, 0);
	evbuffer_unlock(buf);
	sleep_ms(50);
	check_int(flag_get(&a.done), ==, 0);
	evbuffer_unlock(buf);
	check(flag_wait(&a.done));
	check_int(evbuffer_get_length(buf), ==, 1);
end:
	if (started)
		pthread_join(t, NULL);
	evbuffer_free(buf);
}

/*
 * Four threads write numbered messages to their own thread-safe
 * bufferevents while the loop thread reads the other ends; a fifth thread
 * frees the writers once their output has drained. Every byte must arrive
 * in order, then EOF.
 */
#define WRITERS 4
#define MESSAGES 2000
#define MSG_SIZE 64

struct lane {
	struct bufferevent *writer, *reader;
	int wrote_all;
	size_t got;
	int eof;
	int bad;
};

static struct lane lanes[WRITERS];
static int lanes_ended;

static void
fill(unsigned char *msg, int lane, int n)
{
	int i;

	for (i = 0; i < MSG_SIZE; i++)
		msg[i] = (unsigned char)(lane * 31 + n * 7 + i);
}

static void *
writer_main(void *arg)
{
	struct lane *l = arg;
	int idx = (int)(l - lanes);
	unsigned char msg[MSG_SIZE];
	int n;

	for (n = 0; n < MESSAGES; n++) {
		fill(msg, idx, n);
		bufferevent_write(l->writer, msg, sizeof(msg));
		if (n % 100 == 0)
			sleep_ms(1);
	}
	flag_set(&l->wrote_all, 1);
	return NULL;
}

static void *
freer_main(void *arg)
{
	int i;
	size_t left;

	(void)arg;
	for (i = 0; i < WRITERS; i++) {
		flag_wait(&lanes[i].wrote_all);
		do {
			sleep_ms(5);
			bufferevent_lock(lanes[i].writer);
			left = evbuffer_get_length(
			    bufferevent_get_output(lanes[i].writer));
			bufferevent_unlock(lanes[i].writer);
		} while (left > 0);
		bufferevent_free(lanes[i].writer);
	}
	return NULL;
}

static void
lane_read(struct bufferevent *bev, void *arg)
{
	struct lane *l = arg;
	int idx = (int)(l - lanes);
	unsigned char msg[MSG_SIZE], want[MSG_SIZE];
	struct evbuffer *in = bufferevent_get_input(bev);

	while (evbuffer_get_length(in) >= MSG_SIZE) {
		evbuffer_remove(in, msg, MSG_SIZE);
		fill(want, idx, (int)(l->got / MSG_SIZE));
		if (memcmp(msg, want, MSG_SIZE))
			l->bad = 1;
		l->got += MSG_SIZE;
	}
}

static void
lane_event(struct bufferevent *bev, short what, void *arg)
{
	struct lane *l = arg;

	if (what & BEV_EVENT_EOF) {
		lane_read(bev, arg);
		l->eof = 1;
		if (++lanes_ended == WRITERS)
			event_base_loopbreak(bufferevent_get_base(bev));
	}
}

static void
writers_and_freer_threads(void)
{
	struct event_base *base = NULL;
	struct event *block = NULL;
	pthread_t writers[WRITERS], freer;
	int fds[2], i, made = 0, freer_made = 0;

	check_int(evthread_use_pthreads(), ==, 0);
	base = event_base_new();
	block = blocker(base);
	memset(lanes, 0, sizeof(lanes));
	lanes_ended = 0;
	for (i = 0; i < WRITERS; i++) {
		check_int(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
		lanes[i].writer = bufferevent_socket_new(base, fds[0],
		    BEV_OPT_THREADSAFE | BEV_OPT_CLOSE_ON_FREE);
		lanes[i].reader = bufferevent_socket_new(base, fds[1],
		    BEV_OPT_CLOSE_ON_FREE);
		check(lanes[i].writer != NULL && lanes[i].reader != NULL);
		bufferevent_setcb(lanes[i].reader, lane_read, NULL,
		    lane_event, &lanes[i]);
		bufferevent_enable(lanes[i].reader, EV_READ);
	}
	for (i = 0; i < WRITERS; i++) {
		check_int(pthread_create(&writers[i], NULL, writer_main,
		    &lanes[i]), ==, 0);
		made++;
	}
	check_int(pthread_create(&freer, NULL, freer_main, NULL), ==, 0);
	freer_made = 1;
	check_int(event_base_dispatch(base), ==, 0);
	for (i = 0; i < WRITERS; i++) {
		check_int(lanes[i].bad, ==, 0);
		check_int(lanes[i].eof, ==, 1);
		check_int(lanes[i].got, ==, (size_t)MESSAGES * MSG_SIZE);
	}
end:
	for (i = 0; i < made; i++)
		pthread_join(writers[i], NULL);
	if (freer_made)
		pthread_join(freer, NULL);
	for (i = 0; i < WRITERS; i++)
		if (lanes[i].reader)
			bufferevent_free(lanes[i].reader);
	if (block)
		event_free(block);
	if (base)
		event_base_free(base);
}

/* A thread-safe pair: another thread writes into one half while the
 * loop thread reads the other; both halves share one lock. */
#define PAIR_MSGS 3000

static size_t pair_got;
static int pair_bad;

static void
pair_read(struct bufferevent *bev, void *arg)
{
	unsigned char msg[8];
	struct evbuffer *in = bufferevent_get_input(bev);
	unsigned n;

	(void)arg;
	while (evbuffer_get_length(in) >= sizeof(msg)) {
		evbuffer_remove(in, msg, sizeof(msg));
		n = (unsigned)(pair_got / sizeof(msg));
		if (msg[0] != (unsigned char)n || msg[7] != (unsigned char)~n)
			pair_bad = 1;
		pair_got += sizeof(msg);
	}
	if (pair_got == PAIR_MSGS * sizeof(msg))
		event_base_loopbreak(bufferevent_get_base(bev));
}

static void *
pair_writer(void *arg)
{
	struct bufferevent *bev = arg;
	unsigned char msg[8];
	unsigned n;

	for (n = 0; n < PAIR_MSGS; n++) {
		memset(msg, 0, sizeof(msg));
		msg[0] = (unsigned char)n;
		msg[7] = (unsigned char)~n;
		bufferevent_write(bev, msg, sizeof(msg));
		if (n % 200 == 0)
			sleep_ms(1);
	}
	return NULL;
}

static void
pair_written_from_another_thread(void)
{
	struct event_base *base = NULL;
	struct bufferevent *pair[2] = { NULL, NULL };
	struct event *block = NULL;
	pthread_t t;
	int started = 0;

	check_int(evthread_use_pthreads(), ==, 0);
	base = event_base_new();
	block = blocker(base);
	check_int(bufferevent_pair_new(base, BEV_OPT_THREADSAFE, pair), ==, 0);
	pair_got = 0;
	pair_bad = 0;
	bufferevent_setcb(pair[1], pair_read, NULL, NULL, NULL);
	bufferevent_enable(pair[1], EV_READ);
	check_int(pthread_create(&t, NULL, pair_writer, pair[0]), ==, 0);
	started = 1;
	check_int(event_base_dispatch(base), ==, 0);
	pthread_join(t, NULL);
	started = 0;
	check_int(pair_bad, ==, 0);
	check_int(pair_got, ==, PAIR_MSGS * 8);
end:
	if (started)
		pthread_join(t, NULL);
	if (pair[0])
		bufferevent_free(pair[0]);
	if (pair[1])
		bufferevent_free(pair[1]);
	if (block)
		event_free(block);
	if (base)
		event_base_free(base);
}

/*
 * Two threads write into two thread-safe socket bufferevents that share
 * one rate-limit group while the loop thread drives them and reads the
 * other ends: every byte arrives, and the group counts them all.
 */
#define GROUP_BYTES (48 * 1024)

struct limited {
	struct bufferevent *writer, *reader;
	size_t got;
	int bad;
};

static struct limited limited[2];
static int limited_done;

static void
limited_read(struct bufferevent *bev, void *arg)
{
	struct limited *l = arg;
	int idx = (int)(l - limited);
	unsigned char buf[4096];
	size_t n, i;

	while ((n = bufferevent_read(bev, buf, sizeof(buf))) > 0) {
		for (i = 0; i < n; i++)
			if (buf[i] != (unsigned char)(idx * 7 + l->got + i))
				l->bad = 1;
		l->got += n;
	}
	if (l->got == GROUP_BYTES && ++limited_done == 2)
		event_base_loopbreak(bufferevent_get_base(bev));
}

static void *
limited_writer(void *arg)
{
	struct limited *l = arg;
	int idx = (int)(l - limited);
	unsigned char buf[1024];
	size_t at, i;

	for (at = 0; at < GROUP_BYTES; at += sizeof(buf)) {
		for (i = 0; i < sizeof(buf); i++)
			buf[i] = (unsigned char)(idx * 7 + at + i);
		bufferevent_write(l->writer, buf, sizeof(buf));
		sleep_ms(1);
	}
	return NULL;
}

static void
group_shared_by_threads(void)
{
	struct event_base *base = NULL;
	struct event *block = NULL;
	struct ev_token_bucket_cfg *cfg = NULL;
	struct bufferevent_rate_limit_group *g = NULL;
	struct timeval tick = { 0, 20000 };
	pthread_t t[2];
	int fds[2], i, made = 0;
	ev_uint64_t total_read = 0, total_written = 0;

	check_int(evthread_use_pthreads(), ==, 0);
	base = event_base_new();
	block = blocker(base);
	/* 200 KiB/s for the group: the run takes about half a second. */
	cfg = ev_token_bucket_cfg_new(4096, 8192, 4096, 8192, &tick);
	g = bufferevent_rate_limit_group_new(base, cfg);
	check(cfg != NULL && g != NULL);
	memset(limited, 0, sizeof(limited));
	limited_done = 0;
	for (i = 0; i < 2; i++) {
		check_int(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
		evutil_make_socket_nonblocking(fds[0]);
		evutil_make_socket_nonblocking(fds[1]);
		limited[i].writer = bufferevent_socket_new(base, fds[0],
		    BEV_OPT_THREADSAFE | BEV_OPT_CLOSE_ON_FREE);
		limited[i].reader = bufferevent_socket_new(base, fds[1],
		    BEV_OPT_CLOSE_ON_FREE);
		check(limited[i].writer && limited[i].reader);
		check_int(bufferevent_add_to_rate_limit_group(
		    limited[i].writer, g), ==, 0);
		bufferevent_setcb(limited[i].reader, limited_read, NULL, NULL,
		    &limited[i]);
		bufferevent_enable(limited[i].reader, EV_READ);
	}
	for (i = 0; i < 2; i++) {
		check_int(pthread_create(&t[i], NULL, limited_writer,
		    &limited[i]), ==, 0);
		made++;
	}
	check_int(event_base_dispatch(base), ==, 0);
	for (i = 0; i < 2; i++) {
		check_int(limited[i].bad, ==, 0);
		check_int(limited[i].got, ==, GROUP_BYTES);
	}
	bufferevent_rate_limit_group_get_totals(g, &total_read,
	    &total_written);
	check_int(total_written, ==, 2 * GROUP_BYTES);
end:
	for (i = 0; i < made; i++)
		pthread_join(t[i], NULL);
	for (i = 0; i < 2; i++) {
		if (limited[i].writer)
			bufferevent_free(limited[i].writer);
		if (limited[i].reader)
			bufferevent_free(limited[i].reader);
	}
	if (block)
		event_free(block);
	if (base) {
		/* The members leave the group when their frees complete. */
		event_base_loop(base, EVLOOP_NONBLOCK);
	}
	if (g)
		bufferevent_rate_limit_group_free(g);
	if (cfg)
		ev_token_bucket_cfg_free(cfg);
	if (base)
		event_base_free(base);
}

static const struct check_case cases[] = {
	{ "threadsafe_refused_before_install",
	    threadsafe_refused_before_install },
	{ "install_twice", install_twice },
	{ "lock_is_recursive_and_holds_a_reference",
	    lock_is_recursive_and_holds_a_reference },
	{ "write_from_thread_wakes_loop", write_from_thread_wakes_loop },
	{ "active_and_loopbreak_from_thread",
	    active_and_loopbreak_from_thread },
	{ "second_loop_is_refused", second_loop_is_refused },
	{ "filter_has_its_own_lock", filter_has_its_own_lock },
	{ "del_waits_for_running_callback", del_waits_for_running_callback },
	{ "evbuffer_locking", evbuffer_locking },
	{ "writers_and_freer_threads", writers_and_freer_threads },
	{ "pair_written_from_another_thread",
	    pair_written_from_another_thread },
	{ "group_shared_by_threads", group_shared_by_threads },
	{ NULL, NULL },
};

int
main(int argc, char **argv)
{
	return check_main(cases, argc, argv);
}
