/*
 * A deliberate difference from 2.1.12 (DESIGN.md section 3): a TLS
 * socket variant with allow_dirty_shutdown whose peer closes without
 * close_notify reports EOF|READING, as the documentation of
 * bufferevent_openssl_set_allow_dirty_shutdown promises. With OpenSSL 3,
 * 2.1.12 reports ERROR|READING instead: OpenSSL 3 calls such a close a
 * protocol error ("unexpected eof while reading"), where 1.1 reported
 * SSL_ERROR_SYSCALL with an empty error queue, the only form 2.1.12
 * recognises. Its filter variant already says EOF for the same peer (see
 * test_ssl_more.c). Every byte sent before the close still arrives first.
 */
#include <signal.h>

#include "ssl_world.h"

static void
dirty_close_allowed(void)
{
	dirty_close(0, 1);
}

static const struct check_case cases[] = {
	{ "dirty_close_allowed", dirty_close_allowed },
	{ NULL, NULL },
};

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	return check_main(cases, argc, argv);
}
