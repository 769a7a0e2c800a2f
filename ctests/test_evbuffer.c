/*
 * test_evbuffer.c: the basic evbuffer calls (BEHAVIOUR.md section 2):
 * adding, printf, moving between buffers, removing, draining, copying out,
 * pullup, readln in every end-of-line style, prepend, expand and search.
 *
 * Buffers made of several chains are built with evbuffer_add_buffer, which
 * moves chains without merging them (BUF-2), so lines, CRLF pairs and
 * search matches can be made to straddle a chain boundary.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "check.h"

/* Appends the given strings to buf, each one as a chain of its own. */
static int
add_chains(struct evbuffer *buf, const char *const *parts, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		struct evbuffer *tmp = evbuffer_new();
		int r;

		if (!tmp)
			return -1;
		r = evbuffer_add(tmp, parts[i], strlen(parts[i]));
		if (r == 0)
			r = evbuffer_add_buffer(buf, tmp);
		evbuffer_free(tmp);
		if (r)
			return -1;
	}
	return 0;
}

/* True when buf holds exactly the n bytes at want (without draining). */
static int
holds(struct evbuffer *buf, const void *want, size_t n)
{
	char tmp[256];

	if (n > sizeof(tmp) || evbuffer_get_length(buf) != n)
		return 0;
	if (evbuffer_copyout(buf, tmp, sizeof(tmp)) != (ev_ssize_t)n)
		return 0;
	return memcmp(tmp, want, n) == 0;
}

/* Our own variadic front end to evbuffer_add_vprintf. */
static int
my_printf(struct evbuffer *buf, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = evbuffer_add_vprintf(buf, fmt, ap);
	va_end(ap);
	return r;
}

static void
new_buffer_is_empty(void)
{
	struct evbuffer *buf = evbuffer_new();
	char c = 'x';

	check(buf != NULL);
	check_int(evbuffer_get_length(buf), ==, 0);
	/* BUF-1: adding nothing succeeds and changes nothing. */
	check_int(evbuffer_add(buf, &c, 0), ==, 0);
	check_int(evbuffer_get_length(buf), ==, 0);
	check_int(evbuffer_add(buf, &c, 1), ==, 0);
	check_int(evbuffer_get_length(buf), ==, 1);
end:
	if (buf)
		evbuffer_free(buf);
}

static void
add_and_remove(void)
{
	struct evbuffer *buf = evbuffer_new();
	char out[16];
	char *big = NULL;
	size_t i, n = 100000;

	check(buf != NULL);
	check_int(evbuffer_add(buf, "hello", 5), ==, 0);
	check_int(evbuffer_add(buf, " world", 6), ==, 0);
	check_int(evbuffer_get_length(buf), ==, 11);

	/* BUF-31: remove copies and drains, short when the buffer is. */
	memset(out, 0, sizeof(out));
	check_int(evbuffer_remove(buf, out, 3), ==, 3);
	check_mem(out, "hel", 3);
	check_int(evbuffer_get_length(buf), ==, 8);
	memset(out, 0, sizeof(out));
	check_int(evbuffer_remove(buf, out, sizeof(out)), ==, 8);
	check_mem(out, "lo world", 8);
	check_int(evbuffer_get_length(buf), ==, 0);
	check_int(evbuffer_remove(buf, out, sizeof(out)), ==, 0);

	/* A large add comes back byte for byte. */
	big = malloc(n);
	check(big != NULL);
	for (i = 0; i < n; i++)
		big[i] = (char)(i * 7 + (i >> 9));
	check_int(evbuffer_add(buf, big, n / 2), ==, 0);
	check_int(evbuffer_add(buf, big + n / 2, n - n / 2), ==, 0);
	check_int(evbuffer_get_length(buf), ==, n);
	for (i = 0; i < n; i += sizeof(out)) {
		size_t want = n - i < sizeof(out) ? n - i : sizeof(out);

		check_int(evbuffer_remove(buf, out, sizeof(out)), ==, want);
		check_mem(out, big + i, want);
	}
	check_int(evbuffer_get_length(buf), ==, 0);
end:
	free(big);
	if (buf)
		evbuffer_free(buf);
}

