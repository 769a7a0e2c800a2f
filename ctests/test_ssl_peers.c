/*
 * OpenSSL bufferevents against real peers: the openssl command-line
 * program (Debian package openssl), started by the test on 127.0.0.1.
 * Our client talks to `openssl s_server`, our server to `openssl
 * s_client`, in TLS 1.2 and TLS 1.3; each side verifies the other's
 * certificate (a CA and a leaf for localhost made when the test runs and
 * written to a private temporary directory). Data goes both ways through
 * the program's stdin and stdout and is checked byte for byte, then
 * closing the program's stdin makes it close the connection with
 * close_notify, which our end reports as EOF|READING. The program
 * missing is a failure, not a skip. Only the pid the test started is
 * ever signalled.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <event2/listener.h>

#include "ssl_world.h"

/* Bytes each way: well past one TLS record and one pipe buffer. */
#define PEER_BYTES 200000

/* A full path to the openssl program from PATH, or NULL. */
static const char *
find_openssl(void)
{
	static char path[4096];
	const char *dirs = getenv("PATH");
	const char *p, *colon;
	size_t n;

	if (!dirs)
		dirs = "/usr/local/bin:/usr/bin:/bin";
	for (p = dirs; *p; p = colon + 1) {
		colon = strchr(p, ':');
		if (!colon)
			colon = p + strlen(p);
		n = (size_t)(colon - p);
		if (n > 0 && n + sizeof("/openssl") < sizeof(path)) {
			memcpy(path, p, n);
			memcpy(path + n, "/openssl", sizeof("/openssl"));
			if (access(path, X_OK) == 0)
				return path;
		}
		if (!*colon)
			break;
	}
	return NULL;
}

/* A child program with its stdin and stdout on pipes run by the loop. */
struct proc {
	pid_t pid;
	int in;
	int out;
	int close_in;
	int out_eof;
	struct evbuffer *to;
	struct evbuffer *from;
	struct event *in_ev;
	struct event *out_ev;
};

static void
proc_writable(evutil_socket_t fd, short what, void *arg)
{
	struct proc *p = arg;

	(void)what;
	if (evbuffer_get_length(p->to) > 0 && evbuffer_write(p->to, fd) < 0 &&
	    errno != EAGAIN) {
		/* The program went away; reading its stdout tells the rest. */
		evbuffer_drain(p->to, evbuffer_get_length(p->to));
	}
	if (evbuffer_get_length(p->to) == 0) {
		event_del(p->in_ev);
		if (p->close_in && p->in >= 0) {
			close(p->in);
			p->in = -1;
		}
	}
}

static void
proc_readable(evutil_socket_t fd, short what, void *arg)
{
	struct proc *p = arg;
	int n;

	(void)what;
	while ((n = evbuffer_read(p->from, fd, 65536)) > 0)
		continue;
	if (n == 0) {
		p->out_eof = 1;
		event_del(p->out_ev);
	}
}

/* Queues data for the program's stdin. */
static void
proc_send(struct proc *p, const void *data, size_t len)
{
	evbuffer_add(p->to, data, len);
	event_add(p->in_ev, NULL);
}

/* Closes the program's stdin once what was queued has been written. */
static void
proc_close_stdin(struct proc *p)
{
	p->close_in = 1;
	event_add(p->in_ev, NULL);
}

/*
 * Starts argv[0] (a full path) with stdin and stdout on pipes and stderr
 * to errlog. 0 on success.
 */
static int
proc_start(struct proc *p, struct event_base *base, char **argv,
    const char *errlog)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 };
	int err;

	memset(p, 0, sizeof(*p));
	p->pid = -1;
	p->in = p->out = -1;
	p->to = evbuffer_new();
	p->from = evbuffer_new();
	if (!p->to || !p->from)
		return -1;
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
		goto fail;
	p->pid = fork();
	if (p->pid < 0)
		goto fail;
	if (p->pid == 0) {
		err = open(errlog, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 || err < 0 ||
		    dup2(err, 2) < 0)
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	p->in = in[1];
	p->out = out[0];
	evutil_make_socket_nonblocking(p->in);
	evutil_make_socket_nonblocking(p->out);
	p->in_ev = event_new(base, p->in, EV_WRITE | EV_PERSIST,
	    proc_writable, p);
	p->out_ev = event_new(base, p->out, EV_READ | EV_PERSIST,
	    proc_readable, p);
	if (!p->in_ev || !p->out_ev)
		return -1;
	event_add(p->out_ev, NULL);
	return 0;
fail:
	if (in[0] >= 0) {
		close(in[0]);
		close(in[1]);
	}
	if (out[0] >= 0) {
		close(out[0]);
		close(out[1]);
	}
	return -1;
}

