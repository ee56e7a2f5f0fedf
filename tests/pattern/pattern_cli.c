/*
 * pattern_cli.c - drives the filter pattern engine from scripts (conformance.py, bench).
 *
 * Reads JSON lines from stdin, one request per line, and writes one JSON line per request:
 *   {"pattern": P, "event": M}      -> {"ok": true, "match": b, "extracted": {...}}
 *   {"pattern": P, "events": [M..]} -> {"ok": true, "matches": [b, ...]}
 *   an invalid pattern              -> {"ok": false, "error": "<message>"}
 * "extracted" is what TestMetricFilter would return for a matching event.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "trailstream/ts_core.h"
#include "trailstream/ts_pattern.h"

static int add_value(void *ctx, const char *key, size_t key_len, const char *val, size_t val_len)
{
    cJSON *obj = ctx;
    char k[300];
    char *v = ts_strndup(val, val_len);
    if (!v) {
        return TS_ENOMEM;
    }
    snprintf(k, sizeof(k), "%.*s", (int)key_len, key);
    cJSON_AddStringToObject(obj, k, v);
    ts_free(v);
    return 0;
}

static cJSON *handle(const cJSON *req)
{
    cJSON *out = cJSON_CreateObject();
    const cJSON *pat = cJSON_GetObjectItemCaseSensitive(req, "pattern");
    if (!cJSON_IsString(pat)) {
        cJSON_AddBoolToObject(out, "ok", 0);
        cJSON_AddStringToObject(out, "error", "request needs a string 'pattern'");
        return out;
    }
    struct ts_pattern *p;
    char err[TS_PATTERN_ERR_LEN];
    int r = ts_pattern_compile(pat->valuestring, strlen(pat->valuestring), &p, err, sizeof(err));
    if (r != 0) {
        cJSON_AddBoolToObject(out, "ok", 0);
        cJSON_AddStringToObject(out, "error", err);
        return out;
    }
    cJSON_AddBoolToObject(out, "ok", 1);
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(req, "event");
    const cJSON *evs = cJSON_GetObjectItemCaseSensitive(req, "events");
    if (cJSON_IsString(ev)) {
        cJSON *ex = cJSON_CreateObject();
        r = ts_pattern_test(p, ev->valuestring, strlen(ev->valuestring), add_value, ex);
        cJSON_AddBoolToObject(out, "match", r == 1);
        cJSON_AddItemToObject(out, "extracted", ex);
    }
    if (cJSON_IsArray(evs)) {
        cJSON *arr = cJSON_AddArrayToObject(out, "matches");
        const cJSON *m;
        cJSON_ArrayForEach(m, evs)
        {
            bool b = cJSON_IsString(m) &&
                     ts_pattern_match(p, m->valuestring, strlen(m->valuestring));
            cJSON_AddItemToArray(arr, cJSON_CreateBool(b));
        }
    }
    ts_pattern_destroy(p);
    return out;
}

int main(void)
{
    static char line[1 << 22];
    while (fgets(line, sizeof(line), stdin)) {
        cJSON *req = cJSON_Parse(line);
        cJSON *out;
        if (!req) {
            out = cJSON_CreateObject();
            cJSON_AddBoolToObject(out, "ok", 0);
            cJSON_AddStringToObject(out, "error", "request is not JSON");
        } else {
            out = handle(req);
        }
        char *s = cJSON_PrintUnformatted(out);
        fputs(s ? s : "{}", stdout);
        fputc('\n', stdout);
        fflush(stdout);
        cJSON_free(s);
        cJSON_Delete(out);
        cJSON_Delete(req);
    }
    return 0;
}