static void
add_printf_counts_bytes(void)
{
	struct evbuffer *buf = evbuffer_new();
	char *longstr = NULL, *out = NULL;
	size_t n = 10000;

	check(buf != NULL);
	/* BUF-30: returns the bytes added and stores no NUL. */
	check_int(evbuffer_add_printf(buf, "%d:%s", 42, "abc"), ==, 6);
	check(holds(buf, "42:abc", 6));
	check_int(evbuffer_add_printf(buf, "%s", ""), ==, 0);
	check_int(evbuffer_get_length(buf), ==, 6);
	check_int(evbuffer_add_printf(buf, "[%5.2f]", 1.5), ==, 7);
	check(holds(buf, "42:abc[ 1.50]", 13));

	/* Output longer than any first guess of the formatter. */
	longstr = malloc(n + 1);
	out = malloc(n + 20);
	check(longstr != NULL && out != NULL);
	memset(longstr, 'q', n);
	longstr[n] = '\0';
	check_int(evbuffer_drain(buf, 13), ==, 0);
	check_int(evbuffer_add_printf(buf, "<%s>", longstr), ==, n + 2);
	check_int(evbuffer_get_length(buf), ==, n + 2);
	check_int(evbuffer_remove(buf, out, n + 20), ==, n + 2);
	check_int(out[0], ==, '<');
	check_mem(out + 1, longstr, n);
	check_int(out[n + 1], ==, '>');
end:
	free(longstr);
	free(out);
	if (buf)
		evbuffer_free(buf);
}

static void
add_vprintf_through_wrapper(void)
{
	struct evbuffer *buf = evbuffer_new();

	check(buf != NULL);
	check_int(my_printf(buf, "%s-%u-%c", "ab", 17u, 'z'), ==, 7);
	check(holds(buf, "ab-17-z", 7));
	check_int(my_printf(buf, "%05d", -3), ==, 5);
	check(holds(buf, "ab-17-z-0003", 12));
	check_int(my_printf(buf, "%%"), ==, 1);
	check(holds(buf, "ab-17-z-0003%", 13));
end:
	if (buf)
		evbuffer_free(buf);
}

static void
add_buffer_moves_everything(void)
{
	struct evbuffer *dst = evbuffer_new(), *src = evbuffer_new();

	check(dst != NULL && src != NULL);
	check_int(evbuffer_add(dst, "ab", 2), ==, 0);
	check_int(evbuffer_add(src, "cde", 3), ==, 0);
	check_int(evbuffer_add_buffer(dst, src), ==, 0);
	check(holds(dst, "abcde", 5));
	check_int(evbuffer_get_length(src), ==, 0);

	/* An empty source adds nothing. */
	check_int(evbuffer_add_buffer(dst, src), ==, 0);
	check(holds(dst, "abcde", 5));

	/* BUF-32: adding a buffer to itself is a successful no-op. */
	check_int(evbuffer_add_buffer(dst, dst), ==, 0);
	check(holds(dst, "abcde", 5));

	/* Into an empty destination. */
	check_int(evbuffer_add_buffer(src, dst), ==, 0);
	check(holds(src, "abcde", 5));
	check_int(evbuffer_get_length(dst), ==, 0);
end:
	if (dst)
		evbuffer_free(dst);
	if (src)
		evbuffer_free(src);
}

static void
remove_buffer_moves_at_most_n(void)
{
	struct evbuffer *dst = evbuffer_new(), *src = evbuffer_new();
	static const char *const parts[] = { "abc", "def", "gh" };

	check(dst != NULL && src != NULL);
	check_int(add_chains(src, parts, 3), ==, 0);
	check_int(evbuffer_add(dst, "X", 1), ==, 0);

	/* BUF-32: moves at most n, ending inside a chain. */
	check_int(evbuffer_remove_buffer(src, dst, 4), ==, 4);
	check(holds(dst, "Xabcd", 5));
	check(holds(src, "efgh", 4));
	check_int(evbuffer_remove_buffer(src, dst, 0), ==, 0);
	check(holds(src, "efgh", 4));
	check_int(evbuffer_remove_buffer(src, dst, 100), ==, 4);
	check(holds(dst, "Xabcdefgh", 9));
	check_int(evbuffer_get_length(src), ==, 0);
	check_int(evbuffer_remove_buffer(src, dst, 100), ==, 0);
	check_int(evbuffer_get_length(dst), ==, 9);
end:
	if (dst)
		evbuffer_free(dst);
	if (src)
		evbuffer_free(src);
}

