/*
 * test_fastpath_edges.c: the edges of the paths every message takes, as a
 * program can reach them through the public API.
 *
 * - evbuffer_remove and bufferevent_read: nothing asked, more asked than
 *   held, across chunks of several kinds, on a frozen front, from inside
 *   the buffer's own callback;
 * - evbuffer_get_length on a locked buffer while another thread holds the
 *   lock or changes the buffer;
 * - a pair half's write while its output has a program callback, a frozen
 *   back, data waiting, the compat callback, deferred callbacks, or ends
 *   the program unfroze; callbacks that change either buffer while bytes
 *   move; the partner's watermarks; thread-safe pairs across threads;
 * - bufferevent_trigger with and without callbacks and watermarks, and
 *   with BEV_TRIG_IGNORE_WATERMARKS and BEV_TRIG_DEFER_CALLBACKS.
 *
 * Callbacks write what they see into a transcript that each case compares
 * with what libevent 2.1.12 does. The thread cases come last: they install
 * the pthread functions, after which every new base has locks.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/buffer_compat.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/thread.h>

#include "check.h"
#include "pair_util.h"
#include "thread_util.h"

/* The transcript: what the callbacks saw, in order. */
static char tr[4096];
static size_t tr_len;

static void
note(const char *fmt, ...)
{
	va_list ap;
	int n;

	if (tr_len >= sizeof(tr) - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(tr + tr_len, sizeof(tr) - tr_len, fmt, ap);
	va_end(ap);
	if (n > 0)
		tr_len += (size_t)n;
	if (tr_len > sizeof(tr) - 1)
		tr_len = sizeof(tr) - 1;
}

static void
tr_reset(void)
{
	tr_len = 0;
	tr[0] = '\0';
}

static size_t
len_of(struct evbuffer *buf)
{
	return evbuffer_get_length(buf);
}

/* Notes a change as "<tag>:<orig>+<added>-<deleted>=<length now>;". */
static void
record_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	note("%s:%zu+%zu-%zu=%zu;", (const char *)arg, info->orig_size,
	    info->n_added, info->n_deleted, len_of(buf));
}

/* The compat callback: "<tag>:<old>><new>;". */
static void
record_old_cb(struct evbuffer *buf, size_t old_len, size_t new_len,
    void *arg)
{
	(void)buf;
	note("%s:%zu>%zu;", (const char *)arg, old_len, new_len);
}

static void
record_read(struct bufferevent *bev, void *arg)
{
	note("r%s:%zu;", (const char *)arg, in_len(bev));
}

static void
record_write(struct bufferevent *bev, void *arg)
{
	note("w%s:%zu;", (const char *)arg, out_len(bev));
}

static void
record_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	note("e%s:%x;", (const char *)arg, (unsigned)what);
}

/* A read callback that takes up to 4 bytes each time and notes them. */
static void
read_four(struct bufferevent *bev, void *arg)
{
	char got[4];
	size_t n = bufferevent_read(bev, got, sizeof(got));

	note("r%s:%.*s/%zu;", (const char *)arg, (int)n, got, in_len(bev));
}

/* Messages logged through event_set_log_callback. */
static int log_count;

static void
count_log(int severity, const char *msg)
{
	(void)severity;
	(void)msg;
	log_count++;
}

/* Options of the pair cases; the thread-safe runs set BEV_OPT_THREADSAFE. */
static int pair_opts;

static struct event_base *
pair_setup(struct bufferevent **pair)
{
	struct event_base *base = event_base_new();

	pair[0] = pair[1] = NULL;
	if (base && bufferevent_pair_new(base, pair_opts, pair) != 0) {
		pair[0] = pair[1] = NULL;
		event_base_free(base);
		return NULL;
	}
	return base;
}

/* ---- evbuffer_remove and bufferevent_read ---- */

static void
remove_nothing(void)
{
	struct evbuffer *buf = evbuffer_new();
	char out[8];

	tr_reset();
	evbuffer_add_cb(buf, record_cb, "b");
	/* NULL is fine wherever nothing is to be copied. */
	check_int(evbuffer_remove(buf, NULL, 0), ==, 0);
	check_int(evbuffer_remove(buf, NULL, 10), ==, 0);
	check_int(evbuffer_remove(buf, out, sizeof(out)), ==, 0);
	check_int(evbuffer_add(buf, "hello", 5), ==, 0);
	check_int(evbuffer_remove(buf, NULL, 0), ==, 0);
	check_int(evbuffer_remove(buf, out, 0), ==, 0);
	check_int(len_of(buf), ==, 5);
	/* Only the add was a change. */
	check_str(tr, "b:0+5-0=5;");
end:
	evbuffer_free(buf);
}

static void
remove_more_than_held(void)
{
	struct evbuffer *buf = evbuffer_new();
	char out[64];
	size_t i;

	tr_reset();
	memset(out, 'x', sizeof(out));
	evbuffer_add(buf, "hello", 5);
	evbuffer_add_cb(buf, record_cb, "b");
	check_int(evbuffer_remove(buf, out, sizeof(out)), ==, 5);
	check_mem(out, "hello", 5);
	/* Nothing written past what the buffer held. */
	for (i = 5; i < sizeof(out); i++)
		check_int(out[i], ==, 'x');
	check_int(len_of(buf), ==, 0);
	check_str(tr, "b:5+0-5=0;");
	check_int(evbuffer_remove(buf, out, sizeof(out)), ==, 0);
	check_str(tr, "b:5+0-5=0;");
end:
	evbuffer_free(buf);
}

static void
cleanup_note(const void *data, size_t len, void *arg)
{
	note("free %s:%.*s;", (const char *)arg, (int)len,
	    (const char *)data);
}

/* Chunks of three kinds (a reference, moved chunks, copies) in one
 * buffer; removals that end inside a chunk, at its end, and beyond all. */
static void
remove_across_chunks(void)
{
	struct evbuffer *buf = evbuffer_new(), *tmp = evbuffer_new();
	char out[64];

	tr_reset();
	evbuffer_add_reference(buf, "abc", 3, cleanup_note, "r1");
	evbuffer_add(tmp, "defgh", 5);
	evbuffer_add_buffer(buf, tmp);
	evbuffer_add_reference(buf, "ijklmno", 7, cleanup_note, "r2");
	evbuffer_add(buf, "pq", 2);
	evbuffer_add_cb(buf, record_cb, "b");
	check_int(evbuffer_remove(buf, out, 4), ==, 4);
	check_mem(out, "abcd", 4);
	check_int(evbuffer_remove(buf, out, 4), ==, 4);
	check_mem(out, "efgh", 4);
	check_int(evbuffer_remove(buf, out, 1), ==, 1);
	check_mem(out, "i", 1);
	check_int(evbuffer_remove(buf, out, 2), ==, 2);
	check_mem(out, "jk", 2);
	check_int(evbuffer_remove(buf, out, sizeof(out)), ==, 6);
	check_mem(out, "lmnopq", 6);
	check_int(evbuffer_remove(buf, out, sizeof(out)), ==, 0);
	/* A reference is let go once its last byte is removed, before the
	 * callbacks hear of the removal. */
	check_str(tr, "free r1:abc;b:17+0-4=13;b:13+0-4=9;b:9+0-1=8;"
	    "b:8+0-2=6;free r2:ijklmno;b:6+0-6=0;");
end:
	evbuffer_free(buf);
	evbuffer_free(tmp);
}

/* A file segment between copies: removals cross into and out of it, and
 * the file is closed once its last byte is removed (BUF-27). */
