/* store_meta.c - the metadata store: control-plane entities as JSON documents in SQLite.
 *
 * One connection in WAL mode with synchronous=FULL (a committed put survives power loss),
 * guarded by a recursive mutex so ts_meta_txn callbacks can call back in. The schema version
 * lives in PRAGMA user_version and is advanced by an ordered list of migrations, each applied
 * in its own transaction; a database newer than this build is refused. */
#include "trailstream/ts_store.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

static const char *const kinds[] = {
    "account",     "log_group",      "log_stream",           "subscription_filter",
    "destination", "kinesis_stream", "event_source_mapping", "checkpoint",
    "trail",
};

/* The statements of the document operations, prepared once per kind (the SQL compiler costs
 * more than the statement itself: it dominated the trail writer's cursor commits). */
enum meta_op { OP_CREATE, OP_PUT, OP_GET, OP_DELETE, OP_LIST, OP_COUNT };

struct ts_meta {
    sqlite3 *db;
    pthread_mutex_t mu;
    int version;
    sqlite3_stmt *stmts[TS_ARRAY_LEN(kinds)][OP_COUNT];
};

/* Table name per kind (plural, as in the schema). */
static const char *const tables[] = {
    "accounts",     "log_groups",      "log_streams",           "subscription_filters",
    "destinations", "kinesis_streams", "event_source_mappings", "checkpoints",
    "trails",
};

/* Migration 1: one table per kind. Every table has the same generic shape - the owning account,
 * the key (name, ARN or id), timestamps and a JSON attrs document - plus a few columns the
 * services query on. */
static const char migration_1[] =
    "CREATE TABLE accounts (account TEXT NOT NULL, key TEXT NOT NULL, created_ms INTEGER NOT "
    "NULL, updated_ms INTEGER NOT NULL, attrs TEXT NOT NULL DEFAULT '{}', PRIMARY KEY(account, "
    "key)) WITHOUT ROWID;"
    "CREATE TABLE log_groups (account TEXT NOT NULL, key TEXT NOT NULL, created_ms INTEGER NOT "
    "NULL, updated_ms INTEGER NOT NULL, attrs TEXT NOT NULL DEFAULT '{}', retention_days "
    "INTEGER, PRIMARY KEY(account, key)) WITHOUT ROWID;"
    "CREATE TABLE log_streams (account TEXT NOT NULL, key TEXT NOT NULL, created_ms INTEGER NOT "
    "NULL, updated_ms INTEGER NOT NULL, attrs TEXT NOT NULL DEFAULT '{}', PRIMARY KEY(account, "
    "key)) WITHOUT ROWID;"
    "CREATE TABLE subscription_filters (account TEXT NOT NULL, key TEXT NOT NULL, created_ms "
    "INTEGER NOT NULL, updated_ms INTEGER NOT NULL, attrs TEXT NOT NULL DEFAULT '{}', PRIMARY "
    "KEY(account, key)) WITHOUT ROWID;"
    "CREATE TABLE destinations (account TEXT NOT NULL, key TEXT NOT NULL, created_ms INTEGER "
    "NOT NULL, updated_ms INTEGER NOT NULL, attrs TEXT NOT NULL DEFAULT '{}', PRIMARY "
    "KEY(account, key)) WITHOUT ROWID;"
    "CREATE TABLE kinesis_streams (account TEXT NOT NULL, key TEXT NOT NULL, created_ms INTEGER "
    "NOT NULL, updated_ms INTEGER NOT NULL, attrs TEXT NOT NULL DEFAULT '{}', PRIMARY "
    "KEY(account, key)) WITHOUT ROWID;"
    "CREATE TABLE event_source_mappings (account TEXT NOT NULL, key TEXT NOT NULL, created_ms "
    "INTEGER NOT NULL, updated_ms INTEGER NOT NULL, attrs TEXT NOT NULL DEFAULT '{}', PRIMARY "
    "KEY(account, key)) WITHOUT ROWID;"
    "CREATE TABLE checkpoints (account TEXT NOT NULL, key TEXT NOT NULL, created_ms INTEGER NOT "
    "NULL, updated_ms INTEGER NOT NULL, attrs TEXT NOT NULL DEFAULT '{}', PRIMARY KEY(account, "
    "key)) WITHOUT ROWID;"
    "CREATE TABLE trails (account TEXT NOT NULL, key TEXT NOT NULL, created_ms INTEGER NOT "
    "NULL, updated_ms INTEGER NOT NULL, attrs TEXT NOT NULL DEFAULT '{}', PRIMARY KEY(account, "
    "key)) WITHOUT ROWID;";