static void
drain_front(void)
{
	struct evbuffer *buf = evbuffer_new();
	static const char *const parts[] = { "abc", "def", "ghi" };

	check(buf != NULL);
	check_int(add_chains(buf, parts, 3), ==, 0);
	check_int(evbuffer_drain(buf, 0), ==, 0);
	check(holds(buf, "abcdefghi", 9));
	check_int(evbuffer_drain(buf, 2), ==, 0);
	check(holds(buf, "cdefghi", 7));
	/* Across a chain boundary. */
	check_int(evbuffer_drain(buf, 4), ==, 0);
	check(holds(buf, "ghi", 3));
	/* BUF-31: more than the length empties the buffer and returns 0. */
	check_int(evbuffer_drain(buf, 100), ==, 0);
	check_int(evbuffer_get_length(buf), ==, 0);
	check_int(evbuffer_drain(buf, 1), ==, 0);
	check_int(evbuffer_get_length(buf), ==, 0);
	/* The buffer is usable after being drained empty. */
	check_int(evbuffer_add(buf, "z", 1), ==, 0);
	check(holds(buf, "z", 1));
end:
	if (buf)
		evbuffer_free(buf);
}

static void
copyout_does_not_drain(void)
{
	struct evbuffer *buf = evbuffer_new();
	static const char *const parts[] = { "ab", "cde", "f" };
	char out[16];

	check(buf != NULL);
	check_int(evbuffer_copyout(buf, out, sizeof(out)), ==, 0);
	check_int(add_chains(buf, parts, 3), ==, 0);
	memset(out, 0, sizeof(out));
	check_int(evbuffer_copyout(buf, out, 4), ==, 4);
	check_mem(out, "abcd", 4);
	check_int(out[4], ==, 0);
	check_int(evbuffer_get_length(buf), ==, 6);
	check_int(evbuffer_copyout(buf, out, sizeof(out)), ==, 6);
	check_mem(out, "abcdef", 6);
	check_int(evbuffer_copyout(buf, out, 0), ==, 0);
	check_int(evbuffer_get_length(buf), ==, 6);
	/* The same bytes are still there to remove. */
	memset(out, 0, sizeof(out));
	check_int(evbuffer_remove(buf, out, sizeof(out)), ==, 6);
	check_mem(out, "abcdef", 6);
end:
	if (buf)
		evbuffer_free(buf);
}

static void
pullup_makes_contiguous(void)
{
	struct evbuffer *buf = evbuffer_new();
	static const char *const parts[] = { "abc", "def", "ghi" };
	unsigned char *p, *q;

	check(buf != NULL);
	/* BUF-3: an empty buffer has nothing to pull up. */
	check_ptr(evbuffer_pullup(buf, -1), ==, NULL);
	check_int(evbuffer_get_length(buf), ==, 0);

	check_int(add_chains(buf, parts, 3), ==, 0);
	check_ptr(evbuffer_pullup(buf, 0), ==, NULL);
	check_ptr(evbuffer_pullup(buf, 10), ==, NULL);
	check(holds(buf, "abcdefghi", 9));

	/* Within the first chain: the data in place. */
	p = evbuffer_pullup(buf, 2);
	check(p != NULL);
	check_mem(p, "ab", 2);
	q = evbuffer_pullup(buf, 3);
	check_ptr(q, ==, p);

	/* Across chains, then the whole buffer. */
	p = evbuffer_pullup(buf, 5);
	check(p != NULL);
	check_mem(p, "abcde", 5);
	p = evbuffer_pullup(buf, -1);
	check(p != NULL);
	check_mem(p, "abcdefghi", 9);
	check_int(evbuffer_get_length(buf), ==, 9);
	/* Now one chain: any shorter pullup returns the same memory. */
	q = evbuffer_pullup(buf, 9);
	check_ptr(q, ==, p);
	q = evbuffer_pullup(buf, 1);
	check_ptr(q, ==, p);
	check(holds(buf, "abcdefghi", 9));
end:
	if (buf)
		evbuffer_free(buf);
}

