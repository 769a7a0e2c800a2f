/*
 * test_debug_mode.c: event_enable_debug_mode. Each case runs in a child
 * process, since debug mode can be turned on only once, before any base
 * exists, and a misuse it catches ends the process: the child reports the
 * code its fatal callback received and the error messages logged.
 */
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_struct.h>
#include <event2/event.h>
#include <event2/event_struct.h>

#include "check.h"

static int report_fd = -1;

static void
log_cb(int severity, const char *msg)
{
	char line[512];
	int n;

	if (severity != EVENT_LOG_ERR)
		return;
	n = snprintf(line, sizeof(line), "log %s\n", msg);
	if (n > 0 && write(report_fd, line, (size_t)n) < 0)
		_exit(90);
}

static void
fatal_cb(int err)
{
	char line[64];
	int n = snprintf(line, sizeof(line), "fatal %x\n", (unsigned)err);

	if (n > 0 && write(report_fd, line, (size_t)n) < 0)
		_exit(90);
	_exit(42);
}

static void
nothing(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

/*
 * Runs body(in a child with debug mode on unless `late`), collecting what
 * it reports into out; returns the child's exit status (42 after a fatal
 * error, 0 when body returned).
 */
static int
in_child(void (*body)(void), char *out, size_t outlen)
{
	int p[2], status = -1;
	ssize_t n, got = 0;
	pid_t pid;

	memset(out, 0, outlen);
	if (pipe(p) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		close(p[0]);
		report_fd = p[1];
		event_set_log_callback(log_cb);
		event_set_fatal_callback(fatal_cb);
		body();
		_exit(0);
	}
	close(p[1]);
	while ((n = read(p[0], out + got, outlen - 1 - (size_t)got)) > 0)
		got += n;
	close(p[0]);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void
body_twice(void)
{
	event_enable_debug_mode();
	event_enable_debug_mode();
}

static void
body_too_late(void)
{
	struct event_base *base = event_base_new();

	(void)base;
	event_enable_debug_mode();
}

static void
body_correct_use(void)
{
	struct event_base *base;
	struct event ev, *evp;
	struct bufferevent *bev;
	struct timeval tv = { 10, 0 };

	event_enable_debug_mode();
	base = event_base_new();
	event_assign(&ev, base, -1, 0, nothing, NULL);
	event_add(&ev, &tv);
	event_del(&ev);
	event_assign(&ev, base, -1, EV_PERSIST, nothing, NULL);
	event_add(&ev, &tv);
	event_del(&ev);
	event_debug_unassign(&ev);
	evp = event_new(base, -1, 0, nothing, NULL);
	event_add(evp, &tv);
	event_free(evp);
	/* The library's own events count as set up: old programs read them. */
	bev = bufferevent_socket_new(base, -1, 0);
	event_pending(&bev->ev_read, EV_READ, NULL);
	event_get_fd(&bev->ev_write);
	bufferevent_free(bev);
	event_base_free(base);
}

static void
body_add_a_copy(void)
{
	struct event_base *base;
	struct event ev, copy;

	event_enable_debug_mode();
	base = event_base_new();
	event_assign(&ev, base, -1, 0, nothing, NULL);
	memcpy(&copy, &ev, sizeof(ev));
	event_add(&copy, NULL);
}

static void
body_add_after_unassign(void)
{
	struct event_base *base;
	struct event ev;
	struct timeval tv = { 10, 0 };

	event_enable_debug_mode();
	base = event_base_new();
	event_assign(&ev, base, -1, 0, nothing, NULL);
	event_debug_unassign(&ev);
	event_add(&ev, &tv);
}

static void
body_assign_while_added(void)
{
	struct event_base *base;
	struct event ev;
	struct timeval tv = { 10, 0 };

	event_enable_debug_mode();
	base = event_base_new();
	event_assign(&ev, base, -1, 0, nothing, NULL);
	event_add(&ev, &tv);
	event_assign(&ev, base, -1, 0, nothing, NULL);
}

/*
 * Checks that body, run in a child, ended through the fatal callback with
 * code (as the child prints it, in hex) after logging an error that
 * contains msg.
 */
#define check_dies(body, msg, code)					\
	do {								\
		char out_[1024];					\
									\
		check_int(in_child(body, out_, sizeof(out_)), ==, 42);	\
		check(strstr(out_, msg));				\
		check(strstr(out_, "fatal " code "\n"));		\
	} while (0)

static void
twice_is_fatal(void)
{
	check_dies(body_twice,
	    "log event_enable_debug_mode was called twice!", "1");
end:
	;
}

static void
after_a_base_is_fatal(void)
{
	check_dies(body_too_late,
	    "must be called *before* creating any events", "1");
end:
	;
}

static void
correct_use_passes(void)
{
	char out[1024];

	check_int(in_child(body_correct_use, out, sizeof(out)), ==, 0);
	check_str(out, "");
end:
	;
}

static void
adding_a_copy_is_fatal(void)
{
	check_dies(body_add_a_copy,
	    "called on a non-initialized event", "deaddead");
end:
	;
}

static void
adding_after_unassign_is_fatal(void)
{
	check_dies(body_add_after_unassign,
	    "called on a non-initialized event", "deaddead");
end:
	;
}

static void
assigning_an_added_event_is_fatal(void)
{
	check_dies(body_assign_while_added,
	    "called on an already added event", "deaddead");
end:
	;
}

static const struct check_case cases[] = {
	{ "twice_is_fatal", twice_is_fatal },
	{ "after_a_base_is_fatal", after_a_base_is_fatal },
	{ "correct_use_passes", correct_use_passes },
	{ "adding_a_copy_is_fatal", adding_a_copy_is_fatal },
	{ "adding_after_unassign_is_fatal", adding_after_unassign_is_fatal },
	{ "assigning_an_added_event_is_fatal",
	    assigning_an_added_event_is_fatal },
	{ NULL, NULL },
};

int
main(int argc, char **argv)
{
	return check_main(cases, argc, argv);
}
