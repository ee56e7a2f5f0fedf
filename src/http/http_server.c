/*
 * http_server.c - the HTTP/1.1 server over libmicrohttpd.
 *
 * Each request gets a `struct http_req` created in the URI-log callback (the only place the
 * raw request-target, query included, is visible before libmicrohttpd parses it) and freed in
 * the completion callback. The body is collected up to the limit; past it the rest is read and
 * discarded so the connection stays usable, and the handler is told (body_too_large) so the
 * protocol layer can answer with a proper error.
 *
 * Connections are accepted by a thread of our own and handed to the pool with
 * MHD_add_connection, which spreads them over the workers. libmicrohttpd's own accept lets one
 * worker take a burst of up to ten connections at once, so 8 clients that connect together
 * ended on 3 of 16 workers; a handler that blocks (a durable append waits for its sync) then
 * stalls the other connections of its worker.
 */
#include "trailstream/ts_http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct ts_http_server {
    struct MHD_Daemon *daemon;
    struct ts_http_server_opts opts;
    int port;
    atomic_uint in_flight;
    int listen_fd;
    int stop_pipe[2];      /* written once to stop the accept thread */
    pthread_t acceptor;
    bool acceptor_running;
};

/* Per connection: the request whose context uri_cb created and completed_cb has not freed
 * yet. libmicrohttpd does not call the completion callback when it gives up on a request
 * before the access handler ran (e.g. a request line that fills the connection's memory pool:
 * no answer, the connection just closes), so the connection-closed notification frees what
 * is left; otherwise each such request leaks its context and stays counted in flight. */
struct http_conn {
    struct http_req *pending;
};

struct http_req {
    struct http_conn *conn; /* NULL when libmicrohttpd gave no socket context */
    char *uri;
    struct ts_buf body;
    bool too_large;
    bool ascii;   /* no body byte so far is >= 0x80 */
    bool started; /* the access handler has seen the headers */
    bool counted;
    uint64_t start_ns;
};

static void req_free(struct ts_http_server *s, struct http_req *r)
{
    if (r->counted) {
        unsigned left = atomic_fetch_sub(&s->in_flight, 1) - 1;
        ts_metric_set("ts_http_requests_in_flight", "", (double)left);
    }
    if (r->conn && r->conn->pending == r) {
        r->conn->pending = NULL;
    }
    ts_buf_free(&r->body);
    ts_free(r->uri);
    ts_free(r);
}

static void conn_cb(void *cls, struct MHD_Connection *con, void **socket_context,
                    enum MHD_ConnectionNotificationCode code)
{
    struct ts_http_server *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        *socket_context = ts_calloc(1, sizeof(struct http_conn));
        return;
    }
    struct http_conn *hc = *socket_context;
    if (hc) {
        if (hc->pending) {
            req_free(s, hc->pending);
        }
        ts_free(hc);
        *socket_context = NULL;
    }
}

static void *uri_cb(void *cls, const char *uri, struct MHD_Connection *con)
{
    struct ts_http_server *s = cls;
    struct http_req *r = ts_calloc(1, sizeof(*r));
    if (!r) {
        return NULL;
    }
    r->uri = ts_strdup(uri);
    r->ascii = true;
    ts_buf_init(&r->body, s->opts.max_body_bytes);
    r->start_ns = ts_mono_ns();
    r->counted = true;
    unsigned now = atomic_fetch_add(&s->in_flight, 1) + 1;
    ts_metric_set("ts_http_requests_in_flight", "", (double)now);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(con, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    r->conn = ci ? ci->socket_context : NULL;
    if (r->conn) {
        if (r->conn->pending) {
            req_free(s, r->conn->pending); /* an orphan of an earlier request */
        }
        r->conn->pending = r;
    }
    return r;
}

/* Keeps every escape as received: SigV4 needs the raw bytes, and the aws layer decodes. */
static size_t unescape_cb(void *cls, struct MHD_Connection *c, char *s)
{
    return strlen(s);
}

static void completed_cb(void *cls, struct MHD_Connection *con, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct ts_http_server *s = cls;
    struct http_req *r = *con_cls;
    if (!r) {
        return;
    }
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK) {
        ts_metric_add("ts_http_requests_aborted_total", "", 1);
    }
    req_free(s, r);
    *con_cls = NULL;
}