static void
remove_through_file_segment(void)
{
	struct evbuffer *buf = evbuffer_new();
	char path[] = "/tmp/bevrs-fastpath-XXXXXX";
	char out[64];
	int fd = mkstemp(path);

	check(fd >= 0);
	unlink(path);
	check_int(write(fd, "0123456789", 10), ==, 10);
	evbuffer_add(buf, "ab", 2);
	check_int(evbuffer_add_file(buf, fd, 2, 6), ==, 0);
	evbuffer_add(buf, "yz", 2);
	check_int(len_of(buf), ==, 10);
	check_int(evbuffer_remove(buf, out, 3), ==, 3);
	check_mem(out, "ab2", 3);
	check_int(evbuffer_remove(buf, out, 4), ==, 4);
	check_mem(out, "3456", 4);
	check_int(fcntl(fd, F_GETFD), !=, -1);
	check_int(evbuffer_remove(buf, out, 2), ==, 2);
	check_mem(out, "7y", 2);
	check_int(fcntl(fd, F_GETFD), ==, -1);
	fd = -1;
	check_int(evbuffer_remove(buf, out, sizeof(out)), ==, 1);
	check_mem(out, "z", 1);
end:
	evbuffer_free(buf);
	if (fd >= 0 && fcntl(fd, F_GETFD) != -1)
		close(fd);
}

/* Removing from a buffer that shares its bytes with another
 * (evbuffer_add_buffer_reference) leaves the other as it was. */
static void
remove_shared_bytes(void)
{
	struct evbuffer *src = evbuffer_new(), *view = evbuffer_new();
	char out[32];

	evbuffer_add(src, "hello ", 6);
	evbuffer_add(src, "world", 5);
	check_int(evbuffer_add_buffer_reference(view, src), ==, 0);
	check_int(len_of(view), ==, 11);
	check_int(evbuffer_remove(view, out, 8), ==, 8);
	check_mem(out, "hello wo", 8);
	check_int(len_of(src), ==, 11);
	check_int(evbuffer_remove(src, out, 7), ==, 7);
	check_mem(out, "hello w", 7);
	check_int(evbuffer_remove(view, out, sizeof(out)), ==, 3);
	check_mem(out, "rld", 3);
	check_int(evbuffer_remove(src, out, sizeof(out)), ==, 4);
	check_mem(out, "orld", 4);
end:
	evbuffer_free(view);
	evbuffer_free(src);
}

/* A long patterned stream built from adds, moves and a prepend, removed
 * in sizes around chunk boundaries. */
static void
remove_large_pattern(void)
{
	struct evbuffer *buf = evbuffer_new(), *tmp = evbuffer_new();
	static unsigned char src[40000], out[40000];
	static const size_t sizes[] = { 1, 4095, 4097, 100, 7000, 1, 16384,
		3 };
	size_t i, pos = 0, total = 0;
	int n;

	for (i = 0; i < sizeof(src); i++)
		src[i] = (unsigned char)(i * 7 + i / 251);
	/* [0,10) prepended last; [10,5010) added; [5010,12010) moved in;
	 * then many small adds; the rest in one large add. */
	evbuffer_add(buf, src + 10, 5000);
	evbuffer_add(tmp, src + 5010, 7000);
	evbuffer_add_buffer(buf, tmp);
	for (i = 12010; i < 13010; i += 10)
		evbuffer_add(buf, src + i, 10);
	evbuffer_add(buf, src + 13010, sizeof(src) - 13010);
	evbuffer_prepend(buf, src, 10);
	check_int(len_of(buf), ==, sizeof(src));
	for (i = 0; pos < sizeof(src); i++) {
		size_t want = sizes[i % (sizeof(sizes) / sizeof(sizes[0]))];

		n = evbuffer_remove(buf, out + pos, want);
		check_int(n, >, 0);
		check_int(n, <=, want);
		pos += (size_t)n;
		total += (size_t)n;
		check_int(len_of(buf), ==, sizeof(src) - total);
	}
	check_mem(out, src, sizeof(src));
	check_int(evbuffer_remove(buf, out, 1), ==, 0);
end:
	evbuffer_free(buf);
	evbuffer_free(tmp);
}

static void
remove_frozen_front(void)
{
	struct event_base *base = NULL;
	struct bufferevent *pair[2] = { NULL, NULL };
	struct evbuffer *buf = evbuffer_new();
	char out[8];

	tr_reset();
	evbuffer_add_cb(buf, record_cb, "b");
	check_int(evbuffer_freeze(buf, 1), ==, 0);
	/* Empty: nothing to refuse (BUF-19). */
	check_int(evbuffer_remove(buf, out, sizeof(out)), ==, 0);
	evbuffer_add(buf, "abc", 3);
	memset(out, 'x', sizeof(out));
	check_int(evbuffer_remove(buf, out, 2), ==, -1);
	/* Refused before copying anything. */
	check_int(out[0], ==, 'x');
	check_int(evbuffer_remove(buf, out, 0), ==, 0);
	check_int(len_of(buf), ==, 3);
	check_int(evbuffer_unfreeze(buf, 1), ==, 0);
	check_int(evbuffer_remove(buf, out, 2), ==, 2);
	check_mem(out, "ab", 2);
	check_str(tr, "b:0+3-0=3;b:3+0-2=1;");

	/* The same through bufferevent_read on a pair's input. */
	base = pair_setup(pair);
	check(base != NULL);
	check_int(bufferevent_enable(pair[1], EV_READ), ==, 0);
	check_int(evbuffer_freeze(bufferevent_get_input(pair[1]), 1), ==, 0);
	check_int(bufferevent_read(pair[1], out, sizeof(out)), ==, 0);
	check_int(bufferevent_write(pair[0], "hey", 3), ==, 0);
	check_int(in_len(pair[1]), ==, 3);
	check(bufferevent_read(pair[1], out, sizeof(out)) == (size_t)-1);
	check_int(in_len(pair[1]), ==, 3);
	check_int(bufferevent_read(pair[1], out, 0), ==, 0);
	check_int(evbuffer_unfreeze(bufferevent_get_input(pair[1]), 1), ==,
	    0);
	check_int(bufferevent_read(pair[1], out, sizeof(out)), ==, 3);
	check_mem(out, "hey", 3);
end:
	evbuffer_free(buf);
	pair_case_free(base, NULL, pair);
}

/* A callback that removes two bytes from its own buffer when bytes were
 * added, a few times at most. */
static int nested_left;

static void
remove_inside(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	char got[2];
	int n;

	record_cb(buf, info, arg);
	if (info->n_added && nested_left > 0) {
		nested_left--;
		n = evbuffer_remove(buf, got, sizeof(got));
		note("got %d:%.*s;", n, n > 0 ? n : 0, got);
	}
}

static void
remove_in_own_callback(void)
{
	struct evbuffer *buf = evbuffer_new();
	char out[16];

	tr_reset();
	nested_left = 3;
	evbuffer_add_cb(buf, record_cb, "old");
	evbuffer_add_cb(buf, remove_inside, "new");
	check_int(evbuffer_add(buf, "abcdefgh", 8), ==, 0);
	check_int(len_of(buf), ==, 6);
	/* The nested removal is reported to every callback, newest first,
	 * before the older callback hears of the add. */
	check_str(tr, "new:0+8-0=8;new:8+0-2=6;old:8+0-2=6;got 2:ab;"
	    "old:0+8-0=6;");
	tr_reset();
	memset(out, 0, sizeof(out));
	check_int(evbuffer_remove(buf, out, sizeof(out)), ==, 6);
	check_str(out, "cdefgh");
	check_str(tr, "new:6+0-6=0;old:6+0-6=0;");
end:
	evbuffer_free(buf);
}

/* Space reserved or expanded but not filled, and readln's memory of
 * where it stopped, around removals. */
static void
remove_after_reserve_and_readln(void)
{
	struct evbuffer *buf = evbuffer_new();
	struct evbuffer_iovec vec[2];
	char out[32], *line = NULL;
	size_t n_read = 0;
	int nv;

	check_int(evbuffer_expand(buf, 4096), ==, 0);
	check_int(evbuffer_add(buf, "abc", 3), ==, 0);
	nv = evbuffer_reserve_space(buf, 8192, vec, 2);
	check_int(nv, >=, 1);
	check_int(evbuffer_remove(buf, out, sizeof(out)), ==, 3);
	check_mem(out, "abc", 3);
	check_int(len_of(buf), ==, 0);
	/* The reserved space, never committed, holds no bytes to remove. */
	check_int(evbuffer_add(buf, "de", 2), ==, 0);
	check_int(evbuffer_remove(buf, out, 1), ==, 1);
	check_int(out[0], ==, 'd');
	/* readln remembers how far it looked; a removal must reset that. */
	check_int(evbuffer_add(buf, "xyz", 3), ==, 0);
	line = evbuffer_readln(buf, &n_read, EVBUFFER_EOL_LF);
	check_ptr(line, ==, NULL);
	check_int(evbuffer_remove(buf, out, 2), ==, 2);
	check_mem(out, "ex", 2);
	check_int(evbuffer_add(buf, "\n", 1), ==, 0);
	line = evbuffer_readln(buf, &n_read, EVBUFFER_EOL_LF);
	check(line != NULL);
	check_str(line, "yz");
	check_int(n_read, ==, 2);
	check_int(len_of(buf), ==, 0);
end:
	free(line);
	evbuffer_free(buf);
}