static void
readln_any(void)
{
	struct evbuffer *buf = evbuffer_new();
	char *line = NULL;
	size_t n = 99;

	check(buf != NULL);
	/* BUF-4: a whole run of CR and LF ends one line. */
	check_int(evbuffer_add(buf, "a\r\n\r\nb\n", 7), ==, 0);
	line = evbuffer_readln(buf, &n, EVBUFFER_EOL_ANY);
	check_str(line, "a");
	check_int(n, ==, 1);
	check_int(evbuffer_get_length(buf), ==, 2);
	free(line);
	line = evbuffer_readln(buf, &n, EVBUFFER_EOL_ANY);
	check_str(line, "b");
	check_int(n, ==, 1);
	check_int(evbuffer_get_length(buf), ==, 0);
	free(line);
	line = evbuffer_readln(buf, &n, EVBUFFER_EOL_ANY);
	check_ptr(line, ==, NULL);
	check_int(n, ==, 0);

	/* BUF-5: a leading terminator run gives one empty line. */
	check_int(evbuffer_add(buf, "\n\r\n\rxy\r", 7), ==, 0);
	line = evbuffer_readln(buf, &n, EVBUFFER_EOL_ANY);
	check_str(line, "");
	check_int(n, ==, 0);
	check(holds(buf, "xy\r", 3));
	free(line);

	/* BUF-6: a trailing lone CR ends the line at once... */
	line = evbuffer_readln(buf, &n, EVBUFFER_EOL_ANY);
	check_str(line, "xy");
	check_int(n, ==, 2);
	check_int(evbuffer_get_length(buf), ==, 0);
	free(line);
	/* ...and an LF arriving later is a line of its own. */
	check_int(evbuffer_add(buf, "\nz\n", 3), ==, 0);
	line = evbuffer_readln(buf, &n, EVBUFFER_EOL_ANY);
	check_str(line, "");
	free(line);
	line = evbuffer_readln(buf, &n, EVBUFFER_EOL_ANY);
	check_str(line, "z");
	check_int(evbuffer_get_length(buf), ==, 0);
end:
	free(line);
	if (buf)
		evbuffer_free(buf);
}

static void
readln_crlf(void)
{
	struct evbuffer *buf = evbuffer_new();
	char *line = NULL;
	size_t n = 99;

	check(buf != NULL);
	/* BUF-7: LF with or without CR; a CR elsewhere is data. */
	check_int(evbuffer_add(buf, "a\nb\r\nc\rd\r", 9), ==, 0);
	line = evbuffer_readln(buf, &n, EVBUFFER_EOL_CRLF);
	check_str(line, "a");
	check_int(n, ==, 1);
	free(line);
	line = evbuffer_readln(buf, &n, EVBUFFER_EOL_CRLF);
	check_str(line, "b");
	check_int(n, ==, 1);
	free(line);
	/* "c\rd\r": no LF yet, so nothing, and the buffer is untouched. */
	n = 99;
	line = evbuffer_readln(buf, &n, EVBUFFER_EOL_CRLF);
	check_ptr(line, ==, NULL);
	check_int(n, ==, 0);
	check(holds(buf, "c\rd\r", 4));
	check_int(evbuffer_add(buf, "\n", 1), ==, 0);
	line = evbuffer_readln(buf, &n, EVBUFFER_EOL_CRLF);
	check_str(line, "c\rd");
	check_int(n, ==, 3);
	check_int(evbuffer_get_length(buf), ==, 0);
	free(line);

	/* One empty line per CRLF. */
	check_int(evbuffer_add(buf, "\r\n\r\n", 4), ==, 0);
	line = evbuffer_readln(buf, &n, EVBUFFER_EOL_CRLF);
	check_str(line, "");
	check_int(evbuffer_get_length(buf), ==, 2);
	free(line);
	line = evbuffer_readln(buf, &n, EVBUFFER_EOL_CRLF);
	check_str(line, "");
	check_int(evbuffer_get_length(buf), ==, 0);
	free(line);
	line = evbuffer_readln(buf, &n, EVBUFFER_EOL_CRLF);
	check_ptr(line, ==, NULL);
end:
	free(line);
	if (buf)
		evbuffer_free(buf);
}