/*
 * Waits up to a few seconds for the program to exit; then (only then)
 * terminates it. Returns its exit status, or -1 if it had to be killed.
 */
static int
proc_wait(struct proc *p)
{
	long long deadline = check_now_ms() + 5000LL * check_time_scale();
	int status = 0;
	pid_t r;

	if (p->pid <= 0)
		return -1;
	while ((r = waitpid(p->pid, &status, WNOHANG)) == 0 &&
	    check_now_ms() < deadline)
		usleep(10000);
	if (r == 0) {
		kill(p->pid, SIGTERM);
		waitpid(p->pid, &status, 0);
		p->pid = -1;
		return -1;
	}
	p->pid = -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void
proc_free(struct proc *p)
{
	if (p->pid > 0)
		proc_wait(p);
	if (p->in_ev)
		event_free(p->in_ev);
	if (p->out_ev)
		event_free(p->out_ev);
	if (p->in >= 0)
		close(p->in);
	if (p->out >= 0)
		close(p->out);
	if (p->to)
		evbuffer_free(p->to);
	if (p->from)
		evbuffer_free(p->from);
	memset(p, 0, sizeof(*p));
	p->pid = -1;
	p->in = p->out = -1;
}

/* Prints what the program said on stderr (after a failure). */
static void
show_log(const char *path)
{
	char line[512];
	FILE *f = fopen(path, "r");

	if (!f)
		return;
	fprintf(stderr, "--- %s\n", path);
	while (fgets(line, sizeof(line), f))
		fputs(line, stderr);
	fclose(f);
}

/* A private directory with ca.pem, leaf.pem and key.pem. */
struct files {
	char dir[64];
	char ca[96];
	char leaf[96];
	char key[96];
	char log[96];
};

static int
files_make(struct files *f, struct world *w)
{
	strcpy(f->dir, "/tmp/bevrs-tls-XXXXXX");
	if (!mkdtemp(f->dir)) {
		f->dir[0] = '\0';
		return -1;
	}
	snprintf(f->ca, sizeof(f->ca), "%s/ca.pem", f->dir);
	snprintf(f->leaf, sizeof(f->leaf), "%s/leaf.pem", f->dir);
	snprintf(f->key, sizeof(f->key), "%s/key.pem", f->dir);
	snprintf(f->log, sizeof(f->log), "%s/stderr.log", f->dir);
	if (certkey_write_pem(&w->ca, f->ca, NULL) < 0 ||
	    certkey_write_pem(&w->leaf, f->leaf, f->key) < 0)
		return -1;
	return 0;
}

static void
files_remove(struct files *f)
{
	if (!f->dir[0])
		return;
	unlink(f->ca);
	unlink(f->leaf);
	unlink(f->key);
	unlink(f->log);
	rmdir(f->dir);
}

/* A loopback port that was free a moment ago (for s_server). */
static int
free_port(void)
{
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	if (fd < 0)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &slen) == 0)
		port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

/*
 * A socket connected to 127.0.0.1:port, retrying while nothing listens
 * yet (the program is starting); -1 after a few seconds.
 */
static int
connect_when_listening(int port)
{
	long long deadline = check_now_ms() + 5000LL * check_time_scale();
	struct sockaddr_in sin;
	int fd;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((unsigned short)port);
	while (check_now_ms() < deadline) {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -1;
		if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0) {
			evutil_make_socket_nonblocking(fd);
			return fd;
		}
		close(fd);
		if (errno != ECONNREFUSED)
			return -1;
		usleep(20000);
	}
	return -1;
}

/* Fails the case unless buf holds exactly len bytes of the pattern. */
#define CHECK_PATTERN(buf, len)						\
	do {								\
		check_int(evbuffer_get_length(buf), ==, (len));		\
		check_int(first_wrong(buf), ==, -1);			\
	} while (0)

/*
 * Our client (socket variant, verifying the server's certificate and
 * name) against `openssl s_server` pinned to one version.
 */