static void
read_null_and_oversize(void)
{
	struct event_base *base = NULL;
	struct bufferevent *pair[2] = { NULL, NULL };
	char out[4];

	log_count = 0;
	event_set_log_callback(count_log);
	base = pair_setup(pair);
	check(base != NULL);
	check_int(bufferevent_enable(pair[1], EV_READ), ==, 0);
	/* An empty input copies nothing: NULL is no misuse, and nothing is
	 * logged. */
	check_int(bufferevent_read(pair[1], NULL, 10), ==, 0);
	check_int(bufferevent_read(pair[1], NULL, 0), ==, 0);
	check_int(log_count, ==, 0);
	/* A size larger than the room is fine while the input is shorter:
	 * only what it holds is written. */
	check_int(bufferevent_write(pair[0], "ab", 2), ==, 0);
	memset(out, 'x', sizeof(out));
	check_int(bufferevent_read(pair[1], out, 1000), ==, 2);
	check_mem(out, "abxx", 4);
	check_int(log_count, ==, 0);
end:
	event_set_log_callback(NULL);
	pair_case_free(base, NULL, pair);
}

/*
 * The calls of add_impossible_lengths, in a child process whose address
 * space is capped: a library that tried to copy or allocate such lengths
 * would fail there, not exhaust the machine. Exits 0 when every answer
 * is libevent's.
 */
static int
impossible_lengths_child(void)
{
	struct event_base *base = NULL;
	struct bufferevent *pair[2] = { NULL, NULL };
	struct evbuffer *buf = evbuffer_new();
	struct evbuffer_iovec vec[2];
	struct rlimit cap = { (rlim_t)1 << 30, (rlim_t)1 << 30 };
	char data[8] = "abc";
	static const size_t huge[] = { (size_t)-1, (size_t)-1 / 2 + 1 };
	size_t i;

	alarm(60);
	setrlimit(RLIMIT_AS, &cap);
	tr_reset();
	evbuffer_add_cb(buf, record_cb, "b");
	for (i = 0; i < 2; i++) {
		/* What a failed read()'s -1 becomes as a size. */
		if (evbuffer_add(buf, data, huge[i]) != -1 ||
		    evbuffer_prepend(buf, data, huge[i]) != -1)
			return 1;
	}
	evbuffer_add(buf, "x", 1);
	for (i = 0; i < 2; i++) {
		if (evbuffer_add(buf, data, huge[i]) != -1 ||
		    evbuffer_prepend(buf, data, huge[i]) != -1)
			return 2;
	}
	/* Vectors whose sum no object can have: nothing is added. */
	vec[0].iov_base = data;
	vec[0].iov_len = 3;
	vec[1].iov_base = data;
	vec[1].iov_len = huge[1];
	if (evbuffer_add_iovec(buf, vec, 2) != 0)
		return 3;
	if (len_of(buf) != 1 || strcmp(tr, "b:0+1-0=1;"))
		return 4;
	base = pair_setup(pair);
	if (!base || bufferevent_enable(pair[1], EV_READ) != 0)
		return 5;
	for (i = 0; i < 2; i++)
		if (bufferevent_write(pair[0], data, huge[i]) != -1)
			return 6;
	if (in_len(pair[1]) != 0 || out_len(pair[0]) != 0)
		return 7;
	if (bufferevent_write(pair[0], data, 3) != 0 || in_len(pair[1]) != 3)
		return 8;
	pair_case_free(base, NULL, pair);
	evbuffer_free(buf);
	return 0;
}

static void
add_impossible_lengths(void)
{
	pid_t pid;
	int status = -1;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	check(pid >= 0);
	if (pid == 0) {
		/* Refusals may be logged; the answers are what count. */
		event_set_log_callback(count_log);
		_exit(impossible_lengths_child());
	}
	check_int(waitpid(pid, &status, 0), ==, pid);
	check(WIFEXITED(status));
	check_int(WEXITSTATUS(status), ==, 0);
end:;
}

/* ---- pair writes ---- */

static void
pair_output_program_cb(void)
{
	struct event_base *base;
	struct bufferevent *pair[2];
	struct evbuffer *out, *in;
	struct evbuffer_cb_entry *ent;

	tr_reset();
	base = pair_setup(pair);
	check(base != NULL);
	out = bufferevent_get_output(pair[0]);
	in = bufferevent_get_input(pair[1]);
	check_int(bufferevent_enable(pair[1], EV_READ), ==, 0);
	ent = evbuffer_add_cb(out, record_cb, "out");
	check(ent != NULL);
	check(evbuffer_add_cb(in, record_cb, "in") != NULL);
	check_int(bufferevent_write(pair[0], "abc", 3), ==, 0);
	/* The bytes pass through the output: its callback sees them come
	 * and go, then the input's sees them arrive. */
	check_str(tr, "out:0+3-0=3;out:3+0-3=0;in:0+3-0=3;");
	check_int(out_len(pair[0]), ==, 0);
	check_int(in_len(pair[1]), ==, 3);

	/* Disabled: not called, the bytes still move. */
	tr_reset();
	check_int(evbuffer_cb_clear_flags(out, ent, EVBUFFER_CB_ENABLED), ==,
	    0);
	check_int(bufferevent_write(pair[0], "de", 2), ==, 0);
	check_str(tr, "in:3+2-0=5;");
	check_int(in_len(pair[1]), ==, 5);

	/* Removed: the same. */
	tr_reset();
	check_int(evbuffer_remove_cb_entry(out, ent), ==, 0);
	check_int(bufferevent_write(pair[0], "f", 1), ==, 0);
	check_str(tr, "in:5+1-0=6;");
	check_int(evbuffer_remove_cb(in, record_cb, "in"), ==, 0);
	check_int(bufferevent_write(pair[0], "g", 1), ==, 0);
	check_int(in_len(pair[1]), ==, 7);
	check_int(out_len(pair[0]), ==, 0);
end:
	pair_case_free(base, NULL, pair);
}

static void
pair_output_frozen_back(void)
{
	struct event_base *base;
	struct bufferevent *pair[2];
	struct evbuffer *src = evbuffer_new();
	char got[8];

	base = pair_setup(pair);
	check(base != NULL);
	check_int(bufferevent_enable(pair[1], EV_READ), ==, 0);
	check_int(evbuffer_freeze(bufferevent_get_output(pair[0]), 0), ==, 0);
	check_int(bufferevent_write(pair[0], "abc", 3), ==, -1);
	evbuffer_add(src, "zz", 2);
	check_int(bufferevent_write_buffer(pair[0], src), ==, -1);
	check_int(len_of(src), ==, 2);
	check_int(out_len(pair[0]), ==, 0);
	check_int(in_len(pair[1]), ==, 0);
	check_int(evbuffer_unfreeze(bufferevent_get_output(pair[0]), 0), ==,
	    0);
	check_int(bufferevent_write(pair[0], "abc", 3), ==, 0);
	check_int(bufferevent_write_buffer(pair[0], src), ==, 0);
	check_int(len_of(src), ==, 0);
	check_int(in_len(pair[1]), ==, 5);
	check_int(bufferevent_read(pair[1], got, sizeof(got)), ==, 5);
	check_mem(got, "abczz", 5);
end:
	evbuffer_free(src);
	pair_case_free(base, NULL, pair);
}

/* Bytes waiting in the output keep their place ahead of later writes,
 * whatever kept them there. */
