/*
 * The variadic entry points, which stable Rust cannot define. They format
 * with the C library and hand the bytes to the library's ordinary entries,
 * so freezing, callbacks and limits apply exactly as for evbuffer_add.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

struct evbuffer;
int evbuffer_add(struct evbuffer *buf, const void *data, size_t len);
int evbuffer_add_vprintf(struct evbuffer *buf, const char *fmt, va_list ap);
int evbuffer_add_printf(struct evbuffer *buf, const char *fmt, ...);
int evutil_vsnprintf(char *buf, size_t buflen, const char *format, va_list ap);
int evutil_snprintf(char *buf, size_t buflen, const char *format, ...);

int
evbuffer_add_vprintf(struct evbuffer *buf, const char *fmt, va_list ap)
{
	char small[256];
	char *text = small;
	va_list again;
	int len;

	if (buf == NULL || fmt == NULL)
		return -1;
	va_copy(again, ap);
	len = vsnprintf(small, sizeof(small), fmt, ap);
	if (len < 0) {
		va_end(again);
		return -1;
	}
	if ((size_t)len >= sizeof(small)) {
		/* Too long for the stack: format again into the heap. */
		text = malloc((size_t)len + 1);
		if (text == NULL) {
			va_end(again);
			return -1;
		}
		vsnprintf(text, (size_t)len + 1, fmt, again);
	}
	va_end(again);
	if (evbuffer_add(buf, text, (size_t)len) < 0)
		len = -1;
	if (text != small)
		free(text);
	return len;
}

int
evbuffer_add_printf(struct evbuffer *buf, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = evbuffer_add_vprintf(buf, fmt, ap);
	va_end(ap);
	return r;
}

int
evutil_vsnprintf(char *buf, size_t buflen, const char *format, va_list ap)
{
	int r;

	if (buflen == 0)
		return 0;
	r = vsnprintf(buf, buflen, format, ap);
	/* The result is always terminated, even when it was cut short. */
	buf[buflen - 1] = '\0';
	return r;
}

int
evutil_snprintf(char *buf, size_t buflen, const char *format, ...)
{
	va_list ap;
	int r;

	va_start(ap, format);
	r = evutil_vsnprintf(buf, buflen, format, ap);
	va_end(ap);
	return r;
}