static void
readln_crlf_strict(void)
{
	struct evbuffer *buf = evbuffer_new();
	char *line = NULL;
	size_t n = 99;

	check(buf != NULL);
	/* BUF-8: only CR LF ends a line; a bare LF is data. */
	check_int(evbuffer_add(buf, "a\nb\r\nc\r", 7), ==, 0);
	line = evbuffer_readln(buf, &n, EVBUFFER_EOL_CRLF_STRICT);
	check_str(line, "a\nb");
	check_int(n, ==, 3);
	free(line);
	/* A trailing CR waits for its LF. */
	n = 99;
	line = evbuffer_readln(buf, &n, EVBUFFER_EOL_CRLF_STRICT);
	check_ptr(line, ==, NULL);
	check_int(n, ==, 0);
	check(holds(buf, "c\r", 2));
	check_int(evbuffer_add(buf, "\nrest", 5), ==, 0);
	line = evbuffer_readln(buf, &n, EVBUFFER_EOL_CRLF_STRICT);
	check_str(line, "c");
	check_int(n, ==, 1);
	check(holds(buf, "rest", 4));
	free(line);
	line = evbuffer_readln(buf, &n, EVBUFFER_EOL_CRLF_STRICT);
	check_ptr(line, ==, NULL);
	check(holds(buf, "rest", 4));
end:
	free(line);
	if (buf)
		evbuffer_free(buf);
}

static void
readln_lf_and_nul(void)
{
	struct evbuffer *buf = evbuffer_new();
	char *line = NULL;
	size_t n = 99;

	check(buf != NULL);
	/* BUF-9: EOL_LF keeps a preceding CR in the line. */
	check_int(evbuffer_add(buf, "a\r\n\nb\rc\n", 8), ==, 0);
	line = evbuffer_readln(buf, &n, EVBUFFER_EOL_LF);
	check_str(line, "a\r");
	check_int(n, ==, 2);
	free(line);
	line = evbuffer_readln(buf, &n, EVBUFFER_EOL_LF);
	check_str(line, "");
	check_int(n, ==, 0);
	free(line);
	line = evbuffer_readln(buf, &n, EVBUFFER_EOL_LF);
	check_str(line, "b\rc");
	check_int(n, ==, 3);
	free(line);
	line = evbuffer_readln(buf, &n, EVBUFFER_EOL_LF);
	check_ptr(line, ==, NULL);
	check_int(evbuffer_get_length(buf), ==, 0);

	/* EOL_NUL: the terminator is a zero byte; CR and LF are data. */
	check_int(evbuffer_add(buf, "a\nb\0\0c", 6), ==, 0);
	line = evbuffer_readln(buf, &n, EVBUFFER_EOL_NUL);
	check_str(line, "a\nb");
	check_int(n, ==, 3);
	free(line);
	line = evbuffer_readln(buf, &n, EVBUFFER_EOL_NUL);
	check_str(line, "");
	check_int(n, ==, 0);
	free(line);
	line = evbuffer_readln(buf, &n, EVBUFFER_EOL_NUL);
	check_ptr(line, ==, NULL);
	check(holds(buf, "c", 1));
end:
	free(line);
	if (buf)
		evbuffer_free(buf);
}

static void
readln_incomplete_leaves_buffer(void)
{
	struct evbuffer *buf = evbuffer_new();
	char *line = NULL;
	size_t n;
	int style;

	check(buf != NULL);
	/* BUF-10: no complete line in any style. */
	check_int(evbuffer_add(buf, "abc", 3), ==, 0);
	for (style = EVBUFFER_EOL_ANY; style <= EVBUFFER_EOL_NUL; style++) {
		n = 1234;
		line = evbuffer_readln(buf, &n,
		    (enum evbuffer_eol_style)style);
		check_ptr(line, ==, NULL);
		check_int(n, ==, 0);
		check(holds(buf, "abc", 3));
	}
	/* An unknown style finds no line even though one is there. */
	check_int(evbuffer_add(buf, "\r\n", 2), ==, 0);
	n = 1234;
	line = evbuffer_readln(buf, &n, (enum evbuffer_eol_style)99);
	check_ptr(line, ==, NULL);
	check_int(n, ==, 0);
	check(holds(buf, "abc\r\n", 5));
	/* n_read_out may be NULL. */
	line = evbuffer_readln(buf, NULL, EVBUFFER_EOL_CRLF_STRICT);
	check_str(line, "abc");
	check_int(evbuffer_get_length(buf), ==, 0);
end:
	free(line);
	if (buf)
		evbuffer_free(buf);
}