static void
pair_output_nonempty_order(void)
{
	struct event_base *base;
	struct bufferevent *pair[2];
	char got[32];

	base = pair_setup(pair);
	check(base != NULL);
	/* The reader not reading. */
	check_int(bufferevent_write(pair[0], "ab", 2), ==, 0);
	check_int(bufferevent_write(pair[0], "cd", 2), ==, 0);
	check_int(out_len(pair[0]), ==, 4);
	check_int(bufferevent_enable(pair[1], EV_READ), ==, 0);
	check_int(out_len(pair[0]), ==, 0);
	check_int(bufferevent_write(pair[0], "ef", 2), ==, 0);
	/* The writer not writing. */
	check_int(bufferevent_disable(pair[0], EV_WRITE), ==, 0);
	check_int(bufferevent_write(pair[0], "gh", 2), ==, 0);
	check_int(out_len(pair[0]), ==, 2);
	check_int(bufferevent_enable(pair[0], EV_WRITE), ==, 0);
	check_int(bufferevent_write(pair[0], "ij", 2), ==, 0);
	check_int(out_len(pair[0]), ==, 0);
	/* The reader full up to its high watermark. */
	bufferevent_setwatermark(pair[1], EV_READ, 0, 12);
	check_int(bufferevent_write(pair[0], "klmnop", 6), ==, 0);
	check_int(in_len(pair[1]), ==, 12);
	check_int(out_len(pair[0]), ==, 4);
	check_int(bufferevent_write(pair[0], "q", 1), ==, 0);
	check_int(out_len(pair[0]), ==, 5);
	check_int(bufferevent_read(pair[1], got, 12), ==, 12);
	check_mem(got, "abcdefghijkl", 12);
	/* Draining the input let the rest move up to the mark. */
	check_int(in_len(pair[1]), ==, 5);
	check_int(out_len(pair[0]), ==, 0);
	bufferevent_setwatermark(pair[1], EV_READ, 0, 0);
	check_int(bufferevent_write(pair[0], "r", 1), ==, 0);
	check_int(bufferevent_read(pair[1], got, sizeof(got)), ==, 6);
	check_mem(got, "mnopqr", 6);
end:
	pair_case_free(base, NULL, pair);
}

/* evbuffer_setcb on the output replaces the pair's own callback too:
 * writes stay until an enable or a flush moves them. */
static void
pair_compat_setcb(void)
{
	struct event_base *base;
	struct bufferevent *pair[2];
	struct evbuffer *out;
	char got[16];

	tr_reset();
	base = pair_setup(pair);
	check(base != NULL);
	out = bufferevent_get_output(pair[0]);
	check_int(bufferevent_enable(pair[1], EV_READ), ==, 0);
	evbuffer_setcb(out, record_old_cb, "out");
	check_int(bufferevent_write(pair[0], "abc", 3), ==, 0);
	check_int(out_len(pair[0]), ==, 3);
	check_int(in_len(pair[1]), ==, 0);
	check_int(bufferevent_enable(pair[1], EV_READ), ==, 0);
	check_int(out_len(pair[0]), ==, 0);
	check_int(in_len(pair[1]), ==, 3);
	check_int(bufferevent_write(pair[0], "de", 2), ==, 0);
	check_int(out_len(pair[0]), ==, 2);
	check_int(bufferevent_enable(pair[0], EV_WRITE), ==, 0);
	check_int(out_len(pair[0]), ==, 0);
	check_str(tr, "out:0>3;out:3>0;out:0>2;out:2>0;");
	evbuffer_setcb(out, NULL, NULL);
	check_int(bufferevent_write(pair[0], "fg", 2), ==, 0);
	check_int(out_len(pair[0]), ==, 2);
	check_int(bufferevent_flush(pair[0], EV_WRITE, BEV_FLUSH), ==, 0);
	check_int(out_len(pair[0]), ==, 0);
	check_int(bufferevent_read(pair[1], got, sizeof(got)), ==, 7);
	check_mem(got, "abcdefg", 7);
	check_str(tr, "out:0>3;out:3>0;out:0>2;out:2>0;");
end:
	pair_case_free(base, NULL, pair);
}

/* A transfer leaves the output's front and the input's back frozen even
 * where the program had unfrozen them; without a transfer they stay as
 * the program left them. */
static void
pair_refreeze_after_transfer(void)
{
	struct event_base *base;
	struct bufferevent *pair[2];
	struct evbuffer *out, *in;

	base = pair_setup(pair);
	check(base != NULL);
	out = bufferevent_get_output(pair[0]);
	in = bufferevent_get_input(pair[1]);
	check_int(evbuffer_unfreeze(out, 1), ==, 0);
	check_int(bufferevent_write(pair[0], "abc", 3), ==, 0);
	check_int(evbuffer_drain(out, 1), ==, 0);
	check_int(out_len(pair[0]), ==, 2);
	check_int(evbuffer_unfreeze(in, 0), ==, 0);
	check_int(evbuffer_add(in, "x", 1), ==, 0);
	/* Enabling the reader moves the output: both ends freeze again. */
	check_int(bufferevent_enable(pair[1], EV_READ), ==, 0);
	check_int(in_len(pair[1]), ==, 3);
	check_int(evbuffer_add(in, "y", 1), ==, -1);
	check_int(bufferevent_write(pair[0], "d", 1), ==, 0);
	check_int(evbuffer_drain(out, 1), ==, 0);

	/* A plain write, each end unfrozen in turn. */
	check_int(evbuffer_unfreeze(in, 0), ==, 0);
	check_int(bufferevent_write(pair[0], "e", 1), ==, 0);
	check_int(evbuffer_add(in, "y", 1), ==, -1);
	check_int(evbuffer_unfreeze(out, 1), ==, 0);
	check_int(bufferevent_write(pair[0], "f", 1), ==, 0);
	check_int(bufferevent_disable(pair[1], EV_READ), ==, 0);
	check_int(bufferevent_write(pair[0], "g", 1), ==, 0);
	check_int(evbuffer_drain(out, 1), ==, -1);
	check_int(out_len(pair[0]), ==, 1);

	/* And a write of a whole buffer. */
	check_int(bufferevent_enable(pair[1], EV_READ), ==, 0);
	check_int(evbuffer_unfreeze(in, 0), ==, 0);
	{
		struct evbuffer *src = evbuffer_new();

		evbuffer_add(src, "hi", 2);
		check_int(bufferevent_write_buffer(pair[0], src), ==, 0);
		evbuffer_free(src);
	}
	check_int(evbuffer_add(in, "y", 1), ==, -1);
	check_int(in_len(pair[1]), ==, 9);
	check_int(evbuffer_unfreeze(in, 0), ==, 0);
	check_int(bufferevent_flush(pair[0], EV_WRITE, BEV_FLUSH), ==, 0);
	check_int(evbuffer_add(in, "y", 1), ==, -1);
end:
	pair_case_free(base, NULL, pair);
}

/* Callbacks that change the buffers while the bytes move: the ends are
 * open then, and what they add moves on too. */
static const char *change_mode;
static int change_done;

static void
change_input(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	record_cb(buf, info, arg);
	if (change_done || !info->n_added)
		return;
	change_done = 1;
	if (!strcmp(change_mode, "add"))
		note("add %d;", evbuffer_add(buf, "!", 1));
	else if (!strcmp(change_mode, "prepend"))
		note("prepend %d;", evbuffer_prepend(buf, "<", 1));
	else
		note("drain %d;", evbuffer_drain(buf, 1));
}

static void
change_output(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	record_cb(buf, info, arg);
	if (change_done)
		return;
	if (info->n_added && !strcmp(change_mode, "drain")) {
		change_done = 1;
		note("drain %d;", evbuffer_drain(buf, 1));
	} else if (info->n_deleted && !strcmp(change_mode, "add")) {
		change_done = 1;
		note("add %d;", evbuffer_add(buf, "L", 1));
	} else if (info->n_deleted && !strcmp(change_mode, "prepend")) {
		change_done = 1;
		note("prepend %d;", evbuffer_prepend(buf, "P", 1));
	}
}