struct header_collect {
    struct ts_http_header *items;
    size_t n, cap;
    bool oom;
};

static enum MHD_Result header_iter(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    struct header_collect *hc = cls;
    if (hc->n == hc->cap) {
        size_t cap = hc->cap ? hc->cap * 2 : 16;
        struct ts_http_header *items = ts_realloc(hc->items, cap * sizeof(*items));
        if (!items) {
            hc->oom = true;
            return MHD_NO;
        }
        hc->items = items;
        hc->cap = cap;
    }
    /* Names and values stay owned by libmicrohttpd for the life of the request. */
    hc->items[hc->n].name = (char *)key;
    hc->items[hc->n].value = (char *)(value ? value : "");
    hc->n++;
    return MHD_YES;
}

static enum MHD_Result send_plain(struct MHD_Connection *con, unsigned status, const char *text)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(text), (void *)text,
                                                                MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "text/plain");
    enum MHD_Result ret = MHD_queue_response(con, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result dispatch(struct ts_http_server *s, struct MHD_Connection *con,
                                struct http_req *r, const char *method)
{
    struct header_collect hc = {0};
    MHD_get_connection_values(con, MHD_HEADER_KIND, header_iter, &hc);
    if (hc.oom) {
        ts_free(hc.items);
        return send_plain(con, 503, "out of memory\n");
    }
    char path[8192];
    const char *q = strchr(r->uri, '?');
    size_t plen = q ? (size_t)(q - r->uri) : strlen(r->uri);
    if (plen >= sizeof(path)) {
        ts_free(hc.items);
        return send_plain(con, 414, "request-target too long\n");
    }
    memcpy(path, r->uri, plen);
    path[plen] = '\0';

    char addr[INET6_ADDRSTRLEN] = "";
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(con, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        if (ci->client_addr->sa_family == AF_INET) {
            inet_ntop(AF_INET, &((const struct sockaddr_in *)ci->client_addr)->sin_addr, addr,
                      sizeof(addr));
        } else if (ci->client_addr->sa_family == AF_INET6) {
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ci->client_addr)->sin6_addr, addr,
                      sizeof(addr));
        }
    }

    struct ts_http_request req = {
        .method = method,
        .uri = r->uri,
        .path = path,
        .query = q ? q + 1 : "",
        .headers = hc.items,
        .n_headers = hc.n,
        .body = (const uint8_t *)(r->body.data ? r->body.data : ""),
        .body_len = r->body.len,
        .body_too_large = r->too_large,
        .body_ascii = r->ascii && !r->too_large,
        .remote_addr = addr,
    };
    struct ts_http_response resp;
    ts_http_response_init(&resp, (size_t)64 << 20);
    s->opts.handler(s->opts.handler_ctx, &req, &resp);
    ts_free(hc.items);

    size_t out_len = 0;
    char *out = ts_buf_take(&resp.body, &out_len);
    struct MHD_Response *mr = out ? MHD_create_response_from_buffer_with_free_callback(
                                        out_len, out, ts_free)
                                  : NULL;
    if (!mr) {
        ts_free(out);
        ts_http_response_free(&resp);
        return send_plain(con, 503, "out of memory\n");
    }
    for (size_t i = 0; i < resp.n_headers; i++) {
        MHD_add_response_header(mr, resp.headers[i].name, resp.headers[i].value);
    }
    ts_metric_add("ts_http_request_bytes_total", "", (double)(r->body.len));
    ts_metric_add("ts_http_response_bytes_total", "", (double)out_len);
    enum MHD_Result ret = MHD_queue_response(con, (unsigned)resp.status, mr);
    MHD_destroy_response(mr);
    ts_http_response_free(&resp);
    return ret;
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *con, const char *url,
                                 const char *method, const char *version,
                                 const char *upload_data, size_t *upload_data_size,
                                 void **con_cls)
{
    struct ts_http_server *s = cls;
    struct http_req *r = *con_cls;
    if (!r) {
        /* The URI callback could not allocate: refuse cleanly. */
        return send_plain(con, 503, "out of memory\n");
    }
    if (*upload_data_size) {
        /* Checked here, while the chunk is still in the cache: a body that is all ASCII needs
         * no UTF-8 pass later. */
        if (r->ascii && !r->too_large &&
            ts_ascii_prefix(upload_data, *upload_data_size) != *upload_data_size) {
            r->ascii = false;
        }
        if (!r->too_large &&
            ts_buf_add(&r->body, upload_data, *upload_data_size) != 0) {
            /* Over the limit (or out of memory): drop what we have and discard the rest of
             * the body so that the connection stays in sync for keep-alive. */
            r->too_large = true;
            ts_buf_free(&r->body);
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (!r->started) {
        /* First call: headers only. A declared length past the limit is answered at once
         * without reading the body; libmicrohttpd then closes the connection. */
        r->started = true;
        const char *cl = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Content-Length");
        int64_t n;
        if (cl && ts_parse_i64(cl, &n) == 0 && n > (int64_t)s->opts.max_body_bytes) {
            r->too_large = true;
            return dispatch(s, con, r, method);
        }
        /* Size the body buffer once: growing a megabyte body by doubling would copy it
         * again and again. A failed reservation just leaves the buffer to grow. */
        if (cl && ts_parse_i64(cl, &n) == 0 && n > 0) {
            (void)ts_buf_reserve(&r->body, (size_t)n);
        }
        return MHD_YES;
    }
    return dispatch(s, con, r, method);
}

/* The accept thread: while the server holds fewer than max_connections connections, accept
 * and hand over; at the limit, leave new connections waiting in the listen backlog. */
static void *accept_main(void *arg)
{
    struct ts_http_server *s = arg;
    for (;;) {
        struct pollfd pf[2] = {{s->stop_pipe[0], POLLIN, 0}, {s->listen_fd, POLLIN, 0}};
        int pr = poll(pf, 2, -1);
        if (pr < 0 && errno != EINTR) {
            break;
        }
        if (pr > 0 && pf[0].revents) {
            break;
        }
        if (pr <= 0 || !pf[1].revents) {
            continue;
        }
        /* A connection is waiting. At the limit (or short of descriptors) it stays in the
         * backlog: look again in 20 ms, or stop. */
        const union MHD_DaemonInfo *di =
            MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        int c = -1;
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        if (!di || di->num_connections < s->opts.max_connections) {
            c = accept4(s->listen_fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        }
        if (c >= 0) {
            /* libmicrohttpd closes the socket itself if it cannot take it. */
            (void)MHD_add_connection(s->daemon, c, (const struct sockaddr *)&ss, sl);
        } else if (!di || di->num_connections >= s->opts.max_connections || errno == EMFILE ||
                   errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            struct pollfd w = {s->stop_pipe[0], POLLIN, 0};
            if (poll(&w, 1, 20) > 0) {
                break;
            }
        }
    }
    return NULL;
}

static void listen_close(struct ts_http_server *s)
{
    if (s->listen_fd >= 0) {
        close(s->listen_fd);
        s->listen_fd = -1;
    }
    for (int i = 0; i < 2; i++) {
        if (s->stop_pipe[i] >= 0) {
            close(s->stop_pipe[i]);
            s->stop_pipe[i] = -1;
        }
    }
}

/* Stops the accept thread and closes the listening socket: new connections are refused. */
static void accept_stop(struct ts_http_server *s)
{
    if (s->acceptor_running) {
        ssize_t w;
        do {
            w = write(s->stop_pipe[1], "x", 1);
        } while (w < 0 && errno == EINTR);
        pthread_join(s->acceptor, NULL);
        s->acceptor_running = false;
    }
    listen_close(s);
}

/* Creates the stop pipe and the listening socket on ss (len bytes), and sets s->port.
 * Returns 0 or a negative errno (the caller closes what was opened). */
static int listen_open(struct ts_http_server *s, const struct sockaddr_storage *ss, socklen_t len)
{
    if (pipe2(s->stop_pipe, O_CLOEXEC) < 0) {
        return -errno;
    }
    s->listen_fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s->listen_fd < 0) {
        return -errno;
    }
    int one = 1;
    if (setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        (ss->ss_family == AF_INET6 &&
         setsockopt(s->listen_fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
        bind(s->listen_fd, (const struct sockaddr *)ss, len) < 0 ||
        listen(s->listen_fd, SOMAXCONN) < 0) {
        return -errno;
    }
    struct sockaddr_storage bound;
    socklen_t bl = sizeof(bound);
    if (getsockname(s->listen_fd, (struct sockaddr *)&bound, &bl) < 0) {
        return -errno;
    }
    s->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                : ((struct sockaddr_in *)&bound)->sin_port);
    return 0;
}

int ts_http_server_start(const struct ts_http_server_opts *opts, struct ts_http_server **out)
{
    struct ts_http_server *s = ts_calloc(1, sizeof(*s));
    if (!s) {
        return TS_ENOMEM;
    }
    s->opts = *opts;
    if (!s->opts.max_connections) {
        s->opts.max_connections = 1024;
    }
    s->listen_fd = -1;
    s->stop_pipe[0] = s->stop_pipe[1] = -1;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t ss_len = sizeof(struct sockaddr_in);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_USE_EPOLL |
                     MHD_USE_NO_LISTEN_SOCKET;
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, opts->host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)opts->port);
    } else if (inet_pton(AF_INET6, opts->host, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)opts->port);
        ss_len = sizeof(struct sockaddr_in6);
        flags |= MHD_USE_IPv6;
    } else {
        ts_free(s);
        return TS_EINVAL;
    }
    int rc = listen_open(s, &ss, ss_len);
    if (rc) {
        listen_close(s);
        ts_free(s);
        return rc;
    }
    s->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, access_cb, s,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(opts->threads ? opts->threads : 1),
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)opts->idle_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)opts->max_header_bytes,
        MHD_OPTION_CONNECTION_LIMIT, s->opts.max_connections,
        MHD_OPTION_URI_LOG_CALLBACK, uri_cb, s, MHD_OPTION_UNESCAPE_CALLBACK, unescape_cb, s,
        MHD_OPTION_NOTIFY_COMPLETED, completed_cb, s, MHD_OPTION_NOTIFY_CONNECTION, conn_cb, s,
        MHD_OPTION_END);
    if (!s->daemon) {
        int err = errno ? -errno : TS_EIO;
        listen_close(s);
        ts_free(s);
        return err;
    }
    rc = pthread_create(&s->acceptor, NULL, accept_main, s);
    if (rc) {
        MHD_stop_daemon(s->daemon);
        listen_close(s);
        ts_free(s);
        return -rc;
    }
    s->acceptor_running = true;
    *out = s;
    return 0;
}

int ts_http_server_port(const struct ts_http_server *s)
{
    return s->port;
}

unsigned ts_http_server_in_flight(const struct ts_http_server *s)
{
    return atomic_load(&((struct ts_http_server *)s)->in_flight);
}

void ts_http_server_stop(struct ts_http_server *s, int grace_ms)
{
    if (!s) {
        return;
    }
    /* Stop accepting first; connections already open keep being served until the in-flight
     * requests complete or the grace period ends. */
    accept_stop(s);
    uint64_t deadline = ts_mono_ns() + (uint64_t)grace_ms * 1000000ull;
    while (atomic_load(&s->in_flight) > 0 && ts_mono_ns() < deadline) {
        struct timespec ts = {0, 5 * 1000000L};
        nanosleep(&ts, NULL);
    }
    MHD_stop_daemon(s->daemon);
    ts_free(s);
}
