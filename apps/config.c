/*
 * config.c - loads trailstream.yaml: table-driven sections (unknown keys are errors), typed
 * values (sizes like 10MiB, durations like 250ms), and the accounts list.
 */
#include "config.h"

#include "trailstream/ts_store.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum key_type { T_STRING, T_INT, T_SIZE, T_DURATION, T_ENUM, T_LISTEN };

struct key_def {
    const char *name;
    enum key_type type;
    size_t offset;
    size_t size;                   /* strings: buffer size */
    int64_t min, max;              /* numbers: inclusive range */
    const char *const *enum_names; /* enums: NULL-terminated */
};

static const char *const fsync_names[] = {"always", "group", "interval", NULL};
static const char *const level_names[] = {"error", "warn", "info", "debug", NULL};

#define OFF(f) offsetof(struct ts_config, f)
#define SZ(f) sizeof(((struct ts_config *)0)->f)

static const struct key_def server_keys[] = {
    {"listen", T_LISTEN, 0, 0, 0, 0, NULL},
    {"threads", T_INT, OFF(threads), 0, 1, 256, NULL},
    {"max_body_size", T_SIZE, OFF(max_body_bytes), 0, 1024, (int64_t)1 << 30, NULL},
    {"max_header_size", T_SIZE, OFF(max_header_bytes), 0, 4096, (int64_t)16 << 20, NULL},
    {"idle_timeout", T_DURATION, OFF(idle_timeout_ms), 0, 1000, 3600000, NULL},
    {"max_connections", T_INT, OFF(max_connections), 0, 1, 65536, NULL},
    {"shutdown_grace", T_DURATION, OFF(shutdown_grace_ms), 0, 0, 600000, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL},
};

static const struct key_def storage_keys[] = {
    {"data_dir", T_STRING, OFF(data_dir), SZ(data_dir), 0, 0, NULL},
    {"fsync", T_ENUM, OFF(fsync), 0, 0, 0, fsync_names},
    {"fsync_interval", T_DURATION, OFF(fsync_interval_ms), 0, 1, 60000, NULL},
    {"segment_size", T_SIZE, OFF(segment_bytes), 0, 1 << 20, (int64_t)1 << 34, NULL},
    {"segment_age", T_DURATION, OFF(segment_age_ms), 0, 1000, (int64_t)30 * 86400000, NULL},
    {"page_cache_keep", T_SIZE, OFF(page_cache_keep), 0, 64 << 10, (int64_t)1 << 34, NULL},
    {"sync_lanes", T_INT, OFF(sync_lanes), 0, 1, TS_STORE_SYNC_LANES_MAX, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL},
};

static const struct key_def log_keys[] = {
    {"level", T_ENUM, OFF(log_level), 0, 0, 0, level_names},
    {NULL, 0, 0, 0, 0, 0, NULL},
};

static const char *const limits_names[] = {"off", "aws", NULL};

static const struct key_def kinesis_keys[] = {
    {"limits", T_ENUM, OFF(kinesis_limits), 0, 0, 0, limits_names},
    {NULL, 0, 0, 0, 0, 0, NULL},
};

static const struct key_def quickstart_keys[] = {
    {"credentials_file", T_STRING, OFF(credentials_file), SZ(credentials_file), 0, 0, NULL},
    {"region", T_STRING, OFF(region), SZ(region), 0, 0, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL},
};

void ts_config_defaults(struct ts_config *c)
{
    memset(c, 0, sizeof(*c));
    ts_strlcpy(c->listen_host, "127.0.0.1", sizeof(c->listen_host));
    c->listen_port = 4600;
    c->threads = 16;
    c->max_body_bytes = 10 << 20;
    c->max_header_bytes = 64 << 10;
    c->idle_timeout_ms = 60000;
    c->max_connections = 1024;
    c->shutdown_grace_ms = 10000;
    ts_strlcpy(c->data_dir, "var", sizeof(c->data_dir));
    c->fsync = TS_CONFIG_FSYNC_GROUP;
    c->fsync_interval_ms = 100;
    c->segment_bytes = 128 << 20;
    c->segment_age_ms = 3600000;
    c->page_cache_keep = 64 << 20;
    c->sync_lanes = 2;
    c->log_level = TS_LOG_LEVEL_INFO;
    ts_strlcpy(c->region, "us-east-1", sizeof(c->region));
}