/* Migration 2: a revision counter per document (bumped by every put), for optimistic
 * concurrency in the services and change detection by the delivery layer. */
static const char migration_2[] =
    "ALTER TABLE accounts ADD COLUMN revision INTEGER NOT NULL DEFAULT 1;"
    "ALTER TABLE log_groups ADD COLUMN revision INTEGER NOT NULL DEFAULT 1;"
    "ALTER TABLE log_streams ADD COLUMN revision INTEGER NOT NULL DEFAULT 1;"
    "ALTER TABLE subscription_filters ADD COLUMN revision INTEGER NOT NULL DEFAULT 1;"
    "ALTER TABLE destinations ADD COLUMN revision INTEGER NOT NULL DEFAULT 1;"
    "ALTER TABLE kinesis_streams ADD COLUMN revision INTEGER NOT NULL DEFAULT 1;"
    "ALTER TABLE event_source_mappings ADD COLUMN revision INTEGER NOT NULL DEFAULT 1;"
    "ALTER TABLE checkpoints ADD COLUMN revision INTEGER NOT NULL DEFAULT 1;"
    "ALTER TABLE trails ADD COLUMN revision INTEGER NOT NULL DEFAULT 1;";

/* Ordered: migrations[i] takes the schema from version i to i + 1. Append only. */
static const char *const migrations[] = {migration_1, migration_2};

_Static_assert(TS_ARRAY_LEN(migrations) == TS_META_SCHEMA_VERSION,
               "one migration per schema version");

static int kind_index(const char *kind)
{
    for (size_t i = 0; i < TS_ARRAY_LEN(kinds); i++) {
        if (kind && strcmp(kinds[i], kind) == 0) {
            return (int)i;
        }
    }
    return -1;
}

static int sql_err(int rc)
{
    switch (rc) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return 0;
    case SQLITE_FULL:
        return TS_ENOSPC;
    case SQLITE_NOMEM:
        return TS_ENOMEM;
    case SQLITE_CONSTRAINT:
        return TS_EEXIST;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return TS_ECORRUPT;
    default:
        return TS_EIO;
    }
}

static int exec(struct ts_meta *m, const char *sql)
{
    return sql_err(sqlite3_exec(m->db, sql, NULL, NULL, NULL));
}

/* The statement of `op` on kind k, ready to bind (mu held). The cached one is used unless it
 * is still running (a ts_meta_list callback calling back in): then a fresh one is prepared,
 * and stmt_done finalizes it instead of keeping it. */
static int stmt_get(struct ts_meta *m, int k, enum meta_op op, sqlite3_stmt **out)
{
    sqlite3_stmt *st = m->stmts[k][op];
    if (st && !sqlite3_stmt_busy(st)) {
        *out = st;
        return SQLITE_OK;
    }
    char sql[512];
    const char *t = tables[k];
    switch (op) {
    case OP_CREATE:
        snprintf(sql, sizeof(sql),
                 "INSERT INTO %s(account, key, created_ms, updated_ms, attrs) VALUES(?1, ?2, "
                 "?3, ?3, ?4)",
                 t);
        break;
    case OP_PUT:
        snprintf(sql, sizeof(sql),
                 "INSERT INTO %s(account, key, created_ms, updated_ms, attrs) VALUES(?1, ?2, "
                 "?3, ?3, ?4) ON CONFLICT(account, key) DO UPDATE SET updated_ms = ?3, attrs = "
                 "?4, revision = revision + 1",
                 t);
        break;
    case OP_GET:
        snprintf(sql, sizeof(sql), "SELECT attrs FROM %s WHERE account = ?1 AND key = ?2", t);
        break;
    case OP_DELETE:
        snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE account = ?1 AND key = ?2", t);
        break;
    default:
        /* substr() instead of LIKE: keys may contain % and _. */
        snprintf(sql, sizeof(sql),
                 "SELECT key, attrs FROM %s WHERE account = ?1 AND substr(key, 1, "
                 "length(?2)) = ?2 ORDER BY key",
                 t);
        break;
    }
    int rc = sqlite3_prepare_v3(m->db, sql, -1, st ? 0 : SQLITE_PREPARE_PERSISTENT, out, NULL);
    if (rc == SQLITE_OK && !st) {
        m->stmts[k][op] = *out;
    }
    return rc;
}