static void
readln_across_chains(void)
{
	struct evbuffer *buf = evbuffer_new();
	static const char *const words[] = { "hel", "lo wo", "rld\nnext" };
	static const char *const crlf[] = { "abc\r", "\ndef\r", "\n" };
	static const char *const any[] = { "abc\r", "\n\r", "\nx\n" };
	char *line = NULL;
	size_t n = 0;

	check(buf != NULL);
	/* A line whose bytes lie in three chains. */
	check_int(add_chains(buf, words, 3), ==, 0);
	line = evbuffer_readln(buf, &n, EVBUFFER_EOL_LF);
	check_str(line, "hello world");
	check_int(n, ==, 11);
	check(holds(buf, "next", 4));
	free(line);
	line = NULL;
	check_int(evbuffer_drain(buf, 4), ==, 0);

	/* A CRLF whose CR ends one chain and whose LF starts the next. */
	check_int(add_chains(buf, crlf, 3), ==, 0);
	line = evbuffer_readln(buf, &n, EVBUFFER_EOL_CRLF_STRICT);
	check_str(line, "abc");
	check(holds(buf, "def\r\n", 5));
	free(line);
	line = evbuffer_readln(buf, &n, EVBUFFER_EOL_CRLF_STRICT);
	check_str(line, "def");
	check_int(evbuffer_get_length(buf), ==, 0);
	free(line);

	check_int(add_chains(buf, crlf, 3), ==, 0);
	line = evbuffer_readln(buf, &n, EVBUFFER_EOL_CRLF);
	check_str(line, "abc");
	check(holds(buf, "def\r\n", 5));
	free(line);
	line = evbuffer_readln(buf, &n, EVBUFFER_EOL_CRLF);
	check_str(line, "def");
	check_int(evbuffer_get_length(buf), ==, 0);
	free(line);

	/* EOL_ANY consumes a terminator run spread over chains. */
	check_int(add_chains(buf, any, 3), ==, 0);
	line = evbuffer_readln(buf, &n, EVBUFFER_EOL_ANY);
	check_str(line, "abc");
	check(holds(buf, "x\n", 2));
	free(line);
	line = evbuffer_readln(buf, &n, EVBUFFER_EOL_ANY);
	check_str(line, "x");
	check_int(evbuffer_get_length(buf), ==, 0);
end:
	free(line);
	if (buf)
		evbuffer_free(buf);
}

/* A program may write into the memory evbuffer_pullup and evbuffer_peek
 * return; readln then finds a line end written there, even after an
 * earlier readln looked at those bytes and found none. */
static void
readln_sees_writes_through_pointers(void)
{
	struct evbuffer *buf = evbuffer_new();
	struct evbuffer_iovec v[2];
	unsigned char *p;
	char *line = NULL;
	size_t n;

	check(buf != NULL);
	check_int(evbuffer_add(buf, "abcdef", 6), ==, 0);
	line = evbuffer_readln(buf, &n, EVBUFFER_EOL_LF);
	check_ptr(line, ==, NULL);
	p = evbuffer_pullup(buf, -1);
	check(p != NULL);
	p[1] = '\n';
	line = evbuffer_readln(buf, &n, EVBUFFER_EOL_LF);
	check_str(line, "a");
	free(line);
	line = NULL;

	line = evbuffer_readln(buf, &n, EVBUFFER_EOL_CRLF_STRICT);
	check_ptr(line, ==, NULL);
	check_int(evbuffer_peek(buf, -1, NULL, v, 2), ==, 1);
	check_int(v[0].iov_len, ==, 4);
	((char *)v[0].iov_base)[1] = '\r';
	((char *)v[0].iov_base)[2] = '\n';
	line = evbuffer_readln(buf, &n, EVBUFFER_EOL_CRLF_STRICT);
	check_str(line, "c");
	check(holds(buf, "f", 1));
end:
	free(line);
	if (buf)
		evbuffer_free(buf);
}

