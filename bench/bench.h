/*
 * Helpers shared by the benchmark programs in bench/.
 *
 * Every program takes its sizes as name=value words on the command line
 * (bench_arg), checks every byte it moves, and ends in one of two ways:
 *
 *   - all data verified: it prints one line
 *       RESULT name=<n> ops=<count> seconds=<s> rate=<ops/s>
 *           value=<v> unit=<u> better=higher|lower [key=value...]
 *     on stdout and exits 0;
 *   - anything wrong: it prints "FAIL <name>: <why>" on stderr and exits 1
 *     without a RESULT line (bench_fail).
 *
 * scripts/bench reads the RESULT line; "value" is what its table compares.
 */
#ifndef BENCH_H_INCLUDED_
#define BENCH_H_INCLUDED_

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *bench_name_ = "bench";

/* Names the benchmark for bench_fail and bench_result. */
static inline void
bench_set_name(const char *name)
{
	bench_name_ = name;
}

/* Reports a failure and exits 1: no RESULT line is printed. */
static inline void
bench_fail(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "FAIL %s: ", bench_name_);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* Seconds on the monotonic clock. */
static inline double
bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * The value of "<key>=<number>" among argv[1..], or def when absent. A
 * word that is not of that form, or a number that does not parse, is a
 * usage error.
 */
static inline long
bench_arg(int argc, char **argv, const char *key, long def)
{
	size_t klen = strlen(key);
	int i;

	for (i = 1; i < argc; i++) {
		char *end;
		long v;

		if (strncmp(argv[i], key, klen) != 0 || argv[i][klen] != '=')
			continue;
		v = strtol(argv[i] + klen + 1, &end, 10);
		if (end == argv[i] + klen + 1 || *end != '\0' || v < 0)
			bench_fail("bad argument %s", argv[i]);
		return v;
	}
	return def;
}

/* Like bench_arg, for a word that is a string ("op=readln"). */
static inline const char *
bench_arg_str(int argc, char **argv, const char *key, const char *def)
{
	size_t klen = strlen(key);
	int i;

	for (i = 1; i < argc; i++) {
		if (strncmp(argv[i], key, klen) == 0 && argv[i][klen] == '=')
			return argv[i] + klen + 1;
	}
	return def;
}

/*
 * Prints the RESULT line of a throughput benchmark: ops per second, higher
 * is better. extra (may be NULL) is appended as is ("key=value ...").
 */
static inline void
bench_result_rate(long long ops, double seconds, const char *extra)
{
	double rate = seconds > 0 ? (double)ops / seconds : 0;

	printf("RESULT name=%s ops=%lld seconds=%.6f rate=%.1f "
	    "value=%.1f unit=ops/s better=higher%s%s\n",
	    bench_name_, ops, seconds, rate, rate,
	    extra ? " " : "", extra ? extra : "");
	fflush(stdout);
}

/*
 * The test pattern. Message msg of stream stream is the slice of one
 * pseudo-random table that starts at an offset computed from both, so
 * filling is a memcpy and checking a memcmp (cheap next to the library
 * calls being measured), and two streams or two messages that a mix-up
 * could confuse almost never start at the same offset.
 */
#define BENCH_PERIOD 65521u /* a prime: offsets spread over the table */

static unsigned char *bench_table_;
static size_t bench_table_len_;

/* Makes the table long enough for messages of up to max_len bytes. */
static inline void
bench_pattern_init(size_t max_len)
{
	unsigned x = 2463534242u;
	size_t i;

	free(bench_table_);
	bench_table_len_ = BENCH_PERIOD + max_len;
	bench_table_ = malloc(bench_table_len_);
	if (!bench_table_)
		bench_fail("no memory for the pattern table");
	for (i = 0; i < bench_table_len_; i++) {
		/* xorshift32 */
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		bench_table_[i] = (unsigned char)(x >> 24);
	}
}

static inline const unsigned char *
bench_pattern(size_t len, unsigned stream, unsigned msg)
{
	unsigned off = (stream * 7919u + msg * 104729u) % BENCH_PERIOD;

	if (!bench_table_ || len > bench_table_len_ - BENCH_PERIOD)
		bench_pattern_init(len < 65536 ? 65536 : len);
	return bench_table_ + off;
}

/* Fills buf with the pattern of (stream, msg). */
static inline void
bench_fill(unsigned char *buf, size_t len, unsigned stream, unsigned msg)
{
	memcpy(buf, bench_pattern(len, stream, msg), len);
}

/* Returns the first offset where buf differs from the pattern, or -1. */
static inline long
bench_check(const unsigned char *buf, size_t len, unsigned stream,
    unsigned msg)
{
	const unsigned char *want = bench_pattern(len, stream, msg);
	size_t i;

	if (memcmp(buf, want, len) == 0)
		return -1;
	for (i = 0; buf[i] == want[i]; i++)
		continue;
	return (long)i;
}

#endif /* BENCH_H_INCLUDED_ */