void ts_config_free(struct ts_config *c)
{
    for (size_t i = 0; i < c->n_topology; i++) {
        struct ts_config_topology *t = &c->topology[i];
        ts_free(t->streams);
        ts_free(t->destinations);
        ts_free(t->log_groups);
        ts_free(t->trails);
        ts_free(t->filters);
    }
    ts_free(c->topology);
    c->topology = NULL;
    c->n_topology = 0;
    for (size_t i = 0; i < c->n_accounts; i++) {
        ts_free(c->accounts[i].users);
    }
    /* Secrets are wiped before the memory is released. */
    if (c->accounts) {
        memset(c->accounts, 0, c->n_accounts * sizeof(*c->accounts));
    }
    ts_free(c->accounts);
    c->accounts = NULL;
    c->n_accounts = 0;
}

const char *ts_config_fsync_name(int64_t fsync)
{
    return fsync >= 0 && fsync < 3 ? fsync_names[fsync] : "?";
}

struct ctx {
    const char *file;
    char *err;
    size_t err_len;
};

__attribute__((format(printf, 4, 5))) static int fail(struct ctx *x, int line, const char *key,
                                                      const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(x->err, x->err_len, "%s:%d: %s: %s", x->file, line, key, msg);
    return TS_EINVAL;
}

/* Parses "<number><unit>" with the given units table. */
static int parse_scaled(const char *s, const char *const *units, const int64_t *mult,
                        int64_t *out)
{
    char *end = NULL;
    if (!isdigit((unsigned char)*s)) {
        return TS_EINVAL;
    }
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno) {
        return TS_EINVAL;
    }
    while (*end == ' ') {
        end++;
    }
    for (size_t i = 0; units[i]; i++) {
        if (strcmp(end, units[i]) == 0) {
            if (v > (unsigned long long)(INT64_MAX / mult[i])) {
                return TS_ERANGE;
            }
            *out = (int64_t)v * mult[i];
            return 0;
        }
    }
    return TS_EINVAL;
}

int ts_config_parse_listen(const char *s, struct ts_config *c)
{
    const char *colon;
    char host[64];
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':' || (size_t)(close - s - 1) >= sizeof(host)) {
            return TS_EINVAL;
        }
        snprintf(host, sizeof(host), "%.*s", (int)(close - s - 1), s + 1);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || (size_t)(colon - s) >= sizeof(host) || colon == s) {
            return TS_EINVAL;
        }
        snprintf(host, sizeof(host), "%.*s", (int)(colon - s), s);
    }
    int64_t port;
    if (ts_parse_i64(colon + 1, &port) || port < 0 || port > 65535) {
        return TS_EINVAL;
    }
    if (strcmp(host, "localhost") == 0) {
        ts_strlcpy(host, "127.0.0.1", sizeof(host));
    }
    ts_strlcpy(c->listen_host, host, sizeof(c->listen_host));
    c->listen_port = (int)port;
    return 0;
}

