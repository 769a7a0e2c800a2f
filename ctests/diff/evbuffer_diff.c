/*
 * evbuffer_diff: a random walk over the evbuffer API that prints everything
 * the reference defines about each step, so that two builds of this program
 * (one on libevent 2.1.12, one on bufferevent-rs) can be compared line by
 * line.
 *
 * Usage: evbuffer_diff SEED [OPS]
 *
 * Left out on purpose, because 2.1.12 leaves them to its chain layout:
 * pointer values, evbuffer_get_contiguous_space, the number of extents of
 * evbuffer_peek and evbuffer_reserve_space. Everything else is printed:
 * return values, lengths, the bytes (a short escaped form, or a length and
 * checksum for long runs), every callback report and every cleanup.
 */
#include <event2/buffer.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define NBUF 3
#define NCB 4
#define REF_POOL 8192

static struct evbuffer *bufs[NBUF];
static struct evbuffer_cb_entry *cbs[NBUF][NCB];
static int cb_on[NBUF][NCB];
static unsigned char ref_pool[REF_POOL];
/* Whether a buffer may hold data from evbuffer_add_buffer_reference. Such a
 * buffer gets no evbuffer_pullup: 2.1.12 pulls up into the referenced
 * chain when the chain it came from had room, and that decides whether the
 * bytes count as referenced later (add_buffer_reference refuses them) and
 * when cleanups run; the room depends on its chain sizes. For the same
 * reason it is not the source of another reference. */
static int shared[NBUF];
/* Whose bytes a buffer holds views of (bit i: bufs[i]'s). Views never move
 * back into the buffer they came from here: 2.1.12 then keeps that buffer
 * past evbuffer_free forever (a leak, cleanups never run), which this
 * library does not copy. */
static unsigned views_of[NBUF];
/* Whether a buffer holding no bytes may still hold the empty chain of a
 * zero-length file segment. 2.1.12 keeps that chain, and refuses to
 * reference the buffer for it, until a change lets go of it; which changes
 * do once bytes arrive depends on its chain sizes. So such a buffer stays
 * shared until it has held bytes and been emptied (which lets go of every
 * chain), not merely while it is empty. */
static int empty_file[NBUF];
/* EVBUFFER_DIFF_PROBE set: print more of the state (for hunting). */
static int probe;
static uint64_t rng;
static unsigned op_no;
/* A nonblocking socket pair: evbuffer_write goes into [0], evbuffer_read
 * takes from [1]. */
static int sv[2] = { -1, -1 };

static uint32_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

static uint32_t
below(uint32_t n)
{
	return n ? rnd() % n : 0;
}

/* A length: mostly short, sometimes around chunk sizes, rarely large. */
static size_t
rnd_len(void)
{
	switch (below(10)) {
	case 0:
		return 0;
	case 1:
	case 2:
	case 3:
	case 4:
		return 1 + below(12);
	case 5:
	case 6:
		return 1 + below(80);
	case 7:
		return 500 + below(700);
	case 8:
		return 4000 + below(200);
	default:
		return 1 + below(20000);
	}
}

/* Bytes that make line ends and NULs likely, including CR LF pairs split
 * across separate adds. */
static void
rnd_bytes(unsigned char *p, size_t n)
{
	static const unsigned char alpha[] = "ab\r\n\0xyz\n\r";
	size_t i;
	int plain = below(4) == 0;

	for (i = 0; i < n; i++) {
		if (plain || below(3) != 0)
			p[i] = (unsigned char)('a' + below(26));
		else
			p[i] = alpha[below(sizeof(alpha) - 1)];
	}
}

