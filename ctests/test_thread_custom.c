/*
 * test_thread_custom.c: a program's own lock functions (thread.h's
 * evthread_set_lock_callbacks and friends) instead of libevent_pthreads:
 * which sets are accepted, that thread-safe objects then lock through
 * them in balanced pairs, and lock debugging on top.
 *
 * The cases depend on each other's installed functions, so the table
 * runs in one process in order.
 */
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/thread.h>

#include "check.h"
#include "pair_util.h"

static long locks_made, locks_freed, lock_calls, unlock_calls;

static void *
my_alloc(unsigned locktype)
{
	pthread_mutex_t *m = malloc(sizeof(*m));
	pthread_mutexattr_t attr;

	pthread_mutexattr_init(&attr);
	if (locktype & EVTHREAD_LOCKTYPE_RECURSIVE)
		pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(m, &attr);
	pthread_mutexattr_destroy(&attr);
	__atomic_add_fetch(&locks_made, 1, __ATOMIC_SEQ_CST);
	return m;
}

static void
my_free(void *lock, unsigned locktype)
{
	(void)locktype;
	pthread_mutex_destroy(lock);
	free(lock);
	__atomic_add_fetch(&locks_freed, 1, __ATOMIC_SEQ_CST);
}

static int
my_lock(unsigned mode, void *lock)
{
	__atomic_add_fetch(&lock_calls, 1, __ATOMIC_SEQ_CST);
	if (mode & EVTHREAD_TRY)
		return pthread_mutex_trylock(lock);
	return pthread_mutex_lock(lock);
}

static int
my_unlock(unsigned mode, void *lock)
{
	(void)mode;
	__atomic_add_fetch(&unlock_calls, 1, __ATOMIC_SEQ_CST);
	return pthread_mutex_unlock(lock);
}

static int
other_lock(unsigned mode, void *lock)
{
	return my_lock(mode, lock);
}

static unsigned long
my_id(void)
{
	return (unsigned long)pthread_self();
}

static const struct evthread_lock_callbacks mine = {
	EVTHREAD_LOCK_API_VERSION, EVTHREAD_LOCKTYPE_RECURSIVE,
	my_alloc, my_free, my_lock, my_unlock
};

static void
incomplete_set_refused(void)
{
	struct evthread_lock_callbacks half = mine;

	half.unlock = NULL;
	check_int(evthread_set_lock_callbacks(&half), ==, -1);
	/* Nothing installed: thread-safe objects still cannot be made. */
	check_int(evthread_set_lock_callbacks(NULL), ==, 0);
end:
	;
}

static void
install_and_change(void)
{
	struct evthread_lock_callbacks other = mine;

	check_int(evthread_set_lock_callbacks(&mine), ==, 0);
	/* The same functions again are accepted; others are not. */
	check_int(evthread_set_lock_callbacks(&mine), ==, 0);
	other.lock = other_lock;
	check_int(evthread_set_lock_callbacks(&other), ==, -1);
	evthread_set_id_callback(my_id);
end:
	;
}

static void
objects_lock_through_them(void)
{
	struct event_base *base = NULL;
	struct bufferevent *bev = NULL;
	struct evbuffer *buf = NULL;
	int fds[2] = { -1, -1 };
	long made, calls;

	made = __atomic_load_n(&locks_made, __ATOMIC_SEQ_CST);
	base = event_base_new();
	check(base != NULL);
	check_int(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
	bev = bufferevent_socket_new(base, fds[0],
	    BEV_OPT_THREADSAFE | BEV_OPT_CLOSE_ON_FREE);
	check(bev != NULL);
	fds[0] = -1;
	check_int(__atomic_load_n(&locks_made, __ATOMIC_SEQ_CST), >, made);
	calls = __atomic_load_n(&lock_calls, __ATOMIC_SEQ_CST);
	check_int(bufferevent_write(bev, "abc", 3), ==, 0);
	check_int(__atomic_load_n(&lock_calls, __ATOMIC_SEQ_CST), >, calls);
	buf = evbuffer_new();
	check_int(evbuffer_enable_locking(buf, NULL), ==, 0);
	calls = __atomic_load_n(&lock_calls, __ATOMIC_SEQ_CST);
	evbuffer_add(buf, "x", 1);
	check_int(__atomic_load_n(&lock_calls, __ATOMIC_SEQ_CST), >, calls);
	event_base_loop(base, EVLOOP_NONBLOCK);
	bufferevent_free(bev);
	bev = NULL;
	event_base_loop(base, EVLOOP_NONBLOCK);
	/* Every lock taken so far was released. */
	check_int(__atomic_load_n(&lock_calls, __ATOMIC_SEQ_CST), ==,
	    __atomic_load_n(&unlock_calls, __ATOMIC_SEQ_CST));
end:
	if (bev)
		bufferevent_free(bev);
	if (buf)
		evbuffer_free(buf);
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	if (base)
		event_base_free(base);
}

static void
with_lock_debugging(void)
{
	struct event_base *base = NULL;
	struct bufferevent *pair[2] = { NULL, NULL };
	char got[4] = "";

	evthread_enable_lock_debugging();
	base = event_base_new();
	check(base != NULL);
	check_int(bufferevent_pair_new(base, BEV_OPT_THREADSAFE, pair), ==, 0);
	bufferevent_lock(pair[0]);
	bufferevent_lock(pair[0]);
	check_int(bufferevent_write(pair[0], "hey", 3), ==, 0);
	bufferevent_unlock(pair[0]);
	bufferevent_unlock(pair[0]);
	bufferevent_enable(pair[1], EV_READ);
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_int(bufferevent_read(pair[1], got, 3), ==, 3);
	check_mem(got, "hey", 3);
end:
	pair_case_free(base, NULL, pair);
}

static const struct check_case cases[] = {
	{ "incomplete_set_refused", incomplete_set_refused },
	{ "install_and_change", install_and_change },
	{ "objects_lock_through_them", objects_lock_through_them },
	{ "with_lock_debugging", with_lock_debugging },
	{ NULL, NULL },
};

int
main(int argc, char **argv)
{
	return check_main(cases, argc, argv);
}