static void stmt_done(struct ts_meta *m, int k, enum meta_op op, sqlite3_stmt *st)
{
    if (st == m->stmts[k][op]) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    } else {
        sqlite3_finalize(st);
    }
}

static int read_version(struct ts_meta *m, int *v)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(m->db, "PRAGMA user_version", -1, &st, NULL);
    if (rc != SQLITE_OK) {
        return sql_err(rc);
    }
    rc = sqlite3_step(st);
    *v = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : sql_err(rc);
}

static int migrate(struct ts_meta *m)
{
    int v = 0;
    int rc = read_version(m, &v);
    if (rc) {
        return rc;
    }
    if (v > TS_META_SCHEMA_VERSION) {
        return TS_EINVAL;
    }
    for (; v < TS_META_SCHEMA_VERSION; v++) {
        char bump[64];
        snprintf(bump, sizeof(bump), "PRAGMA user_version = %d", v + 1);
        rc = exec(m, "BEGIN IMMEDIATE");
        if (!rc) {
            rc = exec(m, migrations[v]);
        }
        if (!rc) {
            rc = exec(m, bump);
        }
        if (!rc) {
            rc = exec(m, "COMMIT");
        }
        if (rc) {
            exec(m, "ROLLBACK");
            return rc;
        }
    }
    m->version = v;
    return 0;
}

int ts_meta_open(const char *path, struct ts_meta **out)
{
    struct ts_meta *m = ts_calloc(1, sizeof(*m));
    if (!m) {
        return TS_ENOMEM;
    }
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&m->mu, &a);
    pthread_mutexattr_destroy(&a);
    int rc = sqlite3_open_v2(path, &m->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        rc = sql_err(rc);
        goto fail;
    }
    sqlite3_busy_timeout(m->db, 5000);
    rc = exec(m, "PRAGMA journal_mode=WAL");
    if (!rc) {
        rc = exec(m, "PRAGMA synchronous=FULL");
    }
    if (!rc) {
        rc = exec(m, "PRAGMA foreign_keys=ON");
    }
    if (!rc) {
        rc = migrate(m);
    }
    if (rc) {
        goto fail;
    }
    *out = m;
    return 0;
fail:
    ts_meta_close(m);
    return rc;
}

void ts_meta_close(struct ts_meta *m)
{
    if (!m) {
        return;
    }
    for (size_t k = 0; k < TS_ARRAY_LEN(kinds); k++) {
        for (int op = 0; op < OP_COUNT; op++) {
            sqlite3_finalize(m->stmts[k][op]);
        }
    }
    sqlite3_close(m->db);
    pthread_mutex_destroy(&m->mu);
    ts_free(m);
}

int ts_meta_schema_version(struct ts_meta *m)
{
    return m->version;
}

static int put(struct ts_meta *m, const char *kind, const char *account, const char *key,
               const char *json, bool create_only)
{
    int k = kind_index(kind);
    if (k < 0 || !account || !key || !json) {
        return TS_EINVAL;
    }
    enum meta_op op = create_only ? OP_CREATE : OP_PUT;
    pthread_mutex_lock(&m->mu);
    sqlite3_stmt *st;
    int rc = stmt_get(m, k, op, &st);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, account, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, ts_clock_now_ms(&ts_clock_real));
        sqlite3_bind_text(st, 4, json, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        stmt_done(m, k, op, st);
    }
    pthread_mutex_unlock(&m->mu);
    return sql_err(rc);
}

