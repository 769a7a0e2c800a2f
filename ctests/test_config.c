/*
 * test_config: event_config and the backend a base reports (BEHAVIOUR
 * EV-25): supported methods, avoided methods, required features, the
 * EVENT_NOEPOLL variable and EVENT_BASE_FLAG_IGNORE_ENV, and fds that
 * epoll refuses (/dev/null, a regular file) on a poll base, as tmux uses
 * with its standard input redirected.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "check.h"

static int calls;
static int last_what;

static void
read_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)arg;
	calls++;
	last_what = what;
}

static char last_msg[128];
static int last_severity = -1;

static void
log_cb(int severity, const char *msg)
{
	last_severity = severity;
	snprintf(last_msg, sizeof(last_msg), "%s", msg);
}

static void
show_method_environment(void)
{
	struct event_base *base = NULL;

	event_set_log_callback(log_cb);
	setenv("EVENT_SHOW_METHOD", "1", 1);
	base = event_base_new();
	check(base != NULL);
	check_int(last_severity, ==, EVENT_LOG_MSG);
	check_str(last_msg, "libevent using: epoll");
end:
	unsetenv("EVENT_SHOW_METHOD");
	event_set_log_callback(NULL);
	if (base)
		event_base_free(base);
}

static void
supported_methods(void)
{
	const char **methods = event_get_supported_methods();
	int i, has_poll = 0;

	check(methods != NULL);
	check(methods[0] != NULL);
	check_str(methods[0], "epoll");
	for (i = 0; methods[i]; i++)
		if (!strcmp(methods[i], "poll"))
			has_poll = 1;
	check(has_poll);
end:
	;
}

static void
default_is_epoll(void)
{
	struct event_config *cfg = event_config_new();
	struct event_base *base = NULL;
	int want = EV_FEATURE_ET | EV_FEATURE_O1 | EV_FEATURE_EARLY_CLOSE;

	check(cfg != NULL);
	base = event_base_new_with_config(cfg);
	check(base != NULL);
	check_str(event_base_get_method(base), "epoll");
	check_int(event_base_get_features(base), ==, want);
end:
	if (base)
		event_base_free(base);
	if (cfg)
		event_config_free(cfg);
}

static void
avoid_epoll_gives_poll(void)
{
	struct event_config *cfg = event_config_new();
	struct event_base *base = NULL;

	check(cfg != NULL);
	check_int(event_config_avoid_method(cfg, "epoll"), ==, 0);
	base = event_base_new_with_config(cfg);
	check(base != NULL);
	check_str(event_base_get_method(base), "poll");
	check_int(event_base_get_features(base), ==,
	    EV_FEATURE_FDS | EV_FEATURE_EARLY_CLOSE);
end:
	if (base)
		event_base_free(base);
	if (cfg)
		event_config_free(cfg);
}

static void
avoid_epoll_and_poll_gives_select(void)
{
	struct event_config *cfg = event_config_new();
	struct event_base *base = NULL;

	check(cfg != NULL);
	check_int(event_config_avoid_method(cfg, "epoll"), ==, 0);
	check_int(event_config_avoid_method(cfg, "poll"), ==, 0);
	base = event_base_new_with_config(cfg);
	check(base != NULL);
	check_str(event_base_get_method(base), "select");
end:
	if (base)
		event_base_free(base);
	if (cfg)
		event_config_free(cfg);
}

static void
require_fds_gives_poll(void)
{
	struct event_config *cfg = event_config_new();
	struct event_base *base = NULL;

	check(cfg != NULL);
	check_int(event_config_require_features(cfg, EV_FEATURE_FDS), ==, 0);
	base = event_base_new_with_config(cfg);
	check(base != NULL);
	check_str(event_base_get_method(base), "poll");
end:
	if (base)
		event_base_free(base);
	if (cfg)
		event_config_free(cfg);
}

static void
require_o1_early_close_gives_epoll(void)
{
	struct event_config *cfg = event_config_new();
	struct event_base *base = NULL;
	int want = EV_FEATURE_O1 | EV_FEATURE_EARLY_CLOSE;

	check(cfg != NULL);
	check_int(event_config_require_features(cfg, want), ==, 0);
	base = event_base_new_with_config(cfg);
	check(base != NULL);
	check_str(event_base_get_method(base), "epoll");
	check_int(event_base_get_features(base) & want, ==, want);
end:
	if (base)
		event_base_free(base);
	if (cfg)
		event_config_free(cfg);
}

static void
impossible_config_gives_null(void)
{
	struct event_config *cfg = event_config_new();
	struct event_config *cfg2 = event_config_new();
	struct event_base *base = NULL, *base2 = NULL;

	last_severity = -1;
	event_set_log_callback(log_cb);
	check(cfg != NULL && cfg2 != NULL);
	check_int(event_config_avoid_method(cfg, "epoll"), ==, 0);
	check_int(event_config_avoid_method(cfg, "poll"), ==, 0);
	check_int(event_config_avoid_method(cfg, "select"), ==, 0);
	base = event_base_new_with_config(cfg);
	check(base == NULL);
	check_int(last_severity, ==, EVENT_LOG_WARN);
	/* No method has both O(1) and arbitrary fds. */
	check_int(event_config_require_features(cfg2,
	    EV_FEATURE_O1 | EV_FEATURE_FDS), ==, 0);
	base2 = event_base_new_with_config(cfg2);
	check(base2 == NULL);