static int
change_run(int on_input, const char *mode, const char *want_tr,
    const char *want_data)
{
	struct event_base *base;
	struct bufferevent *pair[2];
	char got[16];
	size_t n;
	int ok = 0;

	tr_reset();
	change_mode = mode;
	change_done = 0;
	base = pair_setup(pair);
	check(base != NULL);
	check_int(bufferevent_enable(pair[1], EV_READ), ==, 0);
	if (on_input)
		evbuffer_add_cb(bufferevent_get_input(pair[1]), change_input,
		    "in");
	else
		evbuffer_add_cb(bufferevent_get_output(pair[0]),
		    change_output, "out");
	check_int(bufferevent_write(pair[0], "abc", 3), ==, 0);
	check_str(tr, want_tr);
	check_int(out_len(pair[0]), ==, 0);
	n = bufferevent_read(pair[1], got, sizeof(got) - 1);
	got[n < sizeof(got) ? n : 0] = '\0';
	check_str(got, want_data);
	/* Frozen again afterwards. */
	check_int(evbuffer_add(bufferevent_get_input(pair[1]), "z", 1), ==,
	    -1);
	check_int(evbuffer_prepend(bufferevent_get_output(pair[0]), "z", 1),
	    ==, -1);
	ok = 1;
end:
	pair_case_free(base, NULL, pair);
	return ok;
}

static void
pair_callbacks_during_transfer(void)
{
	check(change_run(1, "add", "in:0+3-0=3;in:3+1-0=4;add 0;", "abc!"));
	check(change_run(1, "prepend", "in:0+3-0=3;in:3+1-0=4;prepend 0;",
	    "<abc"));
	check(change_run(1, "drain", "in:0+3-0=3;in:3+0-1=2;drain 0;",
	    "bc"));
	/* On the output the first report comes before the transfer, while
	 * the front is still frozen. */
	check(change_run(0, "drain", "out:0+3-0=3;drain -1;out:3+0-3=0;",
	    "abc"));
	check(change_run(0, "add", "out:0+3-0=3;out:3+0-3=0;out:0+1-0=1;"
	    "out:1+0-1=0;add 0;", "abcL"));
	check(change_run(0, "prepend", "out:0+3-0=3;out:3+0-3=0;"
	    "out:0+1-0=1;out:1+0-1=0;prepend 0;", "abcP"));
end:;
}

/* evbuffer_defer_callbacks on the output holds writes there until the
 * loop runs the callbacks, the pair's own among them. */
static void
pair_deferred_output(void)
{
	struct event_base *base;
	struct bufferevent *pair[2];
	struct evbuffer *out;
	struct evbuffer_cb_entry *ent;
	char got[16];

	tr_reset();
	base = pair_setup(pair);
	check(base != NULL);
	out = bufferevent_get_output(pair[0]);
	bufferevent_setcb(pair[1], record_read, NULL, NULL, "1");
	check_int(bufferevent_enable(pair[1], EV_READ), ==, 0);
	check_int(evbuffer_defer_callbacks(out, base), ==, 0);
	check_int(bufferevent_write(pair[0], "ab", 2), ==, 0);
	check_int(bufferevent_write(pair[0], "cd", 2), ==, 0);
	check_int(out_len(pair[0]), ==, 4);
	check_int(in_len(pair[1]), ==, 0);
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_int(out_len(pair[0]), ==, 0);
	check_int(in_len(pair[1]), ==, 4);

	/* With a program callback, newer than the pair's: it hears of the
	 * batch first, then of the transfer. */
	ent = evbuffer_add_cb(out, record_cb, "out");
	check(ent != NULL);
	check_int(bufferevent_write(pair[0], "ef", 2), ==, 0);
	check_int(bufferevent_write(pair[0], "gh", 2), ==, 0);
	check_int(out_len(pair[0]), ==, 4);
	event_base_loop(base, EVLOOP_NONBLOCK);
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_int(out_len(pair[0]), ==, 0);
	check_int(in_len(pair[1]), ==, 8);
	check_int(bufferevent_read(pair[1], got, sizeof(got)), ==, 8);
	check_mem(got, "abcdefgh", 8);
	check_str(tr, "r1:4;out:0+4-0=4;out:4+0-4=0;r1:8;");

	/* The partner gone before the loop: the bytes stay. */
	check_int(evbuffer_remove_cb_entry(out, ent), ==, 0);
	check_int(bufferevent_write(pair[0], "ij", 2), ==, 0);
	bufferevent_free(pair[1]);
	pair[1] = NULL;
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_ptr(bufferevent_pair_get_partner(pair[0]), ==, NULL);
	check_int(out_len(pair[0]), ==, 2);
end:
	pair_case_free(base, NULL, pair);
}

/*
 * The writing half freed while its output's deferred callbacks wait for
 * the loop. 2.1.12 crashes in that run (the pair's callback reaches the
 * freed half); ours drops the bytes with the half, and the partner hears
 * nothing. Skipped on the reference.
 */
static void
pair_deferred_output_writer_freed(void)
{
	struct event_base *base;
	struct bufferevent *pair[2];

	if (check_on_reference()) {
		printf("REF-DIFFERS 2.1.12 crashes here; case skipped\n");
		return;
	}
	tr_reset();
	base = pair_setup(pair);
	check(base != NULL);
	bufferevent_setcb(pair[1], record_read, NULL, record_event, "1");
	check_int(bufferevent_enable(pair[1], EV_READ), ==, 0);
	check_int(evbuffer_defer_callbacks(bufferevent_get_output(pair[0]),
	    base), ==, 0);
	evbuffer_add_cb(bufferevent_get_output(pair[0]), record_cb, "out");
	check_int(bufferevent_write(pair[0], "abc", 3), ==, 0);
	bufferevent_free(pair[0]);
	pair[0] = NULL;
	event_base_loop(base, EVLOOP_NONBLOCK);
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_ptr(bufferevent_pair_get_partner(pair[1]), ==, NULL);
	check_int(in_len(pair[1]), ==, 0);
	/* The program's callback on the freed output still ran, as a
	 * deferred run on a freed buffer does. */
	check_str(tr, "out:0+3-0=3;");
end:
	pair_case_free(base, NULL, pair);
}