static void
prepend_goes_first(void)
{
	struct evbuffer *buf = evbuffer_new();
	char *line = NULL;

	check(buf != NULL);
	/* BUF-28. */
	check_int(evbuffer_prepend(buf, "world", 5), ==, 0);
	check(holds(buf, "world", 5));
	check_int(evbuffer_prepend(buf, "hello ", 6), ==, 0);
	check(holds(buf, "hello world", 11));
	check_int(evbuffer_add(buf, "!\n", 2), ==, 0);
	check_int(evbuffer_prepend(buf, "", 0), ==, 0);
	check(holds(buf, "hello world!\n", 13));
	line = evbuffer_readln(buf, NULL, EVBUFFER_EOL_LF);
	check_str(line, "hello world!");
	/* Prepend after the front has been drained. */
	check_int(evbuffer_add(buf, "abcdef", 6), ==, 0);
	check_int(evbuffer_drain(buf, 3), ==, 0);
	check_int(evbuffer_prepend(buf, "XY", 2), ==, 0);
	check(holds(buf, "XYdef", 5));
end:
	free(line);
	if (buf)
		evbuffer_free(buf);
}

static void
expand_adds_space_not_data(void)
{
	struct evbuffer *buf = evbuffer_new();
	struct evbuffer_iovec v;
	size_t want = 20000;

	check(buf != NULL);
	/* BUF-29. */
	check_int(evbuffer_expand(buf, want), ==, 0);
	check_int(evbuffer_get_length(buf), ==, 0);
	check_int(evbuffer_reserve_space(buf, (ev_ssize_t)want, &v, 1), ==, 1);
	check_int(v.iov_len, >=, want);
	check_int(evbuffer_get_length(buf), ==, 0);

	/* With data already there, the data stays as it was. */
	check_int(evbuffer_add(buf, "abc", 3), ==, 0);
	check_int(evbuffer_expand(buf, want), ==, 0);
	check(holds(buf, "abc", 3));
	check_int(evbuffer_reserve_space(buf, (ev_ssize_t)want, &v, 1), ==, 1);
	check_int(v.iov_len, >=, want);
	check(holds(buf, "abc", 3));
	check_int(evbuffer_expand(buf, 0), ==, 0);
	check(holds(buf, "abc", 3));
end:
	if (buf)
		evbuffer_free(buf);
}

static void
search_finds_matches(void)
{
	struct evbuffer *buf = evbuffer_new();
	static const char *const parts[] = { "xxab", "cdxx", "yz" };
	struct evbuffer_ptr p;

	check(buf != NULL);
	check_int(add_chains(buf, parts, 3), ==, 0);
	/* BUF-11: a match spanning a chain boundary. */
	p = evbuffer_search(buf, "abcd", 4, NULL);
	check_int(p.pos, ==, 2);
	p = evbuffer_search(buf, "bcdxxy", 6, NULL);
	check_int(p.pos, ==, 3);
	/* At the very start and at the very last byte. */
	p = evbuffer_search(buf, "xxa", 3, NULL);
	check_int(p.pos, ==, 0);
	p = evbuffer_search(buf, "z", 1, NULL);
	check_int(p.pos, ==, 9);
	p = evbuffer_search(buf, "yz", 2, NULL);
	check_int(p.pos, ==, 8);
	/* A match would run past the end. */
	p = evbuffer_search(buf, "yzq", 3, NULL);
	check_int(p.pos, ==, -1);
	p = evbuffer_search(buf, "q", 1, NULL);
	check_int(p.pos, ==, -1);
	/* A false start before the real match. */
	p = evbuffer_search(buf, "xy", 2, NULL);
	check_int(p.pos, ==, 7);
	/* Searching never drains. */
	check(holds(buf, "xxabcdxxyz", 10));
end:
	if (buf)
		evbuffer_free(buf);
}

