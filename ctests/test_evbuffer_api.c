/*
 * test_evbuffer_api.c: the evbuffer calls test_evbuffer.c leaves out:
 * references (BUF-25, BUF-38), files and file segments (BUF-27), callbacks
 * and their flags, freezing, reserve/commit and peek, positions, fd I/O,
 * flags and locks, and the old calls of buffer_compat.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/buffer_compat.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>

#include "check.h"

static int cleanups;
static size_t cleanup_len;

static void
count_cleanup(const void *data, size_t len, void *arg)
{
	(void)data;
	(void)arg;
	cleanups++;
	cleanup_len = len;
}

static void
reference_cleanup_after_last_byte(void)
{
	static const char text[] = "referenced bytes";
	struct evbuffer *a = evbuffer_new(), *b = evbuffer_new();
	char out[32];

	cleanups = 0;
	check(a && b);
	check_int(evbuffer_add_reference(a, text, 16, count_cleanup, NULL),
	    ==, 0);
	check_int(evbuffer_get_length(a), ==, 16);
	check_int(evbuffer_drain(a, 4), ==, 0);
	check_int(cleanups, ==, 0);
	/* Moved to another buffer, the bytes still count. */
	check_int(evbuffer_add_buffer(b, a), ==, 0);
	check_int(evbuffer_remove(b, out, sizeof(out)), ==, 12);
	check_mem(out, "renced bytes", 12);
	check_int(cleanups, ==, 1);
	check_int(cleanup_len, ==, 16);
end:
	if (a)
		evbuffer_free(a);
	if (b)
		evbuffer_free(b);
}

static void
buffer_reference_shares(void)
{
	static const char text[] = "shared";
	struct evbuffer *src = evbuffer_new(), *dst = evbuffer_new();
	struct evbuffer *third = evbuffer_new();
	char out[16];

	cleanups = 0;
	check(src && dst && third);
	check_int(evbuffer_add_reference(src, text, 6, count_cleanup, NULL),
	    ==, 0);
	check_int(evbuffer_add(src, "+more", 5), ==, 0);
	check_int(evbuffer_add_buffer_reference(dst, src), ==, 0);
	check_int(evbuffer_get_length(src), ==, 11);
	check_int(evbuffer_get_length(dst), ==, 11);
	check_int(evbuffer_copyout(dst, out, 11), ==, 11);
	check_mem(out, "shared+more", 11);
	/* BUF-38: not onto itself; and bytes that came from a reference
	 * cannot be referenced again. */
	check_int(evbuffer_add_buffer_reference(src, src), ==, -1);
	check_int(evbuffer_add_buffer_reference(third, dst), ==, -1);
	/* The source can change without touching the copy. */
	check_int(evbuffer_drain(src, 11), ==, 0);
	check_int(evbuffer_add(src, "x", 1), ==, 0);
	check_int(cleanups, ==, 0);
	check_int(evbuffer_copyout(dst, out, 11), ==, 11);
	check_mem(out, "shared+more", 11);
	/* The referenced memory is released with its last user. */
	check_int(evbuffer_drain(dst, 11), ==, 0);
	check_int(cleanups, ==, 1);
	/* Drained of the shared bytes, dst can be referenced again. */
	check_int(evbuffer_add(dst, "new", 3), ==, 0);
	check_int(evbuffer_add_buffer_reference(third, dst), ==, 0);
	/* Frozen end, empty source. */
	check_int(evbuffer_freeze(third, 0), ==, 0);
	check_int(evbuffer_add_buffer_reference(third, src), ==, -1);
	check_int(evbuffer_unfreeze(third, 0), ==, 0);
	check_int(evbuffer_drain(src, 1), ==, 0);
	check_int(evbuffer_add_buffer_reference(third, src), ==, 0);
	check_int(evbuffer_get_length(third), ==, 3);
end:
	if (src)
		evbuffer_free(src);
	if (dst)
		evbuffer_free(dst);
	if (third)
		evbuffer_free(third);
}

/* A file with the given content, opened for reading; -1 on failure. */
static int
temp_file(const char *content)
{
	char name[] = "/tmp/bevrs-evbuffer-XXXXXX";
	int fd = mkstemp(name);

	if (fd < 0)
		return -1;
	unlink(name);
	if (write(fd, content, strlen(content)) != (ssize_t)strlen(content)) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
fd_is_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1 || errno != EBADF;
}

