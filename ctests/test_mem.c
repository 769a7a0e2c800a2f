/*
 * test_mem: event_set_mem_functions (BEHAVIOUR EV-34), called before
 * anything else: events from event_new and lines from evbuffer_readln
 * come from the program's allocator and go back to it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "check.h"

/* Each block carries a header with this mark, so my_free can tell our
 * blocks from any other pointer. */
#define MARK 0x6d656d74u
#define HEADER 16

static int mallocs;
static int frees;
static int foreign_frees;

static void *
my_malloc(size_t n)
{
	unsigned char *p = malloc(n + HEADER);

	if (!p)
		return NULL;
	*(uint32_t *)p = MARK;
	mallocs++;
	return p + HEADER;
}

static int
is_mine(void *ptr)
{
	return *(uint32_t *)((unsigned char *)ptr - HEADER) == MARK;
}

static void
my_free(void *ptr)
{
	unsigned char *p;

	if (!ptr)
		return;
	p = (unsigned char *)ptr - HEADER;
	if (*(uint32_t *)p != MARK) {
		foreign_frees++;
		return;
	}
	*(uint32_t *)p = 0;
	frees++;
	free(p);
}

static void *
my_realloc(void *ptr, size_t n)
{
	unsigned char *p;

	if (!ptr)
		return my_malloc(n);
	p = realloc((unsigned char *)ptr - HEADER, n + HEADER);
	return p ? p + HEADER : NULL;
}

static void
noop_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

static void
event_memory_is_the_programs(void)
{
	struct event_base *base = event_base_new();
	struct event *ev = NULL;
	int before, freed_before;

	check(base != NULL);
	before = mallocs;
	ev = event_new(base, -1, 0, noop_cb, NULL);
	check(ev != NULL);
	check_int(mallocs, >, before);
	check(is_mine(ev));
	freed_before = frees;
	event_free(ev);
	ev = NULL;
	check_int(frees, >, freed_before);
	check_int(foreign_frees, ==, 0);
end:
	if (ev)
		event_free(ev);
	if (base)
		event_base_free(base);
}

static void
readln_line_is_the_programs(void)
{
	struct evbuffer *buf = evbuffer_new();
	char *line = NULL;
	size_t len = 0;

	check(buf != NULL);
	check_int(evbuffer_add(buf, "hello\nrest", 10), ==, 0);
	line = evbuffer_readln(buf, &len, EVBUFFER_EOL_LF);
	check(line != NULL);
	check_str(line, "hello");
	check_int(len, ==, 5);
	check(is_mine(line));
	my_free(line);
	line = NULL;
	check_int(foreign_frees, ==, 0);
end:
	if (line)
		my_free(line);
	if (buf)
		evbuffer_free(buf);
}

static const struct check_case cases[] = {
	{"event_memory_is_the_programs", event_memory_is_the_programs},
	{"readln_line_is_the_programs", readln_line_is_the_programs},
	{NULL, NULL}
};

int
main(int argc, char **argv)
{
	event_set_mem_functions(my_malloc, my_realloc, my_free);
	return check_main(cases, argc, argv);
}
