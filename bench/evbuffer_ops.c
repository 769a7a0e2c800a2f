/*
 * evbuffer micro-operations, one per run, chosen with op=:
 *
 *   add_remove  n times: add a <size>-byte record, and once 16 records are
 *               queued remove the oldest; every removed record is checked.
 *               ops = records added and removed.
 *   readln      a buffer of n CRLF-terminated lines of varying length,
 *               read back with evbuffer_readln(EVBUFFER_EOL_CRLF); each
 *               line is checked. ops = lines (only the reading is timed).
 *   add_buffer  a buffer of <size> bytes (default 1 MiB, added 4 KiB at a
 *               time) moved n times to a second buffer and back with
 *               evbuffer_add_buffer; checked byte for byte at the end.
 *               ops = moves.
 *   pullup      n times: add 16 KiB in 1 KiB pieces, make it contiguous
 *               with evbuffer_pullup(-1), check it, drain it. ops = pullups.
 *   search      a buffer of <size> bytes (default 256 KiB, 4 KiB adds)
 *               searched n times for a 16-byte needle taken from near its
 *               end; the position must be the one memmem finds.
 *               ops = searches.
 *   all         each of the above once with the same n (a self-check;
 *               its rate means little).
 *
 * Arguments: op=add_remove n=<count> size=<bytes>
 */
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "bench.h"

static void
fill_4k(struct evbuffer *buf, size_t total, unsigned stream)
{
	unsigned char piece[4096];
	size_t off = 0;
	unsigned msg = 0;

	while (off < total) {
		size_t n = total - off < sizeof(piece) ?
		    total - off : sizeof(piece);

		bench_fill(piece, n, stream, msg++);
		if (evbuffer_add(buf, piece, n) != 0)
			bench_fail("evbuffer_add failed");
		off += n;
	}
}

/* Checks that buf holds exactly what fill_4k(total, stream) put in. */
static void
check_4k(struct evbuffer *buf, size_t total, unsigned stream)
{
	unsigned char piece[4096];
	struct evbuffer_ptr pos;
	size_t off = 0;
	unsigned msg = 0;
	long bad;

	if (evbuffer_get_length(buf) != total)
		bench_fail("buffer holds %zu bytes, expected %zu",
		    evbuffer_get_length(buf), total);
	while (off < total) {
		size_t n = total - off < sizeof(piece) ?
		    total - off : sizeof(piece);

		if (evbuffer_ptr_set(buf, &pos, off, EVBUFFER_PTR_SET) != 0)
			bench_fail("evbuffer_ptr_set failed at %zu", off);
		if (evbuffer_copyout_from(buf, &pos, piece, n) !=
		    (ev_ssize_t)n)
			bench_fail("evbuffer_copyout_from short at %zu", off);
		bad = bench_check(piece, n, stream, msg++);
		if (bad >= 0)
			bench_fail("wrong byte at %zu", off + (size_t)bad);
		off += n;
	}
}

static long long
op_add_remove(struct evbuffer *buf, long n, long size)
{
	unsigned char rec[4096];
	long added, removed = 0;
	long bad;

	if (size < 1 || size > 4096)
		bench_fail("add_remove needs 1 <= size <= 4096");
	for (added = 0; added < n; added++) {
		bench_fill(rec, (size_t)size, 1, (unsigned)added);
		if (evbuffer_add(buf, rec, (size_t)size) != 0)
			bench_fail("evbuffer_add failed");
		if (added - removed < 16)
			continue;
		if (evbuffer_remove(buf, rec, (size_t)size) != (int)size)
			bench_fail("short evbuffer_remove");
		bad = bench_check(rec, (size_t)size, 1, (unsigned)removed);
		if (bad >= 0)
			bench_fail("record %ld wrong at %ld", removed, bad);
		removed++;
	}
	while (removed < n) {
		if (evbuffer_remove(buf, rec, (size_t)size) != (int)size)
			bench_fail("short evbuffer_remove");
		bad = bench_check(rec, (size_t)size, 1, (unsigned)removed);
		if (bad >= 0)
			bench_fail("record %ld wrong at %ld", removed, bad);
		removed++;
	}
	if (evbuffer_get_length(buf) != 0)
		bench_fail("bytes left after removing every record");
	return n;
}

/* Line i: "line <i> " and then i % 61 letters, all from i. */
static int
make_line(char *out, size_t cap, long i)
{
	int len = snprintf(out, cap, "line %ld ", i);
	long k;

	for (k = 0; k < i % 61; k++)
		out[len++] = (char)('a' + (i + k) % 26);
	out[len] = '\0';
	return len;
}

static long long
op_readln(struct evbuffer *buf, long n, double *t0)
{
	char want[128];
	long i;

	for (i = 0; i < n; i++) {
		int len = make_line(want, sizeof(want), i);

		memcpy(want + len, "\r\n", 2);
		if (evbuffer_add(buf, want, (size_t)len + 2) != 0)
			bench_fail("evbuffer_add failed");
	}
	*t0 = bench_now();
	for (i = 0; i < n; i++) {
		size_t got_len;
		char *got = evbuffer_readln(buf, &got_len, EVBUFFER_EOL_CRLF);
		int len = make_line(want, sizeof(want), i);

		if (!got)
			bench_fail("evbuffer_readln: no line %ld", i);
		if (got_len != (size_t)len || strcmp(got, want) != 0)
			bench_fail("line %ld is \"%s\", expected \"%s\"", i,
			    got, want);
		free(got);
	}
	if (evbuffer_get_length(buf) != 0)
		bench_fail("bytes left after the last line");
	return n;
}

