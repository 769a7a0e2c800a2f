/*
 * check.h: the assertion and case-table helpers of the C tests.
 *
 * Every test program is built twice, against the reference libevent and
 * against bufferevent-rs, and must pass on both. A program holds a table of
 * cases; `prog` runs them all, `prog NAME` runs one. A failed check prints
 * file, line, the expression and both values, marks the case failed and
 * jumps to the case's `end:` label, where it frees what it made.
 *
 * Exit status: 0 all passed, 1 a case failed, 77 skipped (ctest reports 77
 * as skipped only for the reference build of a deliberate difference).
 */
#ifndef BEVRS_CHECK_H
#define BEVRS_CHECK_H

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static int check_failed_;

#define CHECK_FAIL_(fmt, ...)						\
	do {								\
		fprintf(stderr, "%s:%d: " fmt "\n", __FILE__, __LINE__,	\
		    __VA_ARGS__);					\
		check_failed_ = 1;					\
		goto end;						\
	} while (0)

/* Fails the case unless cond holds. */
#define check(cond)							\
	do {								\
		if (!(cond))						\
			CHECK_FAIL_("check failed: %s", #cond);		\
	} while (0)

/* Compares two integers with op; prints both on failure. */
#define check_int(a, op, b)						\
	do {								\
		long long a_ = (long long)(a), b_ = (long long)(b);	\
		if (!(a_ op b_))					\
			CHECK_FAIL_("check failed: %s %s %s (%lld vs %lld)",	\
			    #a, #op, #b, a_, b_);			\
	} while (0)

/* Compares two pointers with op. */
#define check_ptr(a, op, b)						\
	do {								\
		const void *a_ = (const void *)(a);			\
		const void *b_ = (const void *)(b);			\
		if (!(a_ op b_))					\
			CHECK_FAIL_("check failed: %s %s %s (%p vs %p)",	\
			    #a, #op, #b, a_, b_);			\
	} while (0)

/* Compares two NUL-terminated strings for equality. */
#define check_str(a, b)							\
	do {								\
		const char *a_ = (a), *b_ = (b);			\
		if (!a_ || !b_ || strcmp(a_, b_))			\
			CHECK_FAIL_("check failed: %s == %s (\"%s\" vs \"%s\")",	\
			    #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)");	\
	} while (0)

/* Compares n bytes at a and b. */
#define check_mem(a, b, n)						\
	do {								\
		if (memcmp((a), (b), (n)))				\
			CHECK_FAIL_("check failed: %s == %s over %zu bytes",	\
			    #a, #b, (size_t)(n));			\
	} while (0)

/* Fails the case with a message. */
#define check_fail(msg) CHECK_FAIL_("%s", msg)

struct check_case {
	const char *name;
	void (*fn)(void);
};

/*
 * True when the library that answers libevent's names is the reference:
 * bufferevent-rs exports one extra symbol, bufferevent_rs_version.
 */
static inline int
check_on_reference(void)
{
	return dlsym(RTLD_DEFAULT, "bufferevent_rs_version") == NULL;
}

/*
 * The factor by which time tolerances are stretched: 1 normally, more
 * under valgrind (the environment variable CHECK_TIME_SCALE).
 */
static inline int
check_time_scale(void)
{
	const char *s = getenv("CHECK_TIME_SCALE");
	int v = s ? atoi(s) : 1;
	return v > 0 ? v : 1;
}

/*
 * The factor by which data sizes shrink under valgrind (CHECK_SIZE_DIV),
 * so the slow runs stay inside CI's time.
 */
static inline int
check_size_div(void)
{
	const char *s = getenv("CHECK_SIZE_DIV");
	int v = s ? atoi(s) : 1;
	return v > 0 ? v : 1;
}

/* Milliseconds on the monotonic clock, for measuring waits. */
static inline long long
check_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Fills a timeval with ms milliseconds. */
static inline void
check_set_ms(struct timeval *tv, int ms)
{
	tv->tv_sec = ms / 1000;
	tv->tv_usec = (ms % 1000) * 1000;
}

/* Runs the cases of table (ended by a NULL name) named by argv. */
static inline int
check_main(const struct check_case *table, int argc, char **argv)
{
	int ran = 0, failed = 0;
	const struct check_case *c;

	for (c = table; c->name; c++) {
		if (argc > 1 && strcmp(argv[1], c->name))
			continue;
		check_failed_ = 0;
		c->fn();
		ran++;
		if (check_failed_) {
			failed++;
			fprintf(stderr, "FAIL %s\n", c->name);
		} else {
			printf("ok %s\n", c->name);
		}
	}
	if (!ran) {
		fprintf(stderr, "no case named %s\n", argc > 1 ? argv[1] : "");
		return 1;
	}
	return failed ? 1 : 0;
}

/*
 * For a test of a deliberate difference from 2.1.12: on the reference,
 * say so and exit 77 (skipped).
 */
#define CHECK_REF_DIFFERS(reason)					\
	do {								\
		if (check_on_reference()) {				\
			printf("REF-DIFFERS %s\n", reason);		\
			exit(77);					\
		}							\
	} while (0)

#endif /* BEVRS_CHECK_H */