static void
add_file_owns_fd(void)
{
	struct evbuffer *buf = evbuffer_new();
	int fd = temp_file("0123456789");
	char out[16];

	check(buf && fd >= 0);
	check_int(evbuffer_add_file(buf, fd, 2, 5), ==, 0);
	check_int(evbuffer_get_length(buf), ==, 5);
	check(fd_is_open(fd));
	check_int(evbuffer_copyout(buf, out, 5), ==, 5);
	check_mem(out, "23456", 5);
	check_int(evbuffer_drain(buf, 3), ==, 0);
	check(fd_is_open(fd));
	check_int(evbuffer_drain(buf, 2), ==, 0);
	check(!fd_is_open(fd));
	/* Freed with the bytes still in: closed too. */
	fd = temp_file("abc");
	check(fd >= 0);
	check_int(evbuffer_add_file(buf, fd, 0, 3), ==, 0);
	evbuffer_free(buf);
	buf = NULL;
	check(!fd_is_open(fd));
end:
	if (buf)
		evbuffer_free(buf);
}

static int seg_cleanups;
static int seg_flags;

static void
seg_cleanup(const struct evbuffer_file_segment *seg, int flags, void *arg)
{
	(void)seg;
	(void)arg;
	seg_cleanups++;
	seg_flags = flags;
}

static void
file_segment_shared_by_buffers(void)
{
	struct evbuffer *a = evbuffer_new(), *b = evbuffer_new();
	struct evbuffer *c = evbuffer_new();
	struct evbuffer_file_segment *seg = NULL;
	int fd = temp_file("segment contents");
	char out[32];

	seg_cleanups = 0;
	check(a && b && c && fd >= 0);
	seg = evbuffer_file_segment_new(fd, 0, -1, EVBUF_FS_CLOSE_ON_FREE);
	check(seg != NULL);
	evbuffer_file_segment_add_cleanup_cb(seg, seg_cleanup, NULL);
	check_int(evbuffer_add_file_segment(a, seg, 0, 7), ==, 0);
	check_int(evbuffer_add_file_segment(b, seg, 8, -1), ==, 0);
	check_int(evbuffer_remove(b, out, sizeof(out)), ==, 8);
	check_mem(out, "contents", 8);
	/* File bytes cannot be referenced. */
	check_int(evbuffer_add_buffer_reference(c, a), ==, -1);
	evbuffer_file_segment_free(seg);
	seg = NULL;
	check_int(seg_cleanups, ==, 0);
	check(fd_is_open(fd));
	check_int(evbuffer_remove(a, out, sizeof(out)), ==, 7);
	check_mem(out, "segment", 7);
	check_int(seg_cleanups, ==, 1);
	check_int(seg_flags, ==, EVBUF_FS_CLOSE_ON_FREE);
	check(!fd_is_open(fd));
end:
	if (seg)
		evbuffer_file_segment_free(seg);
	if (a)
		evbuffer_free(a);
	if (b)
		evbuffer_free(b);
	if (c)
		evbuffer_free(c);
}

/* Read instead of mapped, and sent from a buffer that drains to a socket
 * (where libevent 2.1.12 uses sendfile): the same bytes either way. */