static void
pair_partner_watermarks(void)
{
	struct event_base *base;
	struct bufferevent *pair[2];
	int i;

	tr_reset();
	base = pair_setup(pair);
	check(base != NULL);
	bufferevent_setcb(pair[1], read_four, NULL, record_event, "1");
	bufferevent_setcb(pair[0], NULL, record_write, record_event, "0");
	check_int(bufferevent_enable(pair[1], EV_READ), ==, 0);
	bufferevent_setwatermark(pair[1], EV_READ, 0, 4);
	check_int(bufferevent_write(pair[0], "0123456789", 10), ==, 0);
	check_int(out_len(pair[0]), ==, 6);
	check_int(in_len(pair[1]), ==, 4);
	check_int(bufferevent_write(pair[0], "Z", 1), ==, 0);
	check_int(out_len(pair[0]), ==, 7);
	for (i = 0; i < 4; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
	check_str(tr, "r1:0123/4;r1:4567/3;r1:89Z/0;w0:0;");
	check_int(out_len(pair[0]), ==, 0);

	/* A low watermark: no read callback below it. */
	tr_reset();
	bufferevent_setwatermark(pair[1], EV_READ, 3, 0);
	check_int(bufferevent_write(pair[0], "ab", 2), ==, 0);
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_str(tr, "w0:0;");
	check_int(bufferevent_write(pair[0], "c", 1), ==, 0);
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_str(tr, "w0:0;r1:abc/0;w0:0;");

	/* The writer's low watermark while the reader is off. */
	tr_reset();
	bufferevent_setwatermark(pair[0], EV_WRITE, 2, 0);
	check_int(bufferevent_disable(pair[1], EV_READ), ==, 0);
	check_int(bufferevent_write(pair[0], "wxyz", 4), ==, 0);
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_int(out_len(pair[0]), ==, 4);
	check_int(bufferevent_enable(pair[1], EV_READ), ==, 0);
	check_int(out_len(pair[0]), ==, 0);
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_str(tr, "r1:wxyz/0;w0:0;");
end:
	pair_case_free(base, NULL, pair);
}

/* A high watermark set while the input already holds more than it. */
static void
pair_high_watermark_over_data(void)
{
	struct event_base *base;
	struct bufferevent *pair[2];
	char got[8];

	base = pair_setup(pair);
	check(base != NULL);
	check_int(bufferevent_enable(pair[1], EV_READ), ==, 0);
	check_int(bufferevent_write(pair[0], "abcdef", 6), ==, 0);
	bufferevent_setwatermark(pair[1], EV_READ, 0, 4);
	check_int(bufferevent_write(pair[0], "gh", 2), ==, 0);
	check_int(out_len(pair[0]), ==, 2);
	check_int(in_len(pair[1]), ==, 6);
	check_int(bufferevent_read(pair[1], got, 3), ==, 3);
	check_int(out_len(pair[0]), ==, 1);
	check_int(in_len(pair[1]), ==, 4);
	check_int(bufferevent_read(pair[1], got, 3), ==, 3);
	check_int(out_len(pair[0]), ==, 0);
	check_int(in_len(pair[1]), ==, 2);
	bufferevent_setwatermark(pair[1], EV_READ, 0, 0);
	check_int(bufferevent_write(pair[0], "ij", 2), ==, 0);
	check_int(in_len(pair[1]), ==, 4);
	check_int(bufferevent_read(pair[1], got, sizeof(got)), ==, 4);
	check_mem(got, "ghij", 4);
end:
	pair_case_free(base, NULL, pair);
}

/* bufferevent_write_buffer from buffers a program should not pass, but
 * may: the writer's own output, the partner's buffers, a frozen or
 * watched source. */
static void
pair_write_buffer_sources(void)
{
	struct event_base *base;
	struct bufferevent *pair[2];
	struct evbuffer *src = evbuffer_new();
	char got[16];

	tr_reset();
	base = pair_setup(pair);
	check(base != NULL);
	check_int(bufferevent_write(pair[0], "abc", 3), ==, 0);
	check_int(bufferevent_write_buffer(pair[0],
	    bufferevent_get_output(pair[0])), ==, 0);
	check_int(out_len(pair[0]), ==, 3);
	check_int(bufferevent_enable(pair[1], EV_READ), ==, 0);
	check_int(in_len(pair[1]), ==, 3);
	/* The partner's input: out and straight back. */
	check_int(bufferevent_write_buffer(pair[0],
	    bufferevent_get_input(pair[1])), ==, 0);
	check_int(in_len(pair[1]), ==, 3);
	check_int(out_len(pair[0]), ==, 0);
	/* The partner's output: empty is fine; with bytes its frozen front
	 * refuses. */
	check_int(bufferevent_write_buffer(pair[0],
	    bufferevent_get_output(pair[1])), ==, 0);
	check_int(bufferevent_write(pair[1], "q", 1), ==, 0);
	check_int(bufferevent_write_buffer(pair[0],
	    bufferevent_get_output(pair[1])), ==, -1);
	check_int(out_len(pair[1]), ==, 1);
	evbuffer_add(src, "zz", 2);
	check_int(evbuffer_freeze(src, 1), ==, 0);
	check_int(bufferevent_write_buffer(pair[0], src), ==, -1);
	check_int(len_of(src), ==, 2);
	check_int(evbuffer_unfreeze(src, 1), ==, 0);
	evbuffer_add_cb(src, record_cb, "src");
	check_int(bufferevent_write_buffer(pair[0], src), ==, 0);
	check_int(len_of(src), ==, 0);
	check_str(tr, "src:2+0-2=0;");
	check_int(bufferevent_read(pair[1], got, sizeof(got)), ==, 5);
	check_mem(got, "abczz", 5);
end:
	evbuffer_free(src);
	pair_case_free(base, NULL, pair);
}

/* ---- bufferevent_trigger ---- */

static void
trigger_socket(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *bev = NULL;
	int fds[2] = { -1, -1 };

	tr_reset();
	check(base != NULL);
	check_int(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
	bev = bufferevent_socket_new(base, fds[0], BEV_OPT_CLOSE_ON_FREE);
	check(bev != NULL);
	fds[0] = -1;
	/* No callbacks: nothing happens. */
	bufferevent_trigger(bev, EV_READ | EV_WRITE, 0);
	bufferevent_trigger(bev, EV_READ | EV_WRITE,
	    BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_str(tr, "");
	bufferevent_setcb(bev, record_read, record_write, record_event, "s");
	bufferevent_trigger(bev, EV_READ | EV_WRITE, 0);
	check_str(tr, "rs:0;ws:0;");
	tr_reset();
	bufferevent_setwatermark(bev, EV_READ, 5, 0);
	bufferevent_trigger(bev, EV_READ, 0);
	check_str(tr, "");
	bufferevent_trigger(bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS);
	check_str(tr, "rs:0;");
	tr_reset();
	check_int(bufferevent_write(bev, "abc", 3), ==, 0);
	bufferevent_trigger(bev, EV_WRITE, 0);
	check_str(tr, "");
	bufferevent_trigger(bev, EV_WRITE, BEV_TRIG_IGNORE_WATERMARKS);
	check_str(tr, "ws:3;");
	tr_reset();
	bufferevent_trigger(bev, EV_READ | EV_WRITE,
	    BEV_TRIG_DEFER_CALLBACKS | BEV_TRIG_IGNORE_WATERMARKS);
	check_str(tr, "");
	event_base_loop(base, EVLOOP_NONBLOCK);
	/* The deferred pair, then the write callback of the real write. */
	check_str(tr, "rs:0;ws:3;ws:0;");
	tr_reset();
	bufferevent_trigger(bev, 0, BEV_TRIG_IGNORE_WATERMARKS);
	bufferevent_trigger(bev, EV_TIMEOUT, BEV_TRIG_IGNORE_WATERMARKS);
	bufferevent_trigger(bev, EV_READ, 0xffff);
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_str(tr, "");
	/* Only the read callback set. */
	bufferevent_setcb(bev, record_read, NULL, NULL, "s");
	bufferevent_setwatermark(bev, EV_READ, 0, 0);
	bufferevent_trigger(bev, EV_WRITE, BEV_TRIG_IGNORE_WATERMARKS);
	bufferevent_trigger(bev, EV_READ | EV_WRITE, 0);
	check_str(tr, "rs:0;");
end:
	if (bev)
		bufferevent_free(bev);
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	if (base) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		event_base_free(base);
	}
}

static void
trigger_pair(void)
{
	struct event_base *base;
	struct bufferevent *pair[2];

	tr_reset();
	base = pair_setup(pair);
	check(base != NULL);
	bufferevent_setcb(pair[1], record_read, record_write, record_event,
	    "1");
	/* A pair's callbacks are always deferred. */
	bufferevent_trigger(pair[1], EV_READ | EV_WRITE, 0);
	check_str(tr, "");
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_str(tr, "r1:0;w1:0;");
	tr_reset();
	bufferevent_setwatermark(pair[1], EV_READ, 5, 0);
	bufferevent_trigger(pair[1], EV_READ, 0);
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_str(tr, "");
	bufferevent_trigger(pair[1], EV_READ, BEV_TRIG_IGNORE_WATERMARKS);
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_str(tr, "r1:0;");
	/* Twice before the loop: one call. */
	tr_reset();
	bufferevent_trigger(pair[1], EV_WRITE, 0);
	bufferevent_trigger(pair[1], EV_WRITE, BEV_TRIG_DEFER_CALLBACKS);
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_str(tr, "w1:0;");
end:
	pair_case_free(base, NULL, pair);
}

/* A read callback that triggers itself again, twice. */
static int retrigger_left;

static void
retrigger(struct bufferevent *bev, void *arg)
{
	note("r%s;", (const char *)arg);
	if (retrigger_left-- > 0) {
		bufferevent_trigger(bev, EV_READ, 0);
		note("back;");
	}
}

static void
trigger_reentrant(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *bev = NULL, *dbev = NULL;
	int fds[2] = { -1, -1 }, dfds[2] = { -1, -1 };

	tr_reset();
	check(base != NULL);
	check_int(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
	check_int(socketpair(AF_UNIX, SOCK_STREAM, 0, dfds), ==, 0);
	bev = bufferevent_socket_new(base, fds[0], BEV_OPT_CLOSE_ON_FREE);
	dbev = bufferevent_socket_new(base, dfds[0],
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	check(bev != NULL && dbev != NULL);
	fds[0] = dfds[0] = -1;
	/* Not deferred: the calls nest. */
	bufferevent_setcb(bev, retrigger, NULL, NULL, "s");
	retrigger_left = 2;
	bufferevent_trigger(bev, EV_READ, 0);
	check_str(tr, "rs;rs;rs;back;back;");
	/* Deferred by the trigger's option: the first is deferred, the
	 * nested ones not. */
	tr_reset();
	retrigger_left = 2;
	bufferevent_trigger(bev, EV_READ, BEV_TRIG_DEFER_CALLBACKS);
	check_str(tr, "");
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_str(tr, "rs;rs;rs;back;back;");
	/* Deferred by the bufferevent: each in turn, in the same pass. */
	tr_reset();
	bufferevent_setcb(dbev, retrigger, NULL, NULL, "d");
	retrigger_left = 2;
	bufferevent_trigger(dbev, EV_READ, 0);
	check_str(tr, "");
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_str(tr, "rd;back;rd;back;rd;");
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_str(tr, "rd;back;rd;back;rd;");
end:
	if (bev)
		bufferevent_free(bev);
	if (dbev)
		bufferevent_free(dbev);
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	if (dfds[0] >= 0)
		close(dfds[0]);
	if (dfds[1] >= 0)
		close(dfds[1]);
	if (base) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		event_base_free(base);
	}
}

/* A read callback that frees its bufferevent, run by a trigger that
 * asked for the write callback too: that one no longer runs. */
static struct bufferevent *doomed;

static void
read_then_free(struct bufferevent *bev, void *arg)
{
	note("r%s;", (const char *)arg);
	bufferevent_free(bev);
	doomed = NULL;
}

static void
trigger_read_callback_frees(void)
{
	struct event_base *base = event_base_new();
	int fds[2] = { -1, -1 };

	tr_reset();
	check(base != NULL);
	check_int(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
	doomed = bufferevent_socket_new(base, fds[0], BEV_OPT_CLOSE_ON_FREE);
	check(doomed != NULL);
	fds[0] = -1;
	bufferevent_setcb(doomed, read_then_free, record_write, record_event,
	    "s");
	bufferevent_trigger(doomed, EV_READ | EV_WRITE, 0);
	check_ptr(doomed, ==, NULL);
	event_base_loop(base, EVLOOP_NONBLOCK);
	check_str(tr, "rs;");
end:
	if (doomed)
		bufferevent_free(doomed);
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	if (base) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		event_base_free(base);
	}
}

/* ---- threads ---- */

struct length_reader {
	struct evbuffer *buf;
	size_t seen;
	int started, done;
};

static void *
length_reader_main(void *arg)
{
	struct length_reader *r = arg;

	flag_set(&r->started, 1);
	r->seen = evbuffer_get_length(r->buf);
	flag_set(&r->done, 1);
	return NULL;
}

/* evbuffer_get_length on a locked buffer waits for a holder of the lock
 * and sees what the holder left. */
static void
length_waits_for_lock(void)
{
	struct evbuffer *buf = NULL;
	struct length_reader r;
	pthread_t t;
	int started = 0, locked = 0;

	check_int(evthread_use_pthreads(), ==, 0);
	buf = evbuffer_new();
	check(buf != NULL);
	check_int(evbuffer_enable_locking(buf, NULL), ==, 0);
	check_int(evbuffer_enable_locking(buf, NULL), ==, -1);
	memset(&r, 0, sizeof(r));
	r.buf = buf;
	evbuffer_lock(buf);
	locked = 1;
	check_int(evbuffer_add(buf, "12345678", 8), ==, 0);
	/* Recursive: the holder itself gets through. */
	check_int(evbuffer_get_length(buf), ==, 8);
	check_int(pthread_create(&t, NULL, length_reader_main, &r), ==, 0);
	started = 1;
	check(flag_wait(&r.started));
	sleep_ms(50 * check_time_scale());
	check_int(flag_get(&r.done), ==, 0);
	check_int(evbuffer_add(buf, "abcdefgh", 8), ==, 0);
	evbuffer_unlock(buf);
	locked = 0;
	check(flag_wait(&r.done));
	check_int(r.seen, ==, 16);
end:
	if (locked)
		evbuffer_unlock(buf);
	if (started)
		pthread_join(t, NULL);
	if (buf)
		evbuffer_free(buf);
}

struct churner {
	struct evbuffer *buf;
	int rounds;
	int bad;
};

static void *
churner_main(void *arg)
{
	struct churner *c = arg;
	char got[8];
	int i;

	for (i = 0; i < c->rounds; i++) {
		if (evbuffer_add(c->buf, "abcdefgh", 8) != 0 ||
		    evbuffer_remove(c->buf, got, sizeof(got)) != 8 ||
		    memcmp(got, "abcdefgh", 8) != 0)
			c->bad++;
	}
	return NULL;
}

/* One thread adds and removes 8 bytes at a time while another asks the
 * length: it only ever sees 0 or 8. */
static void
length_two_threads(void)
{
	struct evbuffer *buf = NULL;
	struct churner c;
	pthread_t t;
	int started = 0, i, odd = 0;
	size_t len;

	check_int(evthread_use_pthreads(), ==, 0);
	buf = evbuffer_new();
	check(buf != NULL);
	check_int(evbuffer_enable_locking(buf, NULL), ==, 0);
	c.buf = buf;
	c.rounds = 200000 / check_size_div();
	c.bad = 0;
	check_int(pthread_create(&t, NULL, churner_main, &c), ==, 0);
	started = 1;
	for (i = 0; i < c.rounds; i++) {
		len = evbuffer_get_length(buf);
		if (len != 0 && len != 8)
			odd++;
	}
	pthread_join(t, NULL);
	started = 0;
	check_int(odd, ==, 0);
	check_int(c.bad, ==, 0);
	check_int(evbuffer_get_length(buf), ==, 0);
end:
	if (started)
		pthread_join(t, NULL);
	if (buf)
		evbuffer_free(buf);
}

/* A thread-safe pair's halves share one lock, and so do their buffers. */
static void
length_pair_shared_lock(void)
{
	struct event_base *base = NULL;
	struct bufferevent *pair[2] = { NULL, NULL };
	struct length_reader r;
	pthread_t t;
	int started = 0, locked = 0;

	check_int(evthread_use_pthreads(), ==, 0);
	base = event_base_new();
	check(base != NULL);
	check_int(bufferevent_pair_new(base, BEV_OPT_THREADSAFE, pair), ==, 0);
	check_int(bufferevent_enable(pair[1], EV_READ), ==, 0);
	memset(&r, 0, sizeof(r));
	r.buf = bufferevent_get_input(pair[1]);
	bufferevent_lock(pair[0]);
	locked = 1;
	check_int(pthread_create(&t, NULL, length_reader_main, &r), ==, 0);
	started = 1;
	check(flag_wait(&r.started));
	sleep_ms(50 * check_time_scale());
	check_int(flag_get(&r.done), ==, 0);
	check_int(bufferevent_write(pair[0], "abc", 3), ==, 0);
	bufferevent_unlock(pair[0]);
	locked = 0;
	check(flag_wait(&r.done));
	check_int(r.seen, ==, 3);
end:
	if (locked)
		bufferevent_unlock(pair[0]);
	if (started)
		pthread_join(t, NULL);
	pair_case_free(base, NULL, pair);
}

/* A lock of the program's on a buffer of a bufferevent that has none;
 * one that has the bufferevent's lock already refuses another. */
static void
pair_buffers_locked_by_program(void)
{
	struct event_base *base = NULL;
	struct bufferevent *pair[2] = { NULL, NULL }, *safe[2] = { NULL, NULL };
	char got[8];

	check_int(evthread_use_pthreads(), ==, 0);
	base = event_base_new();
	check(base != NULL);
	check_int(bufferevent_pair_new(base, 0, pair), ==, 0);
	check_int(evbuffer_enable_locking(bufferevent_get_output(pair[0]),
	    NULL), ==, 0);
	check_int(evbuffer_enable_locking(bufferevent_get_input(pair[1]),
	    NULL), ==, 0);
	check_int(bufferevent_enable(pair[1], EV_READ), ==, 0);
	check_int(bufferevent_write(pair[0], "abc", 3), ==, 0);
	check_int(in_len(pair[1]), ==, 3);
	check_int(bufferevent_disable(pair[1], EV_READ), ==, 0);
	check_int(bufferevent_write(pair[0], "de", 2), ==, 0);
	check_int(out_len(pair[0]), ==, 2);
	check_int(bufferevent_enable(pair[1], EV_READ), ==, 0);
	check_int(bufferevent_read(pair[1], got, sizeof(got)), ==, 5);
	check_mem(got, "abcde", 5);
	check_int(bufferevent_pair_new(base, BEV_OPT_THREADSAFE, safe), ==, 0);
	check_int(evbuffer_enable_locking(bufferevent_get_output(safe[0]),
	    NULL), ==, -1);
	check_int(evbuffer_enable_locking(bufferevent_get_input(safe[1]),
	    NULL), ==, -1);
end:
	if (safe[0])
		bufferevent_free(safe[0]);
	if (safe[1])
		bufferevent_free(safe[1]);
	pair_case_free(base, NULL, pair);
}

/* One thread writes numbered messages into a thread-safe pair while the
 * loop's thread reads them in odd sizes: all arrive, in order. */
#define MSG_LEN 8

struct stream {
	struct event_base *base;
	struct bufferevent *writer;
	int messages;
	size_t expect;		/* bytes read so far */
	int bad;
	int write_failures;
};

static void
message_at(int i, char *m)
{
	snprintf(m, MSG_LEN + 1, "m%06d;", i);
}

static void
stream_read(struct bufferevent *bev, void *arg)
{
	struct stream *s = arg;
	char got[5], want[MSG_LEN + 1];
	size_t n, k;

	while ((n = bufferevent_read(bev, got, sizeof(got))) > 0) {
		for (k = 0; k < n; k++) {
			size_t at = s->expect + k;

			message_at((int)(at / MSG_LEN), want);
			if (got[k] != want[at % MSG_LEN])
				s->bad++;
		}
		s->expect += n;
	}
	if (s->expect == (size_t)s->messages * MSG_LEN)
		event_base_loopbreak(s->base);
}

static void *
stream_writer_main(void *arg)
{
	struct stream *s = arg;
	char m[MSG_LEN + 1];
	int i;

	for (i = 0; i < s->messages; i++) {
		message_at(i, m);
		if (bufferevent_write(s->writer, m, MSG_LEN) != 0)
			s->write_failures++;
		/* The locked path of evbuffer_get_length, from this side. */
		(void)evbuffer_get_length(bufferevent_get_output(s->writer));
		if (i % 64 == 0)
			sleep_ms(0);
	}
	return NULL;
}

static void
give_up(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

static void
stream_across_threads(int options)
{
	struct event_base *base = NULL;
	struct bufferevent *pair[2] = { NULL, NULL };
	struct event *block = NULL, *timeout = NULL;
	struct stream s;
	struct timeval tv;
	pthread_t t;
	int started = 0;

	check_int(evthread_use_pthreads(), ==, 0);
	base = event_base_new();
	check(base != NULL);
	check_int(bufferevent_pair_new(base, options, pair), ==, 0);
	memset(&s, 0, sizeof(s));
	s.base = base;
	s.writer = pair[0];
	s.messages = 40000 / check_size_div();
	bufferevent_setcb(pair[1], stream_read, NULL, NULL, &s);
	check_int(bufferevent_enable(pair[1], EV_READ), ==, 0);
	block = blocker(base);
	timeout = evtimer_new(base, give_up, base);
	check_set_ms(&tv, 20000 * check_time_scale());
	evtimer_add(timeout, &tv);
	check_int(pthread_create(&t, NULL, stream_writer_main, &s), ==, 0);
	started = 1;
	check_int(event_base_dispatch(base), ==, 0);
	pthread_join(t, NULL);
	started = 0;
	check_int(s.write_failures, ==, 0);
	check_int(s.bad, ==, 0);
	check_int(s.expect, ==, (size_t)s.messages * MSG_LEN);
	check_int(out_len(pair[0]), ==, 0);
end:
	if (started)
		pthread_join(t, NULL);
	if (block)
		event_free(block);
	if (timeout)
		event_free(timeout);
	pair_case_free(base, NULL, pair);
}

static void
pair_threadsafe_across_threads(void)
{
	stream_across_threads(BEV_OPT_THREADSAFE);
}

/* The read callback runs unlocked, while the writer's bytes keep
 * arriving in the input it reads. */
static void
pair_unlocked_callbacks_across_threads(void)
{
	stream_across_threads(BEV_OPT_THREADSAFE | BEV_OPT_UNLOCK_CALLBACKS);
}

/* The single-threaded pair cases again, on thread-safe pairs. */
static void
pair_cases_threadsafe(void)
{
	static void (*const runs[])(void) = {
		pair_output_program_cb, pair_output_frozen_back,
		pair_output_nonempty_order, pair_compat_setcb,
		pair_refreeze_after_transfer, pair_callbacks_during_transfer,
		pair_deferred_output, pair_partner_watermarks,
		pair_high_watermark_over_data, pair_write_buffer_sources,
		trigger_pair,
	};
	size_t i;

	check_int(evthread_use_pthreads(), ==, 0);
	pair_opts = BEV_OPT_THREADSAFE;
	for (i = 0; i < sizeof(runs) / sizeof(runs[0]) && !check_failed_;
	    i++)
		runs[i]();
	pair_opts = 0;
end:;
}

static const struct check_case cases[] = {
	{ "remove_nothing", remove_nothing },
	{ "remove_more_than_held", remove_more_than_held },
	{ "remove_across_chunks", remove_across_chunks },
	{ "remove_through_file_segment", remove_through_file_segment },
	{ "remove_shared_bytes", remove_shared_bytes },
	{ "remove_large_pattern", remove_large_pattern },
	{ "remove_frozen_front", remove_frozen_front },
	{ "remove_in_own_callback", remove_in_own_callback },
	{ "remove_after_reserve_and_readln",
	    remove_after_reserve_and_readln },
	{ "read_null_and_oversize", read_null_and_oversize },
	{ "add_impossible_lengths", add_impossible_lengths },
	{ "pair_output_program_cb", pair_output_program_cb },
	{ "pair_output_frozen_back", pair_output_frozen_back },
	{ "pair_output_nonempty_order", pair_output_nonempty_order },
	{ "pair_compat_setcb", pair_compat_setcb },
	{ "pair_refreeze_after_transfer", pair_refreeze_after_transfer },
	{ "pair_callbacks_during_transfer", pair_callbacks_during_transfer },
	{ "pair_deferred_output", pair_deferred_output },
	{ "pair_deferred_output_writer_freed",
	    pair_deferred_output_writer_freed },
	{ "pair_partner_watermarks", pair_partner_watermarks },
	{ "pair_high_watermark_over_data", pair_high_watermark_over_data },
	{ "pair_write_buffer_sources", pair_write_buffer_sources },
	{ "trigger_socket", trigger_socket },
	{ "trigger_pair", trigger_pair },
	{ "trigger_reentrant", trigger_reentrant },
	{ "trigger_read_callback_frees", trigger_read_callback_frees },
	/* From here on the pthread functions are installed. */
	{ "length_waits_for_lock", length_waits_for_lock },
	{ "length_two_threads", length_two_threads },
	{ "length_pair_shared_lock", length_pair_shared_lock },
	{ "pair_buffers_locked_by_program", pair_buffers_locked_by_program },
	{ "pair_threadsafe_across_threads", pair_threadsafe_across_threads },
	{ "pair_unlocked_callbacks_across_threads",
	    pair_unlocked_callbacks_across_threads },
	{ "pair_cases_threadsafe", pair_cases_threadsafe },
	{ NULL, NULL },
};

int
main(int argc, char **argv)
{
	return check_main(cases, argc, argv);
}