static int set_key(struct ctx *x, struct ts_config *c, const struct key_def *k,
                   const struct ts_yaml_node *v, const char *section)
{
    char name[128];
    snprintf(name, sizeof(name), "%s.%s", section, k->name);
    if (v->type != TS_YAML_SCALAR) {
        return fail(x, v->line, name, "expected a single value");
    }
    const char *s = v->value;
    int64_t n = 0;
    static const char *const size_units[] = {"", "B", "KiB", "MiB", "GiB", "KB", "MB", "GB", NULL};
    static const int64_t size_mult[] = {1, 1, 1024, 1 << 20, 1 << 30, 1000, 1000000, 1000000000};
    static const char *const dur_units[] = {"ms", "s", "m", "h", "d", NULL};
    static const int64_t dur_mult[] = {1, 1000, 60000, 3600000, 86400000};
    switch (k->type) {
    case T_STRING:
        if (strlen(s) >= k->size || !*s) {
            return fail(x, v->line, name, "must be a non-empty string under %zu bytes", k->size);
        }
        ts_strlcpy((char *)c + k->offset, s, k->size);
        return 0;
    case T_LISTEN:
        if (ts_config_parse_listen(s, c)) {
            return fail(x, v->line, name, "'%s' is not HOST:PORT (port 0-65535)", s);
        }
        return 0;
    case T_ENUM:
        for (size_t i = 0; k->enum_names[i]; i++) {
            if (strcmp(s, k->enum_names[i]) == 0) {
                *(int64_t *)((char *)c + k->offset) = (int64_t)i;
                return 0;
            }
        }
        {
            char allowed[256] = "";
            for (size_t i = 0; k->enum_names[i]; i++) {
                size_t used = strlen(allowed);
                snprintf(allowed + used, sizeof(allowed) - used, "%s%s", i ? ", " : "",
                         k->enum_names[i]);
            }
            return fail(x, v->line, name, "'%s' is not one of: %s", s, allowed);
        }
    case T_INT:
        if (ts_parse_i64(s, &n)) {
            return fail(x, v->line, name, "'%s' is not an integer", s);
        }
        break;
    case T_SIZE:
        if (parse_scaled(s, size_units, size_mult, &n)) {
            return fail(x, v->line, name, "'%s' is not a size (e.g. 512KiB, 10MiB)", s);
        }
        break;
    case T_DURATION:
        if (parse_scaled(s, dur_units, dur_mult, &n)) {
            return fail(x, v->line, name, "'%s' is not a duration (e.g. 250ms, 30s, 5m)", s);
        }
        break;
    }
    if (n < k->min || n > k->max) {
        return fail(x, v->line, name, "%lld is out of range [%lld, %lld]", (long long)n,
                    (long long)k->min, (long long)k->max);
    }
    *(int64_t *)((char *)c + k->offset) = n;
    return 0;
}

static int load_section(struct ctx *x, struct ts_config *c, const struct ts_yaml_node *map,
                        const struct key_def *keys, const char *section)
{
    if (map->type != TS_YAML_MAP) {
        return fail(x, map->line, section, "expected a mapping");
    }
    for (size_t i = 0; i + 1 < map->n_items; i += 2) {
        const struct ts_yaml_node *k = map->items[i];
        const struct key_def *def = NULL;
        for (const struct key_def *d = keys; d->name; d++) {
            if (strcmp(d->name, k->value) == 0) {
                def = d;
            }
        }
        if (!def) {
            char name[160];
            snprintf(name, sizeof(name), "%s.%.100s", section, k->value);
            return fail(x, k->line, name, "unknown key");
        }
        int rc = set_key(x, c, def, map->items[i + 1], section);
        if (rc) {
            return rc;
        }
    }
    return 0;
}

/* Loads `[{id: ..., secret: ...}, ...]` into keys. */
static int load_keys(struct ctx *x, const struct ts_yaml_node *seq, const char *where,
                     struct ts_config_key *keys, size_t *n_keys)
{
    if (seq->type != TS_YAML_SEQ) {
        return fail(x, seq->line, where, "expected a list of {id, secret}");
    }
    for (size_t i = 0; i < seq->n_items; i++) {
        const struct ts_yaml_node *m = seq->items[i];
        if (m->type != TS_YAML_MAP) {
            return fail(x, m->line, where, "each access key is a mapping {id, secret}");
        }
        if (*n_keys == TS_CONFIG_MAX_KEYS) {
            return fail(x, m->line, where, "at most %d access keys", TS_CONFIG_MAX_KEYS);
        }
        struct ts_config_key *k = &keys[*n_keys];
        memset(k, 0, sizeof(*k));
        for (size_t j = 0; j + 1 < m->n_items; j += 2) {
            const char *name = m->items[j]->value;
            const struct ts_yaml_node *v = m->items[j + 1];
            if (v->type != TS_YAML_SCALAR) {
                return fail(x, v->line, where, "'%s' must be a string", name);
            }
            if (strcmp(name, "id") == 0) {
                size_t len = strlen(v->value);
                bool ok = len >= 16 && len < sizeof(k->id);
                for (const char *p = v->value; ok && *p; p++) {
                    ok = isalnum((unsigned char)*p);
                }
                if (!ok) {
                    return fail(x, v->line, where,
                                "access key id must be 16-127 letters and digits");
                }
                ts_strlcpy(k->id, v->value, sizeof(k->id));
            } else if (strcmp(name, "secret") == 0) {
                size_t len = strlen(v->value);
                if (len < 16 || len >= sizeof(k->secret)) {
                    /* Never echo the secret itself. */
                    return fail(x, v->line, where, "secret must be 16-256 characters");
                }
                ts_strlcpy(k->secret, v->value, sizeof(k->secret));
            } else {
                return fail(x, m->items[j]->line, where, "unknown key '%.60s'", name);
            }
        }
        if (!k->id[0] || !k->secret[0]) {
            return fail(x, m->line, where, "an access key needs both 'id' and 'secret'");
        }
        (*n_keys)++;
    }
    return 0;
}