static void
search_from_start_pointer(void)
{
	struct evbuffer *buf = evbuffer_new();
	static const char *const parts[] = { "ab-a", "b-ab", "-ab" };
	struct evbuffer_ptr p;
	ev_ssize_t found[8];
	int n = 0;

	check(buf != NULL);
	check_int(add_chains(buf, parts, 3), ==, 0);
	/* BUF-12: walk every match by advancing past the last one. */
	p = evbuffer_search(buf, "ab", 2, NULL);
	while (p.pos != -1 && n < 8) {
		found[n++] = p.pos;
		check_int(evbuffer_ptr_set(buf, &p, 1, EVBUFFER_PTR_ADD),
		    ==, 0);
		p = evbuffer_search(buf, "ab", 2, &p);
	}
	check_int(n, ==, 4);
	check_int(found[0], ==, 0);
	check_int(found[1], ==, 3);
	check_int(found[2], ==, 6);
	check_int(found[3], ==, 9);

	/* Starting exactly on the last byte. */
	check_int(evbuffer_ptr_set(buf, &p, 10, EVBUFFER_PTR_SET), ==, 0);
	p = evbuffer_search(buf, "b", 1, &p);
	check_int(p.pos, ==, 10);
	check_int(evbuffer_ptr_set(buf, &p, 10, EVBUFFER_PTR_SET), ==, 0);
	p = evbuffer_search(buf, "ab", 2, &p);
	check_int(p.pos, ==, -1);
	check_int(evbuffer_get_length(buf), ==, 11);
end:
	if (buf)
		evbuffer_free(buf);
}

/*
 * NULL where 2.1.12 defines the answer: a NULL data pointer with a zero
 * length, a NULL n_read_out, a NULL start for search.
 */
static void
null_arguments(void)
{
	struct evbuffer *buf = evbuffer_new();
	char *line = NULL;
	struct evbuffer_ptr p;

	check(buf != NULL);
	check_int(evbuffer_copyout(buf, NULL, 0), ==, 0);
	check_int(evbuffer_remove(buf, NULL, 0), ==, 0);
	check_int(evbuffer_prepend(buf, NULL, 0), ==, 0);
	check_int(evbuffer_get_length(buf), ==, 0);
	line = evbuffer_readln(buf, NULL, EVBUFFER_EOL_ANY);
	check_ptr(line, ==, NULL);

	check_int(evbuffer_add(buf, "ab\n", 3), ==, 0);
	check_int(evbuffer_copyout(buf, NULL, 0), ==, 0);
	check_int(evbuffer_remove(buf, NULL, 0), ==, 0);
	check_int(evbuffer_prepend(buf, NULL, 0), ==, 0);
	check(holds(buf, "ab\n", 3));
	p = evbuffer_search(buf, "b", 1, NULL);
	check_int(p.pos, ==, 1);
	line = evbuffer_readln(buf, NULL, EVBUFFER_EOL_LF);
	check_str(line, "ab");
	check_int(evbuffer_get_length(buf), ==, 0);
end:
	free(line);
	if (buf)
		evbuffer_free(buf);
}

static const struct check_case cases[] = {
	{ "new_buffer_is_empty", new_buffer_is_empty },
	{ "add_and_remove", add_and_remove },
	{ "add_printf_counts_bytes", add_printf_counts_bytes },
	{ "add_vprintf_through_wrapper", add_vprintf_through_wrapper },
	{ "add_buffer_moves_everything", add_buffer_moves_everything },
	{ "remove_buffer_moves_at_most_n", remove_buffer_moves_at_most_n },
	{ "drain_front", drain_front },
	{ "copyout_does_not_drain", copyout_does_not_drain },
	{ "pullup_makes_contiguous", pullup_makes_contiguous },
	{ "readln_any", readln_any },
	{ "readln_crlf", readln_crlf },
	{ "readln_crlf_strict", readln_crlf_strict },
	{ "readln_lf_and_nul", readln_lf_and_nul },
	{ "readln_incomplete_leaves_buffer", readln_incomplete_leaves_buffer },
	{ "readln_across_chains", readln_across_chains },
	{ "readln_sees_writes_through_pointers",
	    readln_sees_writes_through_pointers },
	{ "prepend_goes_first", prepend_goes_first },
	{ "expand_adds_space_not_data", expand_adds_space_not_data },
	{ "search_finds_matches", search_finds_matches },
	{ "search_from_start_pointer", search_from_start_pointer },
	{ "null_arguments", null_arguments },
	{ NULL, NULL }
};

int
main(int argc, char **argv)
{
	return check_main(cases, argc, argv);
}
