/*
 * ts_http.h - the HTTP/1.1 server (over libmicrohttpd): keep-alive, a thread pool, request
 * body and header limits, idle timeouts and a graceful stop. It hands complete requests (raw
 * request-target, headers in arrival order, whole body) to one handler and knows nothing of
 * AWS; the aws layer turns them into operations.
 */
#ifndef TS_HTTP_H
#define TS_HTTP_H

#include "trailstream/ts_core.h"

struct ts_http_header {
    char *name;
    char *value;
};

struct ts_http_request {
    const char *method;
    const char *uri;   /* raw request-target exactly as received: path plus "?query" */
    const char *path;  /* raw (still percent-encoded) path, without the query */
    const char *query; /* raw query string without the '?', "" when absent */
    const struct ts_http_header *headers; /* in arrival order, duplicates kept */
    size_t n_headers;
    const uint8_t *body;
    size_t body_len;
    bool body_too_large; /* the body exceeded the limit and was discarded */
    bool body_ascii;     /* every body byte is below 0x80 (checked as it arrived), so the body
                            is valid UTF-8 without another pass */
    const char *remote_addr;
};

#define TS_HTTP_MAX_RESPONSE_HEADERS 24

struct ts_http_response {
    int status;
    struct ts_http_header headers[TS_HTTP_MAX_RESPONSE_HEADERS];
    size_t n_headers;
    struct ts_buf body;
};

/* Returns the first value of the header `name` (case-insensitive), or NULL. */
const char *ts_http_header_get(const struct ts_http_request *req, const char *name);
/* Counts how many times the header appears. */
size_t ts_http_header_count(const struct ts_http_request *req, const char *name);
/* Initialises a response with status 200, no headers and a body capped at `max_body`. */
void ts_http_response_init(struct ts_http_response *resp, size_t max_body);
void ts_http_response_free(struct ts_http_response *resp);
/* Copies name and value into the response. Returns 0, TS_ETOOBIG or TS_ENOMEM. */
int ts_http_response_set_header(struct ts_http_response *resp, const char *name,
                                const char *value);

/* Called on a pool thread for every complete request; must fill resp. It may block (e.g. for
 * a durable append); other connections of that thread wait meanwhile. */
typedef void (*ts_http_handler_fn)(void *ctx, const struct ts_http_request *req,
                                   struct ts_http_response *resp);

struct ts_http_server_opts {
    const char *host;          /* numeric IPv4 or IPv6 address to bind */
    int port;                  /* 0 picks a free port */
    unsigned threads;          /* pool threads */
    size_t max_body_bytes;     /* larger bodies are discarded and flagged body_too_large */
    size_t max_header_bytes;   /* request line + headers; beyond it the server answers 431 */
    unsigned idle_timeout_s;   /* a connection idle (or stalled mid-request) this long closes */
    unsigned max_connections;  /* concurrent connections accepted */
    ts_http_handler_fn handler;
    void *handler_ctx;
};

struct ts_http_server;

/* Binds and starts serving. On success *out owns the server; returns 0 or a negative code
 * (e.g. -EADDRINUSE) with nothing left running. */
int ts_http_server_start(const struct ts_http_server_opts *opts, struct ts_http_server **out);
/* The port actually bound (useful with port 0). */
int ts_http_server_port(const struct ts_http_server *s);
/* Requests currently being received or handled. */
unsigned ts_http_server_in_flight(const struct ts_http_server *s);
/* Graceful stop: stops accepting, lets in-flight requests finish (up to grace_ms), then closes
 * every connection and frees the server. NULL-safe. Call from one thread only. */
void ts_http_server_stop(struct ts_http_server *s, int grace_ms);

#endif