static int load_user(struct ctx *x, const struct ts_yaml_node *m, struct ts_config_user *u)
{
    if (m->type != TS_YAML_MAP) {
        return fail(x, m->line, "accounts.users", "each user is a mapping {name, access_keys}");
    }
    for (size_t j = 0; j + 1 < m->n_items; j += 2) {
        const char *name = m->items[j]->value;
        const struct ts_yaml_node *v = m->items[j + 1];
        if (strcmp(name, "name") == 0) {
            size_t len = v->type == TS_YAML_SCALAR ? strlen(v->value) : 0;
            bool ok = len >= 1 && len <= 64;
            for (const char *p = v->value; ok && *p; p++) {
                ok = isalnum((unsigned char)*p) || strchr("+=,.@_-", *p);
            }
            if (!ok) {
                return fail(x, v->line, "accounts.users.name",
                            "an IAM user name is 1-64 of A-Z a-z 0-9 +=,.@_-");
            }
            ts_strlcpy(u->name, v->value, sizeof(u->name));
        } else if (strcmp(name, "access_keys") == 0) {
            int rc = load_keys(x, v, "accounts.users.access_keys", u->keys, &u->n_keys);
            if (rc) {
                return rc;
            }
        } else {
            char key[128];
            snprintf(key, sizeof(key), "accounts.users.%.60s", name);
            return fail(x, m->items[j]->line, key, "unknown key");
        }
    }
    if (!u->name[0]) {
        return fail(x, m->line, "accounts.users", "a user needs a 'name'");
    }
    return 0;
}

static int load_account(struct ctx *x, const struct ts_yaml_node *m, struct ts_config_account *a)
{
    if (m->type != TS_YAML_MAP) {
        return fail(x, m->line, "accounts", "each account is a mapping {id, name, users, ...}");
    }
    for (size_t j = 0; j + 1 < m->n_items; j += 2) {
        const char *name = m->items[j]->value;
        const struct ts_yaml_node *v = m->items[j + 1];
        int rc = 0;
        if (strcmp(name, "id") == 0) {
            bool ok = v->type == TS_YAML_SCALAR && strlen(v->value) == 12;
            for (const char *p = v->value; ok && *p; p++) {
                ok = isdigit((unsigned char)*p);
            }
            if (!ok) {
                return fail(x, v->line, "accounts.id",
                            "an account id is exactly 12 digits, written in quotes");
            }
            ts_strlcpy(a->id, v->value, sizeof(a->id));
        } else if (strcmp(name, "name") == 0) {
            if (v->type != TS_YAML_SCALAR || !*v->value || strlen(v->value) >= sizeof(a->name)) {
                return fail(x, v->line, "accounts.name", "must be a string of 1-64 characters");
            }
            ts_strlcpy(a->name, v->value, sizeof(a->name));
        } else if (strcmp(name, "users") == 0) {
            if (v->type != TS_YAML_SEQ) {
                return fail(x, v->line, "accounts.users", "expected a list of users");
            }
            a->users = ts_calloc(v->n_items ? v->n_items : 1, sizeof(*a->users));
            if (!a->users) {
                return fail(x, v->line, "accounts.users", "out of memory");
            }
            for (size_t u = 0; u < v->n_items && !rc; u++) {
                rc = load_user(x, v->items[u], &a->users[u]);
                for (size_t p = 0; p < u && !rc; p++) {
                    if (strcmp(a->users[p].name, a->users[u].name) == 0) {
                        rc = fail(x, v->items[u]->line, "accounts.users.name",
                                  "user '%s' appears twice", a->users[u].name);
                    }
                }
                a->n_users = u + 1;
            }
        } else if (strcmp(name, "root_access_keys") == 0) {
            rc = load_keys(x, v, "accounts.root_access_keys", a->root_keys, &a->n_root_keys);
        } else {
            char key[128];
            snprintf(key, sizeof(key), "accounts.%.60s", name);
            return fail(x, m->items[j]->line, key, "unknown key");
        }
        if (rc) {
            return rc;
        }
    }
    if (!a->id[0]) {
        return fail(x, m->line, "accounts", "an account needs an 'id'");
    }
    return 0;
}