static void
file_unmapped_and_sent(void)
{
	struct evbuffer *buf = evbuffer_new();
	struct evbuffer_file_segment *seg = NULL;
	int fd = temp_file("0123456789abcdef"), fd2 = temp_file("payload!");
	int sv[2] = { -1, -1 };
	char out[16];
	int n, got = 0;

	check(buf && fd >= 0 && fd2 >= 0);
	seg = evbuffer_file_segment_new(fd, 3, 6,
	    EVBUF_FS_CLOSE_ON_FREE | EVBUF_FS_DISABLE_MMAP);
	check(seg != NULL);
	check_int(evbuffer_add_file_segment(buf, seg, 1, 4), ==, 0);
	check_int(evbuffer_remove(buf, out, sizeof(out)), ==, 4);
	check_mem(out, "4567", 4);
	evbuffer_file_segment_free(seg);
	seg = NULL;
	check(!fd_is_open(fd));

	check_int(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
	check_int(evbuffer_set_flags(buf, EVBUFFER_FLAG_DRAINS_TO_FD), ==, 0);
	check_int(evbuffer_add(buf, "<", 1), ==, 0);
	check_int(evbuffer_add_file(buf, fd2, 0, -1), ==, 0);
	check_int(evbuffer_add(buf, ">", 1), ==, 0);
	check_int(evbuffer_get_length(buf), ==, 10);
	while (evbuffer_get_length(buf) > 0) {
		n = evbuffer_write(buf, sv[0]);
		check_int(n, >, 0);
	}
	check(!fd_is_open(fd2));
	while (got < 10) {
		n = (int)read(sv[1], out + got, sizeof(out) - got);
		check_int(n, >, 0);
		got += n;
	}
	check_mem(out, "<payload!>", 10);
end:
	if (seg)
		evbuffer_file_segment_free(seg);
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	if (buf)
		evbuffer_free(buf);
}

/*
 * A socket bufferevent's output drains to its fd, so the bytes of a file
 * segment go out with sendfile on both libraries: memory, a 3 MiB segment
 * and memory again must arrive whole and in order at the other end.
 */
#define BIG_FILE (3 * 1024 * 1024 + 77)

static unsigned char
big_byte(size_t i)
{
	return (unsigned char)((i * 131) ^ (i >> 9));
}

struct sink {
	size_t got;
	int bad;
};

static void
sink_read(struct bufferevent *bev, void *arg)
{
	struct sink *k = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	unsigned char chunk[4096];
	size_t n, i, at;

	while ((n = evbuffer_remove(in, chunk, sizeof(chunk))) > 0) {
		for (i = 0; i < n; i++) {
			at = k->got + i;
			if (at == 0) {
				k->bad |= chunk[i] != '[';
			} else if (at == BIG_FILE + 1) {
				k->bad |= chunk[i] != ']';
			} else if (at <= BIG_FILE) {
				k->bad |= chunk[i] != big_byte(at - 1);
			} else {
				k->bad = 1;
			}
		}
		k->got += n;
	}
	if (k->got == BIG_FILE + 2)
		event_base_loopbreak(bufferevent_get_base(bev));
}

/*
 * A zero-length file segment still leaves an empty file chain in 2.1.12,
 * holding the descriptor, and evbuffer_add_buffer_reference refuses a
 * buffer with a file chain in it even when every byte came from elsewhere.
 * The chain goes when the buffer is emptied of bytes it held, moves with
 * evbuffer_add_buffer, and goes when a new chain follows it (adding, even
 * nothing). The offset is off a page boundary: see the next case.
 */
static void
empty_file_segment_keeps_its_chain(void)
{
	static const char text[] = "lent";
	struct evbuffer *buf = evbuffer_new(), *other = evbuffer_new();
	struct evbuffer *third = evbuffer_new();
	int fd = temp_file("0123456789"), fd2 = temp_file("0123456789");
	int fd3 = temp_file("0123456789"), fd4 = temp_file("0123456789");

	cleanups = 0;
	check(buf && other && third && fd >= 0 && fd2 >= 0 && fd3 >= 0 &&
	    fd4 >= 0);
	check_int(evbuffer_add_file(buf, fd, 3, 0), ==, 0);
	check_int(evbuffer_get_length(buf), ==, 0);
	check(fd_is_open(fd));
	/* Nothing to share yet, so nothing to refuse. */
	check_int(evbuffer_add_buffer_reference(other, buf), ==, 0);
	check_int(evbuffer_drain(buf, 5), ==, 0);
	check(fd_is_open(fd));
	/* Bytes put in front of the empty chain do not make it go. */
	check_int(evbuffer_prepend(buf, "abc", 3), ==, 0);
	check_int(evbuffer_add_buffer_reference(other, buf), ==, -1);
	check_int(evbuffer_get_length(other), ==, 0);
	check(fd_is_open(fd));
	/* Emptied, the buffer lets go of every chain. */
	check_int(evbuffer_drain(buf, 3), ==, 0);
	check(!fd_is_open(fd));
	check_int(evbuffer_add(buf, "x", 1), ==, 0);
	check_int(evbuffer_add_buffer_reference(other, buf), ==, 0);
	check_int(evbuffer_drain(other, 1), ==, 0);
	check_int(evbuffer_drain(buf, 1), ==, 0);

	/* Behind data it stays through a partial drain, and moves. */
	check_int(evbuffer_add(buf, "hello", 5), ==, 0);
	check_int(evbuffer_add_file(buf, fd2, 3, 0), ==, 0);
	check_int(evbuffer_add_buffer_reference(other, buf), ==, -1);
	check_int(evbuffer_drain(buf, 2), ==, 0);
	check_int(evbuffer_add_buffer_reference(other, buf), ==, -1);
	check_int(evbuffer_add_buffer(third, buf), ==, 0);
	check(fd_is_open(fd2));
	check_int(evbuffer_add(buf, "y", 1), ==, 0);
	check_int(evbuffer_add_buffer_reference(other, buf), ==, 0);
	check_int(evbuffer_add_buffer_reference(other, third), ==, -1);
	check_int(evbuffer_drain(third, 3), ==, 0);
	check(!fd_is_open(fd2));

	/* In an otherwise empty buffer, adding nothing still starts a new
	 * chain after it, and that lets it go. */
	check_int(evbuffer_drain(buf, 1), ==, 0);
	check_int(evbuffer_add_file(buf, fd3, 3, 0), ==, 0);
	check(fd_is_open(fd3));
	check_int(evbuffer_add(buf, "", 0), ==, 0);
	check(!fd_is_open(fd3));

	/* Prepended to another buffer it sits between the two contents;
	 * moving or draining the bytes before it takes it along. */
	check_int(evbuffer_add(third, "SS", 2), ==, 0);
	check_int(evbuffer_add_file(third, fd4, 3, 0), ==, 0);
	check_int(evbuffer_add(buf, "DDD", 3), ==, 0);
	check_int(evbuffer_prepend_buffer(buf, third), ==, 0);
	check_int(evbuffer_add_buffer_reference(other, buf), ==, -1);
	check_int(evbuffer_remove_buffer(buf, third, 2), ==, 2);
	check_int(evbuffer_add_buffer_reference(other, buf), ==, 0);
	check_int(evbuffer_add_buffer_reference(other, third), ==, -1);
	check(fd_is_open(fd4));
	check_int(evbuffer_drain(third, 2), ==, 0);
	check(!fd_is_open(fd4));
	check_int(evbuffer_drain(buf, 3), ==, 0);

	/* An empty reference is an empty chain too: its cleanup runs when
	 * the chain goes. */
	check_int(evbuffer_add_reference(buf, text, 0, count_cleanup, NULL),
	    ==, 0);
	check_int(evbuffer_prepend(buf, "p", 1), ==, 0);
	check_int(cleanups, ==, 0);
	check_int(evbuffer_drain(buf, 1), ==, 0);
	check_int(cleanups, ==, 1);
	check_int(cleanup_len, ==, 0);
end:
	if (buf)
		evbuffer_free(buf);
	if (other)
		evbuffer_free(other);
	if (third)
		evbuffer_free(third);
}

static void
quiet_log(int severity, const char *msg)
{
	(void)severity;
	(void)msg;
}

/*
 * 2.1.12 maps a segment from the page boundary at or before its offset;
 * an empty one at a page boundary maps nothing, fails, and falls back to
 * reading into zero bytes of memory, which its allocator refuses: -1 (with
 * a warning). A buffer that drains to a socket reads nothing in, and an
 * empty part at the end of a longer segment is fine.
 */
static void
empty_file_segment_at_page_boundary(void)
{
	struct evbuffer *buf = evbuffer_new();
	struct evbuffer_file_segment *seg = NULL;
	int fd = temp_file("0123456789"), fd2 = temp_file("0123456789");
	int fd3 = temp_file("0123456789"), fd4 = temp_file("0123456789");

	event_set_log_callback(quiet_log);
	check(buf && fd >= 0 && fd2 >= 0 && fd3 >= 0 && fd4 >= 0);
	/* The descriptor's fate is left out: 2.1.12 leaks the segment here
	 * and never closes it; later releases close it, as we do. */
	check_int(evbuffer_add_file(buf, fd, 0, 0), ==, -1);
	check_int(evbuffer_get_length(buf), ==, 0);

	seg = evbuffer_file_segment_new(fd2, 0, 0, EVBUF_FS_CLOSE_ON_FREE);
	check(seg != NULL);
	check_int(evbuffer_add_file_segment(buf, seg, 0, 0), ==, -1);
	check(fd_is_open(fd2));
	evbuffer_file_segment_free(seg);
	seg = NULL;
	check(!fd_is_open(fd2));

	/* Without sendfile the bytes are read in at once: refused there, and
	 * the descriptor stays the caller's. */
	seg = evbuffer_file_segment_new(fd3, 0, 0,
	    EVBUF_FS_CLOSE_ON_FREE | EVBUF_FS_DISABLE_SENDFILE);
	if (seg)
		fd3 = -1;	/* the segment closes it */
	check(seg == NULL);
	check(fd_is_open(fd3));
	close(fd3);
	fd3 = -1;

	seg = evbuffer_file_segment_new(fd4, 0, 10, EVBUF_FS_CLOSE_ON_FREE);
	check(seg != NULL);
	check_int(evbuffer_add_file_segment(buf, seg, 10, 0), ==, 0);
	check_int(evbuffer_get_length(buf), ==, 0);
	evbuffer_file_segment_free(seg);
	seg = NULL;
	check(fd_is_open(fd4));
	evbuffer_free(buf);
	buf = NULL;
	check(!fd_is_open(fd4));

	buf = evbuffer_new();
	check(buf != NULL);
	check_int(evbuffer_set_flags(buf, EVBUFFER_FLAG_DRAINS_TO_FD), ==, 0);
	fd = temp_file("0123456789");
	check(fd >= 0);
	check_int(evbuffer_add_file(buf, fd, 0, 0), ==, 0);
	check(fd_is_open(fd));
	evbuffer_free(buf);
	buf = NULL;
	check(!fd_is_open(fd));
end:
	event_set_log_callback(NULL);
	if (fd3 >= 0)
		close(fd3);
	if (seg)
		evbuffer_file_segment_free(seg);
	if (buf)
		evbuffer_free(buf);
}

static void
file_segment_through_bufferevent(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *out = NULL, *in = NULL;
	char name[] = "/tmp/bevrs-segment-XXXXXX";
	unsigned char *data = malloc(BIG_FILE);
	struct sink k = { 0, 0 };
	int sv[2] = { -1, -1 };
	int fd = mkstemp(name);
	size_t i;

	check(base && data && fd >= 0);
	unlink(name);
	for (i = 0; i < BIG_FILE; i++)
		data[i] = big_byte(i);
	check_int(write(fd, data, BIG_FILE), ==, BIG_FILE);
	check_int(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
	/* 2.1.12 sends a whole segment with one sendfile: on a blocking
	 * socket that would wait for this very thread to read. */
	check_int(evutil_make_socket_nonblocking(sv[0]), ==, 0);
	check_int(evutil_make_socket_nonblocking(sv[1]), ==, 0);
	out = bufferevent_socket_new(base, sv[0], BEV_OPT_CLOSE_ON_FREE);
	in = bufferevent_socket_new(base, sv[1], BEV_OPT_CLOSE_ON_FREE);
	check(out && in);
	sv[0] = sv[1] = -1;
	bufferevent_setcb(in, sink_read, NULL, NULL, &k);
	bufferevent_enable(in, EV_READ);
	check_int(bufferevent_write(out, "[", 1), ==, 0);
	check_int(evbuffer_add_file(bufferevent_get_output(out), fd, 0, -1),
	    ==, 0);
	fd = -1;
	check_int(bufferevent_write(out, "]", 1), ==, 0);
	check_int(event_base_dispatch(base), ==, 0);
	check_int(k.bad, ==, 0);
	check_int(k.got, ==, BIG_FILE + 2);
end:
	if (fd >= 0)
		close(fd);
	if (out)
		bufferevent_free(out);
	if (in)
		bufferevent_free(in);
	free(data);
	if (base)
		event_base_free(base);
}

struct calls {
	int n;
	size_t orig, added, deleted;
};

static void
on_change(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct calls *c = arg;

	(void)buf;
	c->n++;
	c->orig = info->orig_size;
	c->added = info->n_added;
	c->deleted = info->n_deleted;
}

static void
callbacks_and_flags(void)
{
	struct evbuffer *buf = evbuffer_new();
	struct evbuffer_cb_entry *e;
	struct calls c;

	memset(&c, 0, sizeof(c));
	check(buf);
	e = evbuffer_add_cb(buf, on_change, &c);
	check(e != NULL);
	check_int(evbuffer_add(buf, "abcd", 4), ==, 0);
	check_int(c.n, ==, 1);
	check_int(c.orig, ==, 0);
	check_int(c.added, ==, 4);
	check_int(evbuffer_cb_clear_flags(buf, e, EVBUFFER_CB_ENABLED), ==, 0);
	check_int(evbuffer_drain(buf, 1), ==, 0);
	check_int(c.n, ==, 1);
	check_int(evbuffer_cb_set_flags(buf, e, EVBUFFER_CB_ENABLED), ==, 0);
	check_int(evbuffer_drain(buf, 1), ==, 0);
	check_int(c.n, ==, 2);
	check_int(c.orig, ==, 3);
	check_int(c.deleted, ==, 1);
	check_int(evbuffer_remove_cb_entry(buf, e), ==, 0);
	check_int(evbuffer_add(buf, "x", 1), ==, 0);
	check_int(c.n, ==, 2);
	check(evbuffer_add_cb(buf, on_change, &c) != NULL);
	check_int(evbuffer_remove_cb(buf, on_change, &c), ==, 0);
	check_int(evbuffer_remove_cb(buf, on_change, &c), ==, -1);
	check_int(evbuffer_set_flags(buf, EVBUFFER_FLAG_DRAINS_TO_FD), ==, 0);
	check_int(evbuffer_clear_flags(buf, EVBUFFER_FLAG_DRAINS_TO_FD), ==, 0);
end:
	if (buf)
		evbuffer_free(buf);
}

static int old_calls;
static size_t old_from, old_to;

static void
old_style(struct evbuffer *buf, size_t old_len, size_t new_len, void *arg)
{
	(void)buf;
	(void)arg;
	old_calls++;
	old_from = old_len;
	old_to = new_len;
}

static void
compat_calls(void)
{
	struct evbuffer *buf = evbuffer_new();
	char *line = NULL;
	unsigned char *at;

	old_calls = 0;
	check(buf);
	evbuffer_setcb(buf, old_style, NULL);
	check_int(evbuffer_add(buf, "one\r\ntwo\n", 9), ==, 0);
	check_int(old_calls, ==, 1);
	check_int(old_from, ==, 0);
	check_int(old_to, ==, 9);
	at = evbuffer_find(buf, (const unsigned char *)"two", 3);
	check(at != NULL);
	check_mem(at, "two", 3);
	check(evbuffer_find(buf, (const unsigned char *)"six", 3) == NULL);
	line = evbuffer_readline(buf);
	check_str(line, "one");
	free(line);
	line = NULL;
	check_int(old_to, ==, 4);
	evbuffer_setcb(buf, NULL, NULL);
	line = evbuffer_readline(buf);
	check_str(line, "two");
	check_int(old_to, ==, 4);
end:
	free(line);
	if (buf)
		evbuffer_free(buf);
}

static void
freeze_each_end(void)
{
	struct evbuffer *buf = evbuffer_new();
	char out[8];

	check(buf);
	check_int(evbuffer_add(buf, "abc", 3), ==, 0);
	check_int(evbuffer_freeze(buf, 1), ==, 0);
	check_int(evbuffer_drain(buf, 1), ==, -1);
	check_int(evbuffer_remove(buf, out, 1), ==, -1);
	check_int(evbuffer_prepend(buf, "z", 1), ==, -1);
	check_int(evbuffer_add(buf, "d", 1), ==, 0);
	check_int(evbuffer_unfreeze(buf, 1), ==, 0);
	check_int(evbuffer_freeze(buf, 0), ==, 0);
	check_int(evbuffer_add(buf, "e", 1), ==, -1);
	check_int(evbuffer_prepend(buf, "z", 1), ==, 0);
	check_int(evbuffer_remove(buf, out, 5), ==, 5);
	check_mem(out, "zabcd", 5);
	check_int(evbuffer_unfreeze(buf, 0), ==, 0);
end:
	if (buf)
		evbuffer_free(buf);
}

static void
reserve_commit_peek(void)
{
	struct evbuffer *buf = evbuffer_new();
	struct evbuffer_iovec v[2], pv[8], add[2];
	struct evbuffer_ptr p;
	int n, i;
	size_t total = 0;

	check(buf);
	n = evbuffer_reserve_space(buf, 100, v, 1);
	check_int(n, ==, 1);
	check_int(v[0].iov_len, >=, 100);
	memcpy(v[0].iov_base, "reserved", 8);
	v[0].iov_len = 8;
	check_int(evbuffer_commit_space(buf, v, 1), ==, 0);
	check_int(evbuffer_get_length(buf), ==, 8);
	check_int(evbuffer_get_contiguous_space(buf), ==, 8);
	add[0].iov_base = (void *)"-one";
	add[0].iov_len = 4;
	add[1].iov_base = (void *)"-two";
	add[1].iov_len = 4;
	check_int(evbuffer_add_iovec(buf, add, 2), ==, 8);
	n = evbuffer_peek(buf, -1, NULL, pv, 8);
	check_int(n, >=, 1);
	for (i = 0; i < n; i++)
		total += pv[i].iov_len;
	check_int(total, ==, 16);
	check_mem(pv[0].iov_base, "reserved", 8);
	check_int(evbuffer_ptr_set(buf, &p, 12, EVBUFFER_PTR_SET), ==, 0);
	n = evbuffer_peek(buf, 2, &p, pv, 8);
	check_int(n, ==, 1);
	check_mem(pv[0].iov_base, "-t", 2);
end:
	if (buf)
		evbuffer_free(buf);
}

static void
positions_and_ranges(void)
{
	struct evbuffer *buf = evbuffer_new();
	struct evbuffer_ptr p, end, r;
	size_t eol = 99;
	char out[8];

	check(buf);
	check_int(evbuffer_add(buf, "ab\r\ncd\nab", 9), ==, 0);
	check_int(evbuffer_ptr_set(buf, &p, 1, EVBUFFER_PTR_SET), ==, 0);
	r = evbuffer_search_eol(buf, &p, &eol, EVBUFFER_EOL_CRLF);
	check_int(r.pos, ==, 2);
	check_int(eol, ==, 2);
	r = evbuffer_search_eol(buf, NULL, &eol, EVBUFFER_EOL_NUL);
	check_int(r.pos, ==, -1);
	check_int(eol, ==, 0);
	check_int(evbuffer_ptr_set(buf, &end, 8, EVBUFFER_PTR_SET), ==, 0);
	r = evbuffer_search_range(buf, "ab", 2, &p, &end);
	check_int(r.pos, ==, -1);
	check_int(evbuffer_ptr_set(buf, &end, 1, EVBUFFER_PTR_ADD), ==, 0);
	r = evbuffer_search_range(buf, "ab", 2, &p, &end);
	check_int(r.pos, ==, 7);
	check_int(evbuffer_copyout_from(buf, &r, out, sizeof(out)), ==, 2);
	check_mem(out, "ab", 2);
	check_int(evbuffer_ptr_set(buf, &p, 10, EVBUFFER_PTR_SET), ==, -1);
end:
	if (buf)
		evbuffer_free(buf);
}

static void
prepend_buffer_goes_first(void)
{
	struct evbuffer *a = evbuffer_new(), *b = evbuffer_new();
	char out[8];

	check(a && b);
	check_int(evbuffer_add(a, "tail", 4), ==, 0);
	check_int(evbuffer_add(b, "head", 4), ==, 0);
	check_int(evbuffer_prepend_buffer(a, b), ==, 0);
	check_int(evbuffer_get_length(b), ==, 0);
	check_int(evbuffer_remove(a, out, 8), ==, 8);
	check_mem(out, "headtail", 8);
end:
	if (a)
		evbuffer_free(a);
	if (b)
		evbuffer_free(b);
}

static void
socket_io(void)
{
	struct evbuffer *out = evbuffer_new(), *in = evbuffer_new();
	int sv[2] = { -1, -1 };
	char got[16];

	check(out && in);
	check_int(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
	check_int(fcntl(sv[1], F_SETFL, O_NONBLOCK), ==, 0);
	check_int(evbuffer_read(in, sv[1], 100), ==, -1);
	check_int(errno, ==, EAGAIN);
	check_int(evbuffer_add(out, "hello world", 11), ==, 0);
	check_int(evbuffer_write_atmost(out, sv[0], 5), ==, 5);
	check_int(evbuffer_get_length(out), ==, 6);
	check_int(evbuffer_write(out, sv[0]), ==, 6);
	check_int(evbuffer_get_length(out), ==, 0);
	check_int(evbuffer_read(in, sv[1], 3), ==, 3);
	check_int(evbuffer_read(in, sv[1], -1), ==, 8);
	check_int(evbuffer_remove(in, got, sizeof(got)), ==, 11);
	check_mem(got, "hello world", 11);
	close(sv[0]);
	sv[0] = -1;
	check_int(evbuffer_read(in, sv[1], 10), ==, 0);
end:
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	if (out)
		evbuffer_free(out);
	if (in)
		evbuffer_free(in);
}

static void
lock_calls_without_lock(void)
{
	struct evbuffer *buf = evbuffer_new();

	check(buf);
	/* No lock can be made before a thread implementation is set up. */
	check_int(evbuffer_enable_locking(buf, NULL), ==, -1);
	evbuffer_lock(buf);
	check_int(evbuffer_add(buf, "x", 1), ==, 0);
	evbuffer_unlock(buf);
	check_int(evbuffer_get_length(buf), ==, 1);
end:
	if (buf)
		evbuffer_free(buf);
}

/* Arguments out of range, where 2.1.12 answers rather than crashes. */
static void
out_of_range_arguments(void)
{
	struct evbuffer *buf = evbuffer_new(), *other = evbuffer_new();
	struct evbuffer_iovec v[2];
	struct evbuffer_ptr p;
	size_t n = 99;
	char out[8];
	char *line = NULL;

	check(buf && other);
	check_int(evbuffer_add(buf, "abc\r\n", 5), ==, 0);
	/* Positions at and past the end. */
	check_int(evbuffer_ptr_set(buf, &p, 5, EVBUFFER_PTR_SET), ==, 0);
	check_int(evbuffer_copyout_from(buf, &p, out, sizeof(out)), ==, 0);
	check_int(evbuffer_peek(buf, -1, &p, v, 2), ==, 0);
	check_int(evbuffer_search(buf, "a", 1, &p).pos, ==, -1);
	check_int(evbuffer_ptr_set(buf, &p, 6, EVBUFFER_PTR_SET), ==, -1);
	check_int(p.pos, ==, -1);
	check_int(evbuffer_ptr_set(buf, &p, 2, EVBUFFER_PTR_SET), ==, 0);
	check_int(evbuffer_ptr_set(buf, &p, 4, EVBUFFER_PTR_ADD), ==, -1);
	/* Sizes past the length. */
	check_ptr(evbuffer_pullup(buf, 6), ==, NULL);
	check_ptr(evbuffer_pullup(buf, 0), ==, NULL);
	check_int(evbuffer_remove_buffer(buf, other, 0), ==, 0);
	check_int(evbuffer_remove_buffer(buf, buf, 3), ==, 0);
	/* Unknown end-of-line style. */
	line = evbuffer_readln(buf, &n, 42);
	check_ptr(line, ==, NULL);
	check_int(n, ==, 0);
	check_int(evbuffer_search_eol(buf, NULL, &n, 42).pos, ==, -1);
	/* No extents. */
	check_int(evbuffer_reserve_space(buf, 10, v, 0), ==, -1);
	check_int(evbuffer_add_iovec(buf, NULL, 0), ==, 0);
	check_int(evbuffer_commit_space(buf, v, 0), ==, 0);
	/* An extent that was never reserved. */
	v[0].iov_base = out;
	v[0].iov_len = 1;
	check_int(evbuffer_commit_space(buf, v, 1), ==, -1);
	/* Draining more than there is empties the buffer. */
	check_int(evbuffer_drain(buf, (size_t)-1), ==, 0);
	check_int(evbuffer_get_length(buf), ==, 0);
	check_int(evbuffer_write(buf, -1), ==, -1);
end:
	free(line);
	if (buf)
		evbuffer_free(buf);
	if (other)
		evbuffer_free(other);
}

static const struct check_case cases[] = {
	{ "out_of_range_arguments", out_of_range_arguments },
	{ "reference_cleanup_after_last_byte",
	    reference_cleanup_after_last_byte },
	{ "buffer_reference_shares", buffer_reference_shares },
	{ "add_file_owns_fd", add_file_owns_fd },
	{ "file_segment_shared_by_buffers", file_segment_shared_by_buffers },
	{ "file_unmapped_and_sent", file_unmapped_and_sent },
	{ "empty_file_segment_keeps_its_chain",
	    empty_file_segment_keeps_its_chain },
	{ "empty_file_segment_at_page_boundary",
	    empty_file_segment_at_page_boundary },
	{ "file_segment_through_bufferevent",
	    file_segment_through_bufferevent },
	{ "callbacks_and_flags", callbacks_and_flags },
	{ "compat_calls", compat_calls },
	{ "freeze_each_end", freeze_each_end },
	{ "reserve_commit_peek", reserve_commit_peek },
	{ "positions_and_ranges", positions_and_ranges },
	{ "prepend_buffer_goes_first", prepend_buffer_goes_first },
	{ "socket_io", socket_io },
	{ "lock_calls_without_lock", lock_calls_without_lock },
	{ NULL, NULL }
};

int
main(int argc, char **argv)
{
	return check_main(cases, argc, argv);
}
