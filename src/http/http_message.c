/* http_message.c - request header lookup and response construction. */
#include "trailstream/ts_http.h"

#include <string.h>
#include <strings.h>

const char *ts_http_header_get(const struct ts_http_request *req, const char *name)
{
    for (size_t i = 0; i < req->n_headers; i++) {
        if (strcasecmp(req->headers[i].name, name) == 0) {
            return req->headers[i].value;
        }
    }
    return NULL;
}

size_t ts_http_header_count(const struct ts_http_request *req, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < req->n_headers; i++) {
        n += strcasecmp(req->headers[i].name, name) == 0;
    }
    return n;
}

void ts_http_response_init(struct ts_http_response *resp, size_t max_body)
{
    resp->status = 200;
    resp->n_headers = 0;
    ts_buf_init(&resp->body, max_body);
}

void ts_http_response_free(struct ts_http_response *resp)
{
    for (size_t i = 0; i < resp->n_headers; i++) {
        ts_free(resp->headers[i].name);
        ts_free(resp->headers[i].value);
    }
    resp->n_headers = 0;
    ts_buf_free(&resp->body);
}

int ts_http_response_set_header(struct ts_http_response *resp, const char *name,
                                const char *value)
{
    char *v = ts_strdup(value);
    if (!v) {
        return TS_ENOMEM;
    }
    for (size_t i = 0; i < resp->n_headers; i++) {
        if (strcasecmp(resp->headers[i].name, name) == 0) {
            ts_free(resp->headers[i].value);
            resp->headers[i].value = v;
            return 0;
        }
    }
    if (resp->n_headers == TS_HTTP_MAX_RESPONSE_HEADERS) {
        ts_free(v);
        return TS_ETOOBIG;
    }
    char *n = ts_strdup(name);
    if (!n) {
        ts_free(v);
        return TS_ENOMEM;
    }
    resp->headers[resp->n_headers].name = n;
    resp->headers[resp->n_headers].value = v;
    resp->n_headers++;
    return 0;
}