static long long
op_add_buffer(struct evbuffer *buf, long n, long size)
{
	struct evbuffer *other = evbuffer_new();
	long i;

	if (!other)
		bench_fail("evbuffer_new failed");
	fill_4k(buf, (size_t)size, 3);
	for (i = 0; i < n; i++) {
		if (evbuffer_add_buffer(other, buf) != 0 ||
		    evbuffer_add_buffer(buf, other) != 0)
			bench_fail("evbuffer_add_buffer failed");
		if (evbuffer_get_length(other) != 0)
			bench_fail("source not emptied by evbuffer_add_buffer");
	}
	check_4k(buf, (size_t)size, 3);
	evbuffer_free(other);
	return 2LL * n;
}

static long long
op_pullup(struct evbuffer *buf, long n)
{
	unsigned char piece[1024];
	unsigned char *flat;
	long i, bad;
	unsigned k;

	for (i = 0; i < n; i++) {
		for (k = 0; k < 16; k++) {
			bench_fill(piece, sizeof(piece), (unsigned)i, k);
			if (evbuffer_add(buf, piece, sizeof(piece)) != 0)
				bench_fail("evbuffer_add failed");
		}
		flat = evbuffer_pullup(buf, -1);
		if (!flat)
			bench_fail("evbuffer_pullup returned NULL");
		for (k = 0; k < 16; k++) {
			bad = bench_check(flat + k * sizeof(piece),
			    sizeof(piece), (unsigned)i, k);
			if (bad >= 0)
				bench_fail("pullup %ld wrong at %lu", i,
				    (unsigned long)(k * sizeof(piece) +
				    (size_t)bad));
		}
		if (evbuffer_drain(buf, 16 * sizeof(piece)) != 0 ||
		    evbuffer_get_length(buf) != 0)
			bench_fail("evbuffer_drain failed");
	}
	return n;
}

static long long
op_search(struct evbuffer *buf, long n, long size)
{
	unsigned char *flat, *hit;
	unsigned char needle[16];
	struct evbuffer_ptr pos;
	long i, want;

	if (size < 64)
		bench_fail("search needs size >= 64");
	fill_4k(buf, (size_t)size, 5);
	/* memmem on a flat copy says where the first match really is. */
	flat = malloc((size_t)size);
	if (!flat || evbuffer_copyout(buf, flat, (size_t)size) != size)
		bench_fail("copyout failed");
	memcpy(needle, flat + size - 40, sizeof(needle));
	hit = memmem(flat, (size_t)size, needle, sizeof(needle));
	want = (long)(hit - flat);
	free(flat);
	for (i = 0; i < n; i++) {
		pos = evbuffer_search(buf, (const char *)needle,
		    sizeof(needle), NULL);
		if (pos.pos != want)
			bench_fail("search %ld found %ld, expected %ld", i,
			    (long)pos.pos, want);
	}
	return n;
}

int
main(int argc, char **argv)
{
	const char *op = bench_arg_str(argc, argv, "op", "add_remove");
	struct evbuffer *buf;
	long n, size;
	long long ops;
	double t0, t1;
	char name[64], extra[64];

	snprintf(name, sizeof(name), "evbuffer_%s", op);
	bench_set_name(name);
	buf = evbuffer_new();
	if (!buf)
		bench_fail("evbuffer_new failed");
	t0 = bench_now();
	if (strcmp(op, "all") == 0) {
		/* Every operation once with the same n: a quick self-check. */
		n = bench_arg(argc, argv, "n", 100);
		size = 0;
		ops = op_add_remove(buf, n, 32);
		ops += op_add_buffer(buf, n, 64 * 1024);
		evbuffer_drain(buf, evbuffer_get_length(buf));
		ops += op_pullup(buf, n);
		ops += op_search(buf, n, 64 * 1024);
		evbuffer_drain(buf, evbuffer_get_length(buf));
		ops += op_readln(buf, n, &t1);
	} else if (strcmp(op, "add_remove") == 0) {
		n = bench_arg(argc, argv, "n", 2000000);
		size = bench_arg(argc, argv, "size", 32);
		ops = op_add_remove(buf, n, size);
	} else if (strcmp(op, "readln") == 0) {
		n = bench_arg(argc, argv, "n", 500000);
		size = 0;
		ops = op_readln(buf, n, &t0);
	} else if (strcmp(op, "add_buffer") == 0) {
		n = bench_arg(argc, argv, "n", 100000);
		size = bench_arg(argc, argv, "size", 1 << 20);
		ops = op_add_buffer(buf, n, size);
	} else if (strcmp(op, "pullup") == 0) {
		n = bench_arg(argc, argv, "n", 20000);
		size = 16 * 1024;
		ops = op_pullup(buf, n);
	} else if (strcmp(op, "search") == 0) {
		n = bench_arg(argc, argv, "n", 2000);
		size = bench_arg(argc, argv, "size", 256 * 1024);
		ops = op_search(buf, n, size);
	} else {
		bench_fail("unknown op \"%s\" (add_remove, readln, "
		    "add_buffer, pullup, search, all)", op);
		return 1;
	}
	t1 = bench_now();
	evbuffer_free(buf);

	snprintf(extra, sizeof(extra), "n=%ld size=%ld", n, size);
	bench_result_rate(ops, t1 - t0, extra);
	return 0;
}