int ts_meta_put(struct ts_meta *m, const char *kind, const char *account, const char *key,
                const char *json)
{
    return put(m, kind, account, key, json, false);
}

int ts_meta_create(struct ts_meta *m, const char *kind, const char *account, const char *key,
                   const char *json)
{
    return put(m, kind, account, key, json, true);
}

int ts_meta_get(struct ts_meta *m, const char *kind, const char *account, const char *key,
                struct ts_buf *out)
{
    int k = kind_index(kind);
    if (k < 0 || !account || !key) {
        return TS_EINVAL;
    }
    pthread_mutex_lock(&m->mu);
    sqlite3_stmt *st;
    int rc = stmt_get(m, k, OP_GET, &st);
    if (rc != SQLITE_OK) {
        pthread_mutex_unlock(&m->mu);
        return sql_err(rc);
    }
    sqlite3_bind_text(st, 1, account, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    int ret;
    if (rc == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        ret = ts_buf_add(out, t ? (const char *)t : "", (size_t)sqlite3_column_bytes(st, 0));
    } else {
        ret = rc == SQLITE_DONE ? TS_ENOTFOUND : sql_err(rc);
    }
    stmt_done(m, k, OP_GET, st);
    pthread_mutex_unlock(&m->mu);
    return ret;
}

int ts_meta_delete(struct ts_meta *m, const char *kind, const char *account, const char *key)
{
    int k = kind_index(kind);
    if (k < 0 || !account || !key) {
        return TS_EINVAL;
    }
    pthread_mutex_lock(&m->mu);
    sqlite3_stmt *st;
    int rc = stmt_get(m, k, OP_DELETE, &st);
    int ret = sql_err(rc);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, account, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        ret = sql_err(rc);
        if (!ret && sqlite3_changes(m->db) == 0) {
            ret = TS_ENOTFOUND;
        }
        stmt_done(m, k, OP_DELETE, st);
    }
    pthread_mutex_unlock(&m->mu);
    return ret;
}

int ts_meta_list(struct ts_meta *m, const char *kind, const char *account,
                 const char *key_prefix, ts_meta_list_fn fn, void *arg)
{
    int k = kind_index(kind);
    if (k < 0 || !account || !fn) {
        return TS_EINVAL;
    }
    pthread_mutex_lock(&m->mu);
    sqlite3_stmt *st;
    int rc = stmt_get(m, k, OP_LIST, &st);
    if (rc != SQLITE_OK) {
        pthread_mutex_unlock(&m->mu);
        return sql_err(rc);
    }
    /* Bound as transient copies: the callback may change what the caller's strings are. */
    sqlite3_bind_text(st, 1, account, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, key_prefix ? key_prefix : "", -1, SQLITE_TRANSIENT);
    int ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *key = (const char *)sqlite3_column_text(st, 0);
        const char *j = (const char *)sqlite3_column_text(st, 1);
        ret = fn(arg, account, key ? key : "", j ? j : "");
        if (ret) {
            break;
        }
    }
    if (!ret && rc != SQLITE_DONE) {
        ret = sql_err(rc);
    }
    stmt_done(m, k, OP_LIST, st);
    pthread_mutex_unlock(&m->mu);
    return ret;
}

int ts_meta_txn(struct ts_meta *m, ts_meta_txn_fn fn, void *arg)
{
    pthread_mutex_lock(&m->mu);
    int rc = exec(m, "BEGIN IMMEDIATE");
    if (!rc) {
        rc = fn(m, arg);
        if (!rc) {
            rc = exec(m, "COMMIT");
        }
        if (rc) {
            exec(m, "ROLLBACK");
        }
    }
    pthread_mutex_unlock(&m->mu);
    return rc;
}
