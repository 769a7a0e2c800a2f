/*
 * test_thread_listener.c: a thread-safe listener turned off and on by one
 * thread while the loop thread accepts what another connects.
 *
 * A deliberate difference (README, Compatibility notes): 2.1.12 deadlocks
 * here now and then. evconnlistener_disable takes the listener's lock and
 * then, in event_del, waits for the accept callback running in the loop
 * thread, which waits for that same lock. Our listener's disable does not
 * wait for the callback, so every connection is accepted.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>

#include "check.h"
#include "thread_util.h"

/* A thread-safe listener turned off and on by another thread while the
 * loop thread accepts what a third thread connects. */
#define LISTEN_CONNS 40

static int accepted;

static void
on_accept(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int socklen, void *arg)
{
	(void)sa;
	(void)socklen;
	(void)arg;
	close(fd);
	if (++accepted == LISTEN_CONNS)
		event_base_loopbreak(evconnlistener_get_base(lev));
}

struct toggler {
	struct evconnlistener *lev;
	struct sockaddr_in sin;
	int stop;
};

static void *
toggle_main(void *arg)
{
	struct toggler *tg = arg;

	while (!flag_get(&tg->stop)) {
		evconnlistener_disable(tg->lev);
		sleep_ms(1);
		evconnlistener_enable(tg->lev);
		sleep_ms(2);
	}
	return NULL;
}

static void *
connect_main(void *arg)
{
	struct toggler *tg = arg;
	int i, fd;

	for (i = 0; i < LISTEN_CONNS; i++) {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&tg->sin,
		    sizeof(tg->sin)) == 0)
			sleep_ms(1);
		if (fd >= 0)
			close(fd);
	}
	return NULL;
}

static void
listener_toggled_from_another_thread(void)
{
	struct event_base *base = NULL;
	struct evconnlistener *lev = NULL;
	struct event *block = NULL;
	struct toggler tg;
	socklen_t len = sizeof(tg.sin);
	pthread_t tt, tc;
	int started = 0;

	CHECK_REF_DIFFERS("2.1.12 can deadlock: evconnlistener_disable waits "
	    "in event_del for the accept callback while holding the lock it "
	    "needs");
	check_int(evthread_use_pthreads(), ==, 0);
	base = event_base_new();
	block = blocker(base);
	memset(&tg, 0, sizeof(tg));
	tg.sin.sin_family = AF_INET;
	tg.sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lev = evconnlistener_new_bind(base, on_accept, NULL,
	    LEV_OPT_THREADSAFE | LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 64,
	    (struct sockaddr *)&tg.sin, sizeof(tg.sin));
	check(lev != NULL);
	check_int(getsockname(evconnlistener_get_fd(lev),
	    (struct sockaddr *)&tg.sin, &len), ==, 0);
	tg.lev = lev;
	accepted = 0;
	check_int(pthread_create(&tt, NULL, toggle_main, &tg), ==, 0);
	check_int(pthread_create(&tc, NULL, connect_main, &tg), ==, 0);
	started = 1;
	check_int(event_base_dispatch(base), ==, 0);
	check_int(accepted, ==, LISTEN_CONNS);
end:
	if (started) {
		flag_set(&tg.stop, 1);
		pthread_join(tt, NULL);
		pthread_join(tc, NULL);
	}
	if (lev)
		evconnlistener_free(lev);
	if (block)
		event_free(block);
	if (base)
		event_base_free(base);
}

static const struct check_case cases[] = {
	{ "listener_toggled_from_another_thread",
	    listener_toggled_from_another_thread },
	{ NULL, NULL },
};

int
main(int argc, char **argv)
{
	return check_main(cases, argc, argv);
}