static void
out(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

/* Prints bytes: escaped when short, length and FNV-1a otherwise. */
static void
out_bytes(const unsigned char *p, size_t n)
{
	size_t i;
	uint64_t h = 1469598103934665603ull;

	if (n > 48) {
		for (i = 0; i < n; i++) {
			h ^= p[i];
			h *= 1099511628211ull;
		}
		out(" [%zu#%016llx]", n, (unsigned long long)h);
		return;
	}
	out(" \"");
	for (i = 0; i < n; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\')
			out("%c", p[i]);
		else
			out("\\%02x", p[i]);
	}
	out("\"");
}

/* The whole content, read through evbuffer_peek, which ignores freezes and
 * runs no callback. */
static unsigned char *
content(struct evbuffer *b, size_t *n)
{
	int nv = evbuffer_peek(b, -1, NULL, NULL, 0);
	struct evbuffer_iovec *v = calloc(nv + 1, sizeof(*v));
	size_t len = evbuffer_get_length(b);
	unsigned char *p = malloc(len + 1);
	size_t at = 0;
	int i, got;

	got = evbuffer_peek(b, -1, NULL, v, nv);
	for (i = 0; i < got && i < nv && at < len; i++) {
		size_t k = v[i].iov_len;

		if (k > len - at)
			k = len - at;
		memcpy(p + at, v[i].iov_base, k);
		at += k;
	}
	free(v);
	*n = at;
	return p;
}

static void
out_state(void)
{
	int i;

	out("  state");
	for (i = 0; i < NBUF; i++) {
		size_t n, len = evbuffer_get_length(bufs[i]);
		unsigned char *p;

		out(" %zu", len);
		/* Long contents every 8th step only: hashing them dominates
		 * the run time, and a difference still shows a few steps on. */
		if (len > 48 && op_no % 8 != 0)
			continue;
		p = content(bufs[i], &n);
		out_bytes(p, n);
		free(p);
	}
	if (probe && (int)op_no >= probe) {
		/* Whether each buffer could be referenced: a reference into a
		 * scratch buffer changes nothing the program sees. */
		out(" refable");
		for (i = 0; i < NBUF; i++) {
			struct evbuffer *tmp = evbuffer_new();

			out(" %d", evbuffer_add_buffer_reference(tmp, bufs[i]));
			evbuffer_free(tmp);
		}
	}
	out("\n");
}

static void
on_change(struct evbuffer *b, const struct evbuffer_cb_info *info, void *arg)
{
	int id = (int)(intptr_t)arg;
	int which = -1, i;

	for (i = 0; i < NBUF; i++)
		if (bufs[i] == b)
			which = i;
	out("  cb b%d/%d orig %zu add %zu del %zu\n", which, id,
	    info->orig_size, info->n_added, info->n_deleted);
}

static void
on_cleanup(const void *data, size_t len, void *arg)
{
	out("  cleanup ref%d off %td len %zu\n", (int)(intptr_t)arg,
	    (const unsigned char *)data - ref_pool, len);
}

/* A position chosen to land inside, at the end of or past the buffer. */
static size_t
rnd_pos(struct evbuffer *b)
{
	size_t len = evbuffer_get_length(b);

	switch (below(6)) {
	case 0:
		return 0;
	case 1:
		return len;
	case 2:
		return len + 1 + below(4);
	default:
		return len ? below((uint32_t)len) : 0;
	}
}

/* Sets *p to a random position and prints the outcome; returns whether it
 * was set (the pointer is passed NULL otherwise, half of the time). */
static struct evbuffer_ptr *
rnd_ptr(struct evbuffer *b, struct evbuffer_ptr *p)
{
	size_t at;
	int r;

	if (below(4) == 0) {
		out(" ptr NULL");
		return NULL;
	}
	at = rnd_pos(b);
	if (below(3) == 0 && at > 0) {
		size_t first = below((uint32_t)at + 1);

		r = evbuffer_ptr_set(b, p, first, EVBUFFER_PTR_SET);
		out(" ptr_set %zu=%d", first, r);
		r = evbuffer_ptr_set(b, p, at - first, EVBUFFER_PTR_ADD);
		out(" ptr_add %zu=%d pos %zd", at - first, r, p->pos);
	} else {
		r = evbuffer_ptr_set(b, p, at, EVBUFFER_PTR_SET);
		out(" ptr_set %zu=%d pos %zd", at, r, p->pos);
	}
	if (r != 0)
		return NULL;
	return p;
}

static const int eol_styles[] = {
	EVBUFFER_EOL_ANY, EVBUFFER_EOL_CRLF, EVBUFFER_EOL_CRLF_STRICT,
	EVBUFFER_EOL_LF, EVBUFFER_EOL_NUL,
};

static void
op_add(struct evbuffer *b)
{
	size_t n = rnd_len();
	unsigned char *d = malloc(n + 1);

	rnd_bytes(d, n);
	out("add");
	out_bytes(d, n);
	out(" = %d\n", evbuffer_add(b, d, n));
	free(d);
}

static void
op_prepend(struct evbuffer *b)
{
	size_t n = rnd_len();
	unsigned char *d = malloc(n + 1);

	rnd_bytes(d, n);
	out("prepend");
	out_bytes(d, n);
	out(" = %d\n", evbuffer_prepend(b, d, n));
	free(d);
}

static void
op_printf(struct evbuffer *b)
{
	int v = (int)rnd();
	unsigned w = below(30);
	int r = evbuffer_add_printf(b, "<%*d|%s>\r\n", (int)w, v,
	    below(2) ? "x\ny" : "");

	out("add_printf %d %u = %d\n", v, w, r);
}

static void
op_reference(struct evbuffer *b)
{
	static int ref_id;
	size_t off = below(REF_POOL);
	size_t n = below((uint32_t)(REF_POOL - off) + 1);
	int id = ++ref_id;
	int with_cb = below(4) != 0;

	if (below(3) == 0 && n > 64)
		n = below(64);
	/* An empty reference is left out: when 2.1.12 runs its cleanup
	 * depends on how it lays out empty chains. */
	if (n == 0)
		n = 1;
	if (off + n > REF_POOL)
		off = REF_POOL - n;
	out("add_reference ref%d off %zu len %zu cb %d = ", id, off, n,
	    with_cb);
	fflush(stdout);
	out("%d\n", evbuffer_add_reference(b, ref_pool + off, n,
	    with_cb ? on_cleanup : NULL, (void *)(intptr_t)id));
}

static void
op_remove(struct evbuffer *b)
{
	size_t n = below(3) ? below(40) : rnd_len();
	unsigned char *d = malloc(n + 1);
	int r = evbuffer_remove(b, d, n);

	out("remove %zu = %d", n, r);
	if (r > 0)
		out_bytes(d, (size_t)r);
	out("\n");
	free(d);
}

static void
op_copyout(struct evbuffer *b)
{
	struct evbuffer_ptr p;
	struct evbuffer_ptr *pp = NULL;
	size_t n = below(3) ? below(40) : rnd_len();
	unsigned char *d = malloc(n + 1);
	ev_ssize_t r;

	if (below(2)) {
		out("copyout %zu", n);
		r = evbuffer_copyout(b, d, n);
	} else {
		out("copyout_from %zu", n);
		pp = rnd_ptr(b, &p);
		r = evbuffer_copyout_from(b, pp, d, n);
	}
	out(" = %zd", r);
	if (r > 0)
		out_bytes(d, (size_t)r);
	out("\n");
	free(d);
}

static void
op_drain(struct evbuffer *b)
{
	size_t n = below(4) ? below(60) : rnd_len();

	if (below(10) == 0)
		n = evbuffer_get_length(b) + below(3);
	out("drain %zu = %d\n", n, evbuffer_drain(b, n));
}

static void
op_pullup(struct evbuffer *b)
{
	ev_ssize_t n;
	unsigned char *p;
	size_t len = evbuffer_get_length(b);

	switch (below(5)) {
	case 0:
		n = -1;
		break;
	case 1:
		n = (ev_ssize_t)len + (ev_ssize_t)below(3);
		break;
	case 2:
		n = 0;
		break;
	default:
		n = len ? (ev_ssize_t)below((uint32_t)len) + 1 : 1;
	}
	p = evbuffer_pullup(b, n);
	out("pullup %zd = %s", n, p ? "ptr" : "NULL");
	if (p)
		out_bytes(p, n < 0 ? len : (size_t)n);
	out("\n");
}

static void
op_readln(struct evbuffer *b)
{
	int style = eol_styles[below(5)];
	size_t got = 12345;
	char *line;

	if (below(20) == 0)
		style = 7;
	line = evbuffer_readln(b, &got, style);
	out("readln %d = %s n %zu", style, line ? "line" : "NULL", got);
	if (line) {
		out_bytes((unsigned char *)line, got);
		out(" nul %d", line[got] == 0);
	}
	out("\n");
	free(line);
}

static void
op_search(struct evbuffer *b)
{
	static const char *needles[] = {
		"a", "\r\n", "\n", "\r", "ab", "\0", "xyz", "\n\r", "zz",
		"", "abcdefghijklmnopqrstuvwxyz",
	};
	struct evbuffer_ptr start, end, r;
	struct evbuffer_ptr *sp, *ep;
	int k = below(sizeof(needles) / sizeof(needles[0]));
	size_t nl = k == 5 ? 1 : strlen(needles[k]);
	int range = below(3) == 0;

	out("search%s %d", range ? "_range" : "", k);
	sp = rnd_ptr(b, &start);
	if (range) {
		ep = rnd_ptr(b, &end);
		r = evbuffer_search_range(b, needles[k], nl, sp, ep);
	} else {
		r = evbuffer_search(b, needles[k], nl, sp);
	}
	out(" = %zd\n", r.pos);
	if (r.pos >= 0 && below(2)) {
		/* The result must work as a start for copyout_from and peek. */
		char tmp[8];
		ev_ssize_t c = evbuffer_copyout_from(b, &r, tmp, sizeof(tmp));

		out("  from result = %zd", c);
		if (c > 0)
			out_bytes((unsigned char *)tmp, (size_t)c);
		out("\n");
	}
}

static void
op_search_eol(struct evbuffer *b)
{
	struct evbuffer_ptr start, r;
	struct evbuffer_ptr *sp;
	int style = eol_styles[below(5)];
	size_t eol_len = 777;

	out("search_eol %d", style);
	sp = rnd_ptr(b, &start);
	r = evbuffer_search_eol(b, sp, below(8) ? &eol_len : NULL, style);
	out(" = %zd len %zu\n", r.pos, eol_len);
}

static void
op_peek(struct evbuffer *b)
{
	struct evbuffer_ptr start;
	struct evbuffer_ptr *sp;
	ev_ssize_t len = below(3) == 0 ? -1 : (ev_ssize_t)below(100);
	int nv, got, i;
	struct evbuffer_iovec *v;
	size_t have = 0, want;
	unsigned char *p;

	out("peek %zd", len);
	sp = rnd_ptr(b, &start);
	nv = evbuffer_peek(b, len, sp, NULL, 0);
	v = calloc(nv + 1, sizeof(*v));
	got = evbuffer_peek(b, len, sp, v, nv);
	out(" same %d", got == nv);
	for (i = 0; i < got && i < nv; i++)
		have += v[i].iov_len;
	want = evbuffer_get_length(b) - (sp ? (size_t)sp->pos : 0);
	if (len >= 0 && (size_t)len < want)
		want = (size_t)len;
	out(" covers %d", have >= want);
	p = malloc(have + 1);
	have = 0;
	for (i = 0; i < got && i < nv; i++) {
		memcpy(p + have, v[i].iov_base, v[i].iov_len);
		have += v[i].iov_len;
	}
	out_bytes(p, have < want ? have : want);
	out("\n");
	free(p);
	free(v);
}

static void
op_reserve(struct evbuffer *b)
{
	struct evbuffer_iovec v[4];
	size_t size = below(3) ? below(100) : rnd_len();
	int nv = 1 + below(3);
	int r, i, c, commit_n;
	size_t left, keep, room = 0;
	unsigned char *d = malloc(size + 1);

	/* 2.1.12 asserts on an empty reservation in several extents when the
	 * last chunk is full. */
	if (size == 0 && nv > 1)
		size = 1;
	rnd_bytes(d, size);
	r = evbuffer_reserve_space(b, (ev_ssize_t)size, v, nv);
	out("reserve %zu %d = %s", size, nv, r < 0 ? "-1" : r ? "ok" : "0");
	if (r <= 0) {
		out("\n");
		free(d);
		return;
	}
	/* Commit all of it, or sometimes less: which extents hold the bytes
	 * depends on the chunks, the bytes committed do not. */
	keep = below(5) == 0 ? below((uint32_t)size + 1) : size;
	left = keep;
	commit_n = r;
	for (i = 0; i < r; i++) {
		size_t k = v[i].iov_len < left ? v[i].iov_len : left;

		room += v[i].iov_len;
		memcpy(v[i].iov_base, d + (keep - left), k);
		v[i].iov_len = k;
		left -= k;
	}
	out(" room %d keep %zu", room >= size, keep);
	c = evbuffer_commit_space(b, v, commit_n);
	out(" left %zu commit = %d\n", left, c);
	free(d);
}

static void
op_expand(struct evbuffer *b)
{
	size_t n = rnd_len();

	out("expand %zu = %d\n", n, evbuffer_expand(b, n));
}

static void
op_freeze(struct evbuffer *b)
{
	int front = below(2);

	if (below(2))
		out("freeze %d = %d\n", front, evbuffer_freeze(b, front));
	else
		out("unfreeze %d = %d\n", front, evbuffer_unfreeze(b, front));
}

static void
op_cb(int bi)
{
	int k = below(NCB);

	if (!cbs[bi][k]) {
		cbs[bi][k] = evbuffer_add_cb(bufs[bi], on_change,
		    (void *)(intptr_t)k);
		cb_on[bi][k] = 1;
		out("add_cb %d = %s\n", k, cbs[bi][k] ? "ok" : "NULL");
		return;
	}
	switch (below(4)) {
	case 0:
		out("remove_cb_entry %d = %d\n", k,
		    evbuffer_remove_cb_entry(bufs[bi], cbs[bi][k]));
		cbs[bi][k] = NULL;
		break;
	case 1:
		out("remove_cb %d = %d\n", k, evbuffer_remove_cb(bufs[bi],
		    on_change, (void *)(intptr_t)k));
		cbs[bi][k] = NULL;
		break;
	default:
		if (cb_on[bi][k])
			out("cb_clear_flags %d = %d\n", k,
			    evbuffer_cb_clear_flags(bufs[bi], cbs[bi][k],
			    EVBUFFER_CB_ENABLED));
		else
			out("cb_set_flags %d = %d\n", k,
			    evbuffer_cb_set_flags(bufs[bi], cbs[bi][k],
			    EVBUFFER_CB_ENABLED));
		cb_on[bi][k] = !cb_on[bi][k];
	}
}

static void
op_renew(int bi)
{
	int k;

	out("free\n");
	evbuffer_free(bufs[bi]);
	bufs[bi] = evbuffer_new();
	shared[bi] = 0;
	views_of[bi] = 0;
	empty_file[bi] = 0;
	/* The new buffer is not the one others hold views of. */
	for (k = 0; k < NBUF; k++)
		views_of[k] &= ~(1u << bi);
	for (k = 0; k < NCB; k++)
		cbs[bi][k] = NULL;
}

/* Appends part of a temporary file holding ref_pool; the buffer owns and
 * closes the descriptor. File bytes are treated like shared ones. */
static void
op_add_file(int bi)
{
	char name[] = "/tmp/bevrs-diff-XXXXXX";
	int fd = mkstemp(name);
	size_t off = below(REF_POOL);
	ev_off_t len = below(3) ? (ev_off_t)below((uint32_t)(REF_POOL - off))
	    : -1;
	int r;

	if (fd < 0 || write(fd, ref_pool, REF_POOL) != REF_POOL) {
		out("add_file setup failed\n");
		if (fd >= 0)
			close(fd);
		return;
	}
	unlink(name);
	/* 2.1.12 takes the whole file's size for -1 even with an offset
	 * (reading past the end), so -1 goes with offset 0 here. */
	if (len < 0)
		off = 0;
	r = evbuffer_add_file(bufs[bi], fd, (ev_off_t)off, len);
	out("add_file off %zu len %lld = %d\n", off, (long long)len, r);
	/* Even an empty segment leaves a file chain that makes 2.1.12 refuse
	 * later references from this buffer. */
	if (r == 0) {
		shared[bi] = 1;
		if (evbuffer_get_length(bufs[bi]) == 0)
			empty_file[bi] = 1;
	}
}

static void
op_write(struct evbuffer *b)
{
	ev_ssize_t n = below(3) ? (ev_ssize_t)below(9000) : -1;
	int r;

	r = evbuffer_write_atmost(b, sv[0], n);
	out("write_atmost %zd = %d\n", n, r);
}

static void
op_read(struct evbuffer *b)
{
	int n = below(3) ? (int)below(9000) : -1;
	int r;

	errno = 0;
	r = evbuffer_read(b, sv[1], n);
	out("read %d = %d%s\n", n, r,
	    r < 0 && errno == EAGAIN ? " EAGAIN" : "");
}

static void
op_add_iovec(struct evbuffer *b)
{
	struct evbuffer_iovec v[3];
	unsigned char *d[3];
	int i, n = (int)below(4);
	size_t r;

	for (i = 0; i < n; i++) {
		v[i].iov_len = below(2) ? below(20) : rnd_len();
		d[i] = malloc(v[i].iov_len + 1);
		rnd_bytes(d[i], v[i].iov_len);
		v[i].iov_base = d[i];
	}
	out("add_iovec %d", n);
	for (i = 0; i < n; i++)
		out_bytes(d[i], v[i].iov_len);
	out(" = ");
	fflush(stdout);
	r = evbuffer_add_iovec(b, n ? v : NULL, n);
	out("%zu\n", r);
	for (i = 0; i < n; i++)
		free(d[i]);
}

static void
step(void)
{
	int ai = below(NBUF), bi = below(NBUF);
	struct evbuffer *a = bufs[ai], *b = bufs[bi];
	int which = below(112);

	op_no++;
	out("%u b%d ", op_no, ai);
	if (which >= 56 && which < 61 && shared[ai])
		which = 0;
	/* Whether a shared buffer still holds referenced bytes after partial
	 * moves depends on where 2.1.12's chains end: such a buffer is not
	 * referenced again here (ctests/test_evbuffer.c has the rule). */
	if (which >= 34 && which < 37 && shared[bi] && ai != bi)
		which = 0;
	/* Likewise a partial move out of a shared buffer: 2.1.12 moves whole
	 * chains and copies the rest, so which bytes stay referenced (and so
	 * when cleanups run once a referenced buffer is freed) follows its
	 * chain boundaries. */
	if (which >= 37 && which < 41 && shared[ai] && ai != bi)
		which = 0;
	if (which >= 27 && which < 34 && (views_of[bi] & (1u << ai)))
		which = 0;
	if (which < 14)
		op_add(a);
	else if (which < 18)
		op_printf(a);
	else if (which < 23)
		op_prepend(a);
	else if (which < 27)
		op_reference(a);
	else if (which < 31) {
		out("add_buffer b%d = %d\n", bi, evbuffer_add_buffer(a, b));
		shared[ai] |= shared[bi];
		if (ai != bi)
			views_of[ai] |= views_of[bi];
	} else if (which < 34) {
		out("prepend_buffer b%d = %d\n", bi,
		    evbuffer_prepend_buffer(a, b));
		shared[ai] |= shared[bi];
		if (ai != bi)
			views_of[ai] |= views_of[bi];
	} else if (which < 37) {
		int r;

		out("add_buffer_reference b%d = ", bi);
		fflush(stdout);
		r = evbuffer_add_buffer_reference(a, b);
		out("%d\n", r);
		if (r == 0 && evbuffer_get_length(b)) {
			shared[ai] = 1;
			views_of[ai] |= 1u << bi;
		}
	} else if (which < 41) {
		size_t n = below(2) ? below(50) : rnd_len();

		out("remove_buffer b%d %zu = ", bi, n);
		fflush(stdout);
		out("%d\n", evbuffer_remove_buffer(a, b, n));
		shared[bi] |= shared[ai];
		if (ai != bi)
			views_of[bi] |= views_of[ai];
	} else if (which < 46)
		op_remove(a);
	else if (which < 51)
		op_drain(a);
	else if (which < 56)
		op_copyout(a);
	else if (which < 61)
		op_pullup(a);
	else if (which < 70)
		op_readln(a);
	else if (which < 76)
		op_search(a);
	else if (which < 80)
		op_search_eol(a);
	else if (which < 83)
		op_peek(a);
	else if (which < 87)
		op_reserve(a);
	else if (which < 89)
		op_expand(a);
	else if (which < 93)
		op_freeze(a);
	else if (which < 99)
		op_cb(ai);
	else if (which < 100)
		op_renew(ai);
	else if (which < 103)
		op_add_file(ai);
	else if (which < 106)
		op_write(a);
	else if (which < 109)
		op_read(a);
	else
		op_add_iovec(a);
	out_state();
	for (ai = 0; ai < NBUF; ai++) {
		if (evbuffer_get_length(bufs[ai]) != 0) {
			empty_file[ai] = 0;
			continue;
		}
		if (!empty_file[ai])
			shared[ai] = 0;
		views_of[ai] = 0;
	}
}

int
main(int argc, char **argv)
{
	unsigned long long seed;
	unsigned long ops, i;
	int k;

	if (argc < 2) {
		fprintf(stderr, "usage: %s SEED [OPS]\n", argv[0]);
		return 2;
	}
	seed = strtoull(argv[1], NULL, 0);
	ops = argc > 2 ? strtoul(argv[2], NULL, 0) : 300;
	rng = seed * 2654435761ull + 0x9e3779b97f4a7c15ull;
	if (!rng)
		rng = 1;
	for (k = 0; k < REF_POOL; k++)
		ref_pool[k] = (unsigned char)(k % 7 == 0 ? '\n' :
		    k % 13 == 0 ? '\r' : k % 29 == 0 ? 0 : 'A' + k % 26);
	for (k = 0; k < NBUF; k++)
		bufs[k] = evbuffer_new();
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0 ||
	    fcntl(sv[0], F_SETFL, O_NONBLOCK) < 0 ||
	    fcntl(sv[1], F_SETFL, O_NONBLOCK) < 0) {
		perror("socketpair");
		return 1;
	}
	probe = getenv("EVBUFFER_DIFF_PROBE") ?
	    atoi(getenv("EVBUFFER_DIFF_PROBE")) : 0;
	out("seed %llu ops %lu\n", seed, ops);
	for (i = 0; i < ops; i++)
		step();
	out("end\n");
	op_no = 0;	/* a multiple of 8: the full contents once more */
	out_state();
	for (k = 0; k < NBUF; k++) {
		out("free b%d\n", k);
		evbuffer_free(bufs[k]);
	}
	return 0;
}