static int load_accounts(struct ctx *x, struct ts_config *c, const struct ts_yaml_node *seq)
{
    if (seq->type != TS_YAML_SEQ) {
        return fail(x, seq->line, "accounts", "expected a list of accounts");
    }
    c->accounts = ts_calloc(seq->n_items ? seq->n_items : 1, sizeof(*c->accounts));
    if (!c->accounts) {
        return fail(x, seq->line, "accounts", "out of memory");
    }
    for (size_t i = 0; i < seq->n_items; i++) {
        c->n_accounts = i + 1;
        int rc = load_account(x, seq->items[i], &c->accounts[i]);
        if (rc) {
            return rc;
        }
        for (size_t p = 0; p < i; p++) {
            if (strcmp(c->accounts[p].id, c->accounts[i].id) == 0) {
                return fail(x, seq->items[i]->line, "accounts.id", "account %s appears twice",
                            c->accounts[i].id);
            }
        }
    }
    /* Access key ids are unique across the whole file. */
    for (size_t i = 0; i < c->n_accounts; i++) {
        struct ts_config_account *a = &c->accounts[i];
        for (long u = -1; u < (long)a->n_users; u++) {
            const struct ts_config_key *keys = u < 0 ? a->root_keys : a->users[u].keys;
            size_t nk = u < 0 ? a->n_root_keys : a->users[u].n_keys;
            for (size_t k = 0; k < nk; k++) {
                for (size_t j = 0; j < c->n_accounts; j++) {
                    struct ts_config_account *b = &c->accounts[j];
                    for (long w = -1; w < (long)b->n_users; w++) {
                        const struct ts_config_key *k2 = w < 0 ? b->root_keys : b->users[w].keys;
                        size_t nk2 = w < 0 ? b->n_root_keys : b->users[w].n_keys;
                        for (size_t m = 0; m < nk2; m++) {
                            if ((i != j || u != w || k != m) && strcmp(keys[k].id, k2[m].id) == 0) {
                                return fail(x, seq->line, "accounts",
                                            "access key id %s is used twice", keys[k].id);
                            }
                        }
                    }
                }
            }
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- topology */

enum topo_type {
    F_NAME,  /* non-empty string under size bytes */
    F_TEXT,  /* string under size bytes, may be empty */
    F_INT,   /* integer in [min, max] */
    F_BOOL,  /* true or false */
    F_IDS,   /* list of 12-digit account ids (destination allow_accounts) */
};

struct topo_field {
    const char *name;
    enum topo_type type;
    size_t offset;
    size_t size;
    int64_t min, max;
    bool required;
};

#define TOFF(t, f) offsetof(struct t, f)
#define TSZ(t, f) sizeof(((struct t *)0)->f)
#define TSTR(t, f, req) {#f, F_NAME, TOFF(t, f), TSZ(t, f), 0, 0, req}

static const struct topo_field stream_fields[] = {
    TSTR(ts_config_topo_stream, name, true),
    {"shards", F_INT, TOFF(ts_config_topo_stream, shards), 0, 1, 500, false},
    {NULL, 0, 0, 0, 0, 0, false},
};

static const struct topo_field destination_fields[] = {
    TSTR(ts_config_topo_destination, name, true),
    TSTR(ts_config_topo_destination, target_stream, true),
    TSTR(ts_config_topo_destination, role_arn, false),
    {"allow_accounts", F_IDS, 0, 0, 0, 0, false},
    {NULL, 0, 0, 0, 0, 0, false},
};

static const struct topo_field log_group_fields[] = {
    TSTR(ts_config_topo_log_group, name, true),
    {NULL, 0, 0, 0, 0, 0, false},
};

static const struct topo_field trail_fields[] = {
    TSTR(ts_config_topo_trail, name, true),
    TSTR(ts_config_topo_trail, log_group, false),
    TSTR(ts_config_topo_trail, s3_bucket, false),
    TSTR(ts_config_topo_trail, role_arn, false),
    {"start_logging", F_BOOL, TOFF(ts_config_topo_trail, start_logging), 0, 0, 0, false},
    {NULL, 0, 0, 0, 0, 0, false},
};

static const struct topo_field filter_fields[] = {
    TSTR(ts_config_topo_filter, log_group, true),
    TSTR(ts_config_topo_filter, name, true),
    {"pattern", F_TEXT, TOFF(ts_config_topo_filter, pattern), TSZ(ts_config_topo_filter, pattern),
     0, 0, false},
    TSTR(ts_config_topo_filter, destination, true),
    TSTR(ts_config_topo_filter, role_arn, false),
    TSTR(ts_config_topo_filter, distribution, false),
    {NULL, 0, 0, 0, 0, 0, false},
};

/* One list of an entry: its key, item table, item size and where the array and count live. */
struct topo_list {
    const char *name;
    const struct topo_field *fields;
    size_t item_size;
    size_t items_off;
    size_t count_off;
};

#define TLIST(key, t, arr, cnt, fields)                                                         \
    {key, fields, sizeof(struct t), TOFF(ts_config_topology, arr), TOFF(ts_config_topology, cnt)}

static const struct topo_list topo_lists[] = {
    TLIST("kinesis_streams", ts_config_topo_stream, streams, n_streams, stream_fields),
    TLIST("destinations", ts_config_topo_destination, destinations, n_destinations,
          destination_fields),
    TLIST("log_groups", ts_config_topo_log_group, log_groups, n_log_groups, log_group_fields),
    TLIST("trails", ts_config_topo_trail, trails, n_trails, trail_fields),
    TLIST("subscription_filters", ts_config_topo_filter, filters, n_filters, filter_fields),
    {NULL, NULL, 0, 0, 0},
};

static bool is_account_id(const char *s)
{
    bool ok = strlen(s) == 12;
    for (const char *p = s; ok && *p; p++) {
        ok = isdigit((unsigned char)*p);
    }
    return ok;
}

/* Loads one item mapping (e.g. a stream) into item (zeroed, line set by the caller). */
static int load_topo_item(struct ctx *x, const struct ts_yaml_node *m, const struct topo_list *l,
                          void *item)
{
    char key[160];
    if (m->type != TS_YAML_MAP) {
        snprintf(key, sizeof(key), "topology.%s", l->name);
        return fail(x, m->line, key, "each item is a mapping {name: ..., ...}");
    }
    uint32_t seen = 0;
    for (size_t j = 0; j + 1 < m->n_items; j += 2) {
        const char *name = m->items[j]->value;
        const struct ts_yaml_node *v = m->items[j + 1];
        size_t f = 0;
        while (l->fields[f].name && strcmp(l->fields[f].name, name) != 0) {
            f++;
        }
        snprintf(key, sizeof(key), "topology.%s.%.60s", l->name, name);
        const struct topo_field *d = &l->fields[f];
        if (!d->name) {
            return fail(x, m->items[j]->line, key, "unknown key");
        }
        seen |= 1u << f;
        char *dst = (char *)item + d->offset;
        if (d->type == F_IDS) {
            struct ts_config_topo_destination *dest = item;
            if (v->type != TS_YAML_SEQ) {
                return fail(x, v->line, key, "expected a list of account ids");
            }
            if (v->n_items > TS_CONFIG_MAX_ALLOW) {
                return fail(x, v->line, key, "at most %d accounts", TS_CONFIG_MAX_ALLOW);
            }
            for (size_t i = 0; i < v->n_items; i++) {
                const struct ts_yaml_node *id = v->items[i];
                if (id->type != TS_YAML_SCALAR || !is_account_id(id->value)) {
                    return fail(x, id->line, key,
                                "an account id is exactly 12 digits, written in quotes");
                }
                ts_strlcpy(dest->allow_accounts[i], id->value, sizeof(dest->allow_accounts[i]));
            }
            dest->n_allow_accounts = v->n_items;
            continue;
        }
        if (v->type != TS_YAML_SCALAR) {
            return fail(x, v->line, key, "expected a single value");
        }
        const char *s = v->value;
        int64_t n = 0;
        switch (d->type) {
        case F_NAME:
        case F_TEXT:
            if (strlen(s) >= d->size || (d->type == F_NAME && !*s)) {
                return fail(x, v->line, key, "must be a %sstring under %zu bytes",
                            d->type == F_NAME ? "non-empty " : "", d->size);
            }
            ts_strlcpy(dst, s, d->size);
            break;
        case F_INT:
            if (ts_parse_i64(s, &n) || n < d->min || n > d->max) {
                return fail(x, v->line, key, "'%s' is not an integer in [%lld, %lld]", s,
                            (long long)d->min, (long long)d->max);
            }
            *(int64_t *)(void *)dst = n;
            break;
        case F_BOOL:
            if (strcmp(s, "true") != 0 && strcmp(s, "false") != 0) {
                return fail(x, v->line, key, "'%s' is not true or false", s);
            }
            *(bool *)(void *)dst = strcmp(s, "true") == 0;
            break;
        case F_IDS:
            break;
        }
    }
    for (size_t f = 0; l->fields[f].name; f++) {
        if (l->fields[f].required && !(seen & (1u << f))) {
            snprintf(key, sizeof(key), "topology.%s", l->name);
            return fail(x, m->line, key, "'%s' is required", l->fields[f].name);
        }
    }
    return 0;
}

static int load_topo_entry(struct ctx *x, const struct ts_yaml_node *m,
                           struct ts_config_topology *t)
{
    if (m->type != TS_YAML_MAP) {
        return fail(x, m->line, "topology", "each entry is a mapping {account: ..., ...}");
    }
    for (size_t j = 0; j + 1 < m->n_items; j += 2) {
        const char *name = m->items[j]->value;
        const struct ts_yaml_node *v = m->items[j + 1];
        char key[160];
        snprintf(key, sizeof(key), "topology.%.60s", name);
        if (strcmp(name, "account") == 0) {
            if (v->type != TS_YAML_SCALAR || !is_account_id(v->value)) {
                return fail(x, v->line, key,
                            "an account id is exactly 12 digits, written in quotes");
            }
            ts_strlcpy(t->account, v->value, sizeof(t->account));
            continue;
        }
        if (strcmp(name, "region") == 0) {
            size_t len = v->type == TS_YAML_SCALAR ? strlen(v->value) : 0;
            bool ok = len > 0 && len < sizeof(t->region);
            for (const char *p = v->value; ok && *p; p++) {
                ok = islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-';
            }
            if (!ok) {
                return fail(x, v->line, key, "expected a region name (e.g. us-east-1)");
            }
            ts_strlcpy(t->region, v->value, sizeof(t->region));
            continue;
        }
        const struct topo_list *l = topo_lists;
        while (l->name && strcmp(l->name, name) != 0) {
            l++;
        }
        if (!l->name) {
            return fail(x, m->items[j]->line, key, "unknown key");
        }
        if (v->type != TS_YAML_SEQ) {
            return fail(x, v->line, key, "expected a list");
        }
        void **items = (void **)(void *)((char *)t + l->items_off);
        size_t *count = (size_t *)(void *)((char *)t + l->count_off);
        if (*items) {
            return fail(x, m->items[j]->line, key, "appears twice in this entry");
        }
        *items = ts_calloc(v->n_items ? v->n_items : 1, l->item_size);
        if (!*items) {
            return fail(x, v->line, key, "out of memory");
        }
        for (size_t i = 0; i < v->n_items; i++) {
            char *item = (char *)*items + i * l->item_size;
            *(int *)(void *)item = v->items[i]->line;
            if (l->fields == stream_fields) {
                ((struct ts_config_topo_stream *)(void *)item)->shards = 1;
            } else if (l->fields == trail_fields) {
                ((struct ts_config_topo_trail *)(void *)item)->start_logging = true;
            }
            int rc = load_topo_item(x, v->items[i], l, item);
            if (rc) {
                return rc;
            }
            *count = i + 1;
        }
    }
    if (!t->account[0]) {
        return fail(x, m->line, "topology", "an entry needs an 'account'");
    }
    return 0;
}

static int load_topology(struct ctx *x, struct ts_config *c, const struct ts_yaml_node *seq)
{
    if (seq->type != TS_YAML_SEQ) {
        return fail(x, seq->line, "topology", "expected a list of {account: ..., ...} entries");
    }
    if (c->topology) {
        return fail(x, seq->line, "topology", "appears twice");
    }
    c->topology = ts_calloc(seq->n_items ? seq->n_items : 1, sizeof(*c->topology));
    if (!c->topology) {
        return fail(x, seq->line, "topology", "out of memory");
    }
    for (size_t i = 0; i < seq->n_items; i++) {
        struct ts_config_topology *t = &c->topology[i];
        c->n_topology = i + 1;
        t->line = seq->items[i]->line;
        ts_strlcpy(t->region, "us-east-1", sizeof(t->region));
        int rc = load_topo_entry(x, seq->items[i], t);
        if (rc) {
            return rc;
        }
    }
    return 0;
}

/* Cross-checks that need the whole file: every topology account is configured and has an
 * access key to provision with. */
static int check_topology(struct ctx *x, const struct ts_config *c)
{
    for (size_t i = 0; i < c->n_topology; i++) {
        const struct ts_config_topology *t = &c->topology[i];
        const struct ts_config_account *a = NULL;
        for (size_t k = 0; k < c->n_accounts; k++) {
            if (strcmp(c->accounts[k].id, t->account) == 0) {
                a = &c->accounts[k];
            }
        }
        if (!a) {
            return fail(x, t->line, "topology.account", "account %s is not in 'accounts'",
                        t->account);
        }
        size_t keys = a->n_root_keys;
        for (size_t u = 0; u < a->n_users; u++) {
            keys += a->users[u].n_keys;
        }
        if (!keys) {
            return fail(x, t->line, "topology.account",
                        "account %s has no access key to provision with", t->account);
        }
    }
    return 0;
}

static int load_tree(struct ctx *x, const struct ts_yaml_node *root, struct ts_config *c)
{
    if (root->type != TS_YAML_MAP) {
        return fail(x, root->line, "(top)", "the config file must be a mapping");
    }
    for (size_t i = 0; i + 1 < root->n_items; i += 2) {
        const char *k = root->items[i]->value;
        const struct ts_yaml_node *v = root->items[i + 1];
        int rc;
        if (strcmp(k, "server") == 0) {
            rc = load_section(x, c, v, server_keys, "server");
        } else if (strcmp(k, "storage") == 0) {
            rc = load_section(x, c, v, storage_keys, "storage");
        } else if (strcmp(k, "log") == 0) {
            rc = load_section(x, c, v, log_keys, "log");
        } else if (strcmp(k, "kinesis") == 0) {
            rc = load_section(x, c, v, kinesis_keys, "kinesis");
        } else if (strcmp(k, "quickstart") == 0) {
            rc = load_section(x, c, v, quickstart_keys, "quickstart");
        } else if (strcmp(k, "accounts") == 0) {
            rc = load_accounts(x, c, v);
        } else if (strcmp(k, "topology") == 0) {
            rc = load_topology(x, c, v);
        } else {
            rc = fail(x, root->items[i]->line, k, "unknown key");
        }
        if (rc) {
            return rc;
        }
    }
    return check_topology(x, c);
}

static int load_common(struct ctx *x, struct ts_yaml_node *root, struct ts_config *c)
{
    if (!root) {
        return TS_EPARSE;
    }
    int rc = load_tree(x, root, c);
    ts_yaml_destroy(root);
    if (rc) {
        ts_config_free(c);
    }
    return rc;
}

int ts_config_load(const char *path, struct ts_config *c, char *err, size_t err_len)
{
    struct ctx x = {path, err, err_len};
    ts_strlcpy(c->path, path, sizeof(c->path));
    return load_common(&x, ts_yaml_load_file(path, err, err_len), c);
}

int ts_config_load_string(const char *text, struct ts_config *c, char *err, size_t err_len)
{
    struct ctx x = {"<string>", err, err_len};
    ts_strlcpy(c->path, "<string>", sizeof(c->path));
    return load_common(&x, ts_yaml_load_string(text, strlen(text), err, err_len), c);
}