static void
client_vs_s_server(int version)
{
	struct world w;
	struct files f;
	struct proc p;
	const char *openssl = find_openssl();
	char portarg[32];
	char *argv[16];
	unsigned char *data = malloc(PEER_BYTES);
	SSL *ssl = NULL;
	int port, fd, argc = 0;

	memset(&f, 0, sizeof(f));
	memset(&p, 0, sizeof(p));
	p.pid = -1;
	p.in = p.out = -1;
	check_int(world_init(&w), ==, 0);
	check(data != NULL);
	if (!openssl)
		check_fail("the openssl program is not in PATH: install the "
		    "Debian package openssl");
	check_int(files_make(&f, &w), ==, 0);
	port = free_port();
	check_int(port, >, 0);
	snprintf(portarg, sizeof(portarg), "127.0.0.1:%d", port);
	argv[argc++] = (char *)openssl;
	argv[argc++] = "s_server";
	argv[argc++] = "-accept";
	argv[argc++] = portarg;
	argv[argc++] = "-cert";
	argv[argc++] = f.leaf;
	argv[argc++] = "-key";
	argv[argc++] = f.key;
	argv[argc++] = "-naccept";
	argv[argc++] = "1";
	argv[argc++] = "-quiet";
	argv[argc++] = version == TLS1_2_VERSION ? "-tls1_2" : "-tls1_3";
	argv[argc] = NULL;
	check_int(proc_start(&p, w.base, argv, f.log), ==, 0);

	fd = connect_when_listening(port);
	check_int(fd, >=, 0);
	ssl = SSL_new(w.cctx);
	check(ssl != NULL);
	check_int(SSL_set1_host(ssl, "localhost"), ==, 1);
	w.cli.bev = bufferevent_openssl_socket_new(w.base, fd, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	ssl = NULL;
	check(w.cli.bev != NULL);
	hook(&w.cli);
	fill(data, PEER_BYTES, 0);
	check_int(bufferevent_write(w.cli.bev, data, PEER_BYTES), ==, 0);
	proc_send(&p, data, PEER_BYTES);
	RUN_UNTIL(w.base, (evbuffer_get_length(p.from) >= PEER_BYTES &&
	    evbuffer_get_length(w.cli.got) >= PEER_BYTES) ||
	    (w.cli.what & ~BEV_EVENT_CONNECTED) || p.out_eof);
	check_int(w.cli.first, ==, BEV_EVENT_CONNECTED);
	check_int(w.cli.what, ==, BEV_EVENT_CONNECTED);
	check_int(SSL_version(bufferevent_openssl_get_ssl(w.cli.bev)), ==,
	    version);
	check_int(SSL_get_verify_result(bufferevent_openssl_get_ssl(
	    w.cli.bev)), ==, X509_V_OK);
	CHECK_PATTERN(p.from, PEER_BYTES);
	CHECK_PATTERN(w.cli.got, PEER_BYTES);

	/* At the end of its stdin s_server shuts the connection down. */
	proc_close_stdin(&p);
	RUN_UNTIL(w.base, w.cli.events > 1);
	check_int(w.cli.events, ==, 2);
	check_int(w.cli.what, ==, BEV_EVENT_CONNECTED | BEV_EVENT_EOF |
	    BEV_EVENT_READING);
	check_int(w.cli.got_at_event, ==, PEER_BYTES);
	check_int(proc_wait(&p), ==, 0);
end:
	if (check_failed_)
		show_log(f.log);
	SSL_free(ssl);
	free(data);
	proc_free(&p);
	files_remove(&f);
	world_free(&w);
}

static void
client_vs_s_server_tls12(void)
{
	client_vs_s_server(TLS1_2_VERSION);
}

static void
client_vs_s_server_tls13(void)
{
	client_vs_s_server(TLS1_3_VERSION);
}

/* The listener's callback: our TLS server on the new connection. */
static void
accept_tls(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int len, void *arg)
{
	struct world *w = arg;

	(void)l;
	(void)sa;
	(void)len;
	if (w->srv.bev) {
		close(fd);
		return;
	}
	w->srv.bev = bufferevent_openssl_socket_new(w->base, fd,
	    SSL_new(w->sctx), BUFFEREVENT_SSL_ACCEPTING,
	    BEV_OPT_CLOSE_ON_FREE);
	if (w->srv.bev)
		hook(&w->srv);
}

/*
 * Our server (socket variant, made by a listener's callback) against
 * `openssl s_client` pinned to one version, which verifies our
 * certificate against the CA and the name localhost.
 */
static void
server_vs_s_client(int version)
{
	struct world w;
	struct files f;
	struct proc p;
	struct evconnlistener *l = NULL;
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	const char *openssl = find_openssl();
	char portarg[32];
	char *argv[20];
	unsigned char *data = malloc(PEER_BYTES);
	int argc = 0;

	memset(&f, 0, sizeof(f));
	memset(&p, 0, sizeof(p));
	p.pid = -1;
	p.in = p.out = -1;
	check_int(world_init(&w), ==, 0);
	check(data != NULL);
	if (!openssl)
		check_fail("the openssl program is not in PATH: install the "
		    "Debian package openssl");
	check_int(files_make(&f, &w), ==, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = evconnlistener_new_bind(w.base, accept_tls, &w,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1,
	    (struct sockaddr *)&sin, sizeof(sin));
	check(l != NULL);
	check_int(getsockname(evconnlistener_get_fd(l),
	    (struct sockaddr *)&sin, &slen), ==, 0);
	snprintf(portarg, sizeof(portarg), "127.0.0.1:%d",
	    ntohs(sin.sin_port));
	argv[argc++] = (char *)openssl;
	argv[argc++] = "s_client";
	argv[argc++] = "-connect";
	argv[argc++] = portarg;
	argv[argc++] = "-CAfile";
	argv[argc++] = f.ca;
	argv[argc++] = "-verify_return_error";
	argv[argc++] = "-verify_hostname";
	argv[argc++] = "localhost";
	/* Data only on stdout; the end of stdin ends the session. */
	argv[argc++] = "-quiet";
	argv[argc++] = "-no_ign_eof";
	argv[argc++] = "-nocommands";
	argv[argc++] = version == TLS1_2_VERSION ? "-tls1_2" : "-tls1_3";
	argv[argc] = NULL;
	check_int(proc_start(&p, w.base, argv, f.log), ==, 0);

	fill(data, PEER_BYTES, 0);
	proc_send(&p, data, PEER_BYTES);
	RUN_UNTIL(w.base, w.srv.events || p.out_eof);
	check(w.srv.bev != NULL);
	check_int(w.srv.what, ==, BEV_EVENT_CONNECTED);
	check_int(SSL_version(bufferevent_openssl_get_ssl(w.srv.bev)), ==,
	    version);
	check_int(bufferevent_write(w.srv.bev, data, PEER_BYTES), ==, 0);
	RUN_UNTIL(w.base, (evbuffer_get_length(p.from) >= PEER_BYTES &&
	    evbuffer_get_length(w.srv.got) >= PEER_BYTES) ||
	    (w.srv.what & ~BEV_EVENT_CONNECTED) || p.out_eof);
	check_int(w.srv.what, ==, BEV_EVENT_CONNECTED);
	CHECK_PATTERN(w.srv.got, PEER_BYTES);
	CHECK_PATTERN(p.from, PEER_BYTES);

	/* At the end of its stdin s_client sends close_notify and exits. */
	proc_close_stdin(&p);
	RUN_UNTIL(w.base, w.srv.events > 1);
	check_int(w.srv.events, ==, 2);
	check_int(w.srv.what, ==, BEV_EVENT_CONNECTED | BEV_EVENT_EOF |
	    BEV_EVENT_READING);
	check_int(w.srv.got_at_event, ==, PEER_BYTES);
	check_int(proc_wait(&p), ==, 0);
end:
	if (check_failed_)
		show_log(f.log);
	free(data);
	proc_free(&p);
	if (l)
		evconnlistener_free(l);
	files_remove(&f);
	world_free(&w);
}

static void
server_vs_s_client_tls12(void)
{
	server_vs_s_client(TLS1_2_VERSION);
}

static void
server_vs_s_client_tls13(void)
{
	server_vs_s_client(TLS1_3_VERSION);
}

static const struct check_case cases[] = {
	{ "client_vs_s_server_tls12", client_vs_s_server_tls12 },
	{ "client_vs_s_server_tls13", client_vs_s_server_tls13 },
	{ "server_vs_s_client_tls12", server_vs_s_client_tls12 },
	{ "server_vs_s_client_tls13", server_vs_s_client_tls13 },
	{ NULL, NULL },
};

int
main(int argc, char **argv)
{
	/* A peer that closed must show as an error, not kill the test. */
	signal(SIGPIPE, SIG_IGN);
	return check_main(cases, argc, argv);
}