end:
	event_set_log_callback(NULL);
	if (base)
		event_base_free(base);
	if (base2)
		event_base_free(base2);
	if (cfg)
		event_config_free(cfg);
	if (cfg2)
		event_config_free(cfg2);
}

static void
noepoll_environment(void)
{
	struct event_config *cfg = event_config_new();
	struct event_base *base = NULL, *ignoring = NULL;

	check(cfg != NULL);
	setenv("EVENT_NOEPOLL", "1", 1);
	base = event_base_new();
	check(base != NULL);
	check_str(event_base_get_method(base), "poll");
	check_int(event_config_set_flag(cfg, EVENT_BASE_FLAG_IGNORE_ENV),
	    ==, 0);
	ignoring = event_base_new_with_config(cfg);
	check(ignoring != NULL);
	check_str(event_base_get_method(ignoring), "epoll");
end:
	unsetenv("EVENT_NOEPOLL");
	if (base)
		event_base_free(base);
	if (ignoring)
		event_base_free(ignoring);
	if (cfg)
		event_config_free(cfg);
}

static void
other_settings_accepted(void)
{
	struct event_config *cfg = event_config_new();
	struct event_base *base = NULL;
	struct timeval tv = {0, 10000};

	check(cfg != NULL);
	check_int(event_config_set_num_cpus_hint(cfg, 2), ==, 0);
	check_int(event_config_set_max_dispatch_interval(cfg, &tv, 10, 0),
	    ==, 0);
	check_int(event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK), ==, 0);
	base = event_base_new_with_config(cfg);
	check(base != NULL);
	check_int(event_base_dispatch(base), ==, 1);
end:
	if (base)
		event_base_free(base);
	if (cfg)
		event_config_free(cfg);
}

/* A poll base reports an fd epoll refuses as readable at once. */
static void
read_refused_fd(int fd)
{
	struct event_config *cfg = event_config_new();
	struct event_base *base = NULL;
	struct event *ev = NULL;

	calls = 0;
	last_what = 0;
	check(cfg != NULL);
	check_int(event_config_avoid_method(cfg, "epoll"), ==, 0);
	base = event_base_new_with_config(cfg);
	check(base != NULL);
	ev = event_new(base, fd, EV_READ | EV_PERSIST, read_cb, NULL);
	check(ev != NULL);
	check_int(event_add(ev, NULL), ==, 0);
	check_int(event_base_loop(base, EVLOOP_ONCE), ==, 0);
	check_int(calls, ==, 1);
	check_int(last_what, ==, EV_READ);
	check_int(event_base_loop(base, EVLOOP_ONCE), ==, 0);
	check_int(calls, ==, 2);
end:
	if (ev)
		event_free(ev);
	if (base)
		event_base_free(base);
	if (cfg)
		event_config_free(cfg);
}

static void
stdin_from_dev_null(void)
{
	int saved = dup(0);
	int fd = open("/dev/null", O_RDONLY);

	check(saved >= 0 && fd >= 0);
	check_int(dup2(fd, 0), ==, 0);
	read_refused_fd(0);
end:
	if (saved >= 0) {
		dup2(saved, 0);
		close(saved);
	}
	if (fd >= 0)
		close(fd);
}

static void
stdin_from_file(void)
{
	char path[] = "/tmp/test_config_XXXXXX";
	int saved = dup(0);
	int fd = mkstemp(path);

	check(saved >= 0 && fd >= 0);
	unlink(path);
	check_int(write(fd, "line\n", 5), ==, 5);
	check_int(lseek(fd, 0, SEEK_SET), ==, 0);
	check_int(dup2(fd, 0), ==, 0);
	read_refused_fd(0);
end:
	if (saved >= 0) {
		dup2(saved, 0);
		close(saved);
	}
	if (fd >= 0)
		close(fd);
}

static const struct check_case cases[] = {
	{"supported_methods", supported_methods},
	{"default_is_epoll", default_is_epoll},
	{"avoid_epoll_gives_poll", avoid_epoll_gives_poll},
	{"avoid_epoll_and_poll_gives_select",
	    avoid_epoll_and_poll_gives_select},
	{"require_fds_gives_poll", require_fds_gives_poll},
	{"require_o1_early_close_gives_epoll",
	    require_o1_early_close_gives_epoll},
	{"impossible_config_gives_null", impossible_config_gives_null},
	{"noepoll_environment", noepoll_environment},
	{"other_settings_accepted", other_settings_accepted},
	{"stdin_from_dev_null", stdin_from_dev_null},
	{"stdin_from_file", stdin_from_file},
	{"show_method_environment", show_method_environment},
	{NULL, NULL}
};

int
main(int argc, char **argv)
{
	return check_main(cases, argc, argv);
}
