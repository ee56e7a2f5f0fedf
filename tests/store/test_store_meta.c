/* test_store_meta.c - the SQLite metadata store: open/migrate/reopen, CRUD, listing,
 * transactions, a database from an older schema, a newer one refused, concurrent use. */
#include "store_test_util.h"
#include "ts_test.h"

#include <pthread.h>
#include <sqlite3.h>

static char dir[512];
static char path[600];

static void setup(void)
{
    TEST_CHECK(tu_mkdtemp(dir, sizeof(dir), "meta") == 0);
    snprintf(path, sizeof(path), "%s/meta.db", dir);
}

static int collect(void *arg, const char *account, const char *key, const char *json)
{
    struct ts_buf *b = arg;
    ts_buf_addf(b, "%s/%s=%s;", account, key, json);
    return 0;
}

static void test_crud(void)
{
    setup();
    struct ts_meta *m;
    TEST_ASSERT(ts_meta_open(path, &m) == 0);
    TEST_CHECK(ts_meta_schema_version(m) == TS_META_SCHEMA_VERSION);
    TEST_CHECK(ts_meta_put(m, "log_group", "222", "/app/a", "{\"retention\":7}") == 0);
    TEST_CHECK(ts_meta_put(m, "log_group", "222", "/app/b", "{}") == 0);
    TEST_CHECK(ts_meta_put(m, "log_group", "222", "/other%_", "{}") == 0);
    TEST_CHECK(ts_meta_put(m, "log_group", "333", "/app/a", "{\"x\":1}") == 0);
    TEST_CHECK(ts_meta_create(m, "log_group", "222", "/app/a", "{}") == TS_EEXIST);
    TEST_CHECK(ts_meta_create(m, "destination", "111", "d1", "{\"arn\":\"a\"}") == 0);
    TEST_CHECK(ts_meta_put(m, "nonsense", "1", "k", "{}") == TS_EINVAL);
    struct ts_buf b;
    ts_buf_init(&b, 4096);
    TEST_CHECK(ts_meta_get(m, "log_group", "222", "/app/a", &b) == 0);
    TEST_CHECK(strcmp(b.data, "{\"retention\":7}") == 0);
    ts_buf_reset(&b);
    TEST_CHECK(ts_meta_get(m, "log_group", "222", "/nope", &b) == TS_ENOTFOUND);
    TEST_CHECK(ts_meta_put(m, "log_group", "222", "/app/a", "{\"retention\":30}") == 0);
    TEST_CHECK(ts_meta_get(m, "log_group", "222", "/app/a", &b) == 0);
    TEST_CHECK(strcmp(b.data, "{\"retention\":30}") == 0);
    ts_buf_reset(&b);
    TEST_CHECK(ts_meta_list(m, "log_group", "222", "/app/", collect, &b) == 0);
    TEST_CHECK(strcmp(b.data, "222//app/a={\"retention\":30};222//app/b={};") == 0);
    ts_buf_reset(&b);
    TEST_CHECK(ts_meta_list(m, "log_group", "222", "/other%", collect, &b) == 0);
    TEST_CHECK(strcmp(b.data, "222//other%_={};") == 0);
    TEST_CHECK(ts_meta_delete(m, "log_group", "222", "/app/b") == 0);
    TEST_CHECK(ts_meta_delete(m, "log_group", "222", "/app/b") == TS_ENOTFOUND);
    ts_meta_close(m);
    /* Reopen: durable, same version, no migration rerun. */
    TEST_ASSERT(ts_meta_open(path, &m) == 0);
    ts_buf_reset(&b);
    TEST_CHECK(ts_meta_list(m, "log_group", "222", NULL, collect, &b) == 0);
    TEST_CHECK(strcmp(b.data, "222//app/a={\"retention\":30};222//other%_={};") == 0);
    ts_buf_reset(&b);
    TEST_CHECK(ts_meta_get(m, "destination", "111", "d1", &b) == 0);
    ts_meta_close(m);
    ts_buf_free(&b);
    tu_rmrf(dir);
}

static int txn_two(struct ts_meta *m, void *arg)
{
    int *fail = arg;
    int rc = ts_meta_put(m, "kinesis_stream", "111", "s1", "{\"shards\":2}");
    if (!rc) {
        rc = ts_meta_put(m, "checkpoint", "111", "esm-1/shard-0", "{\"seq\":\"42\"}");
    }
    return rc ? rc : *fail ? TS_EINVAL : 0;
}

static void test_txn(void)
{
    setup();
    struct ts_meta *m;
    TEST_ASSERT(ts_meta_open(path, &m) == 0);
    int fail = 1;
    TEST_CHECK(ts_meta_txn(m, txn_two, &fail) == TS_EINVAL);
    struct ts_buf b;
    ts_buf_init(&b, 4096);
    TEST_CHECK(ts_meta_get(m, "kinesis_stream", "111", "s1", &b) == TS_ENOTFOUND);
    fail = 0;
    TEST_CHECK(ts_meta_txn(m, txn_two, &fail) == 0);
    TEST_CHECK(ts_meta_get(m, "checkpoint", "111", "esm-1/shard-0", &b) == 0);
    ts_buf_free(&b);
    ts_meta_close(m);
    tu_rmrf(dir);
}

static void test_migrations(void)
{
    setup();
    /* A version-1 database, as the first release wrote it. */
    sqlite3 *db;
    TEST_ASSERT(sqlite3_open(path, &db) == SQLITE_OK);
    TEST_CHECK(sqlite3_exec(db,
                            "CREATE TABLE accounts (account TEXT NOT NULL, key TEXT NOT NULL, "
                            "created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL, attrs TEXT "
                            "NOT NULL DEFAULT '{}', PRIMARY KEY(account, key)) WITHOUT ROWID;"
                            "CREATE TABLE log_groups (account TEXT NOT NULL, key TEXT NOT NULL, "
                            "created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL, attrs TEXT "
                            "NOT NULL DEFAULT '{}', retention_days INTEGER, PRIMARY KEY(account, "
                            "key)) WITHOUT ROWID;"
                            "CREATE TABLE log_streams (account TEXT NOT NULL, key TEXT NOT NULL, "
                            "created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL, attrs TEXT "
                            "NOT NULL DEFAULT '{}', PRIMARY KEY(account, key)) WITHOUT ROWID;"
                            "CREATE TABLE subscription_filters (account TEXT NOT NULL, key TEXT "
                            "NOT NULL, created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL, "
                            "attrs TEXT NOT NULL DEFAULT '{}', PRIMARY KEY(account, key)) WITHOUT "
                            "ROWID;"
                            "CREATE TABLE destinations (account TEXT NOT NULL, key TEXT NOT NULL, "
                            "created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL, attrs TEXT "
                            "NOT NULL DEFAULT '{}', PRIMARY KEY(account, key)) WITHOUT ROWID;"
                            "CREATE TABLE kinesis_streams (account TEXT NOT NULL, key TEXT NOT "
                            "NULL, created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL, attrs "
                            "TEXT NOT NULL DEFAULT '{}', PRIMARY KEY(account, key)) WITHOUT ROWID;"
                            "CREATE TABLE event_source_mappings (account TEXT NOT NULL, key TEXT "
                            "NOT NULL, created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL, "
                            "attrs TEXT NOT NULL DEFAULT '{}', PRIMARY KEY(account, key)) WITHOUT "
                            "ROWID;"
                            "CREATE TABLE checkpoints (account TEXT NOT NULL, key TEXT NOT NULL, "
                            "created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL, attrs TEXT "
                            "NOT NULL DEFAULT '{}', PRIMARY KEY(account, key)) WITHOUT ROWID;"
                            "CREATE TABLE trails (account TEXT NOT NULL, key TEXT NOT NULL, "
                            "created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL, attrs TEXT "
                            "NOT NULL DEFAULT '{}', PRIMARY KEY(account, key)) WITHOUT ROWID;"
                            "INSERT INTO trails VALUES('222', 'main', 1, 1, '{\"v1\":true}');"
                            "PRAGMA user_version = 1;",
                            NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    struct ts_meta *m;
    TEST_ASSERT(ts_meta_open(path, &m) == 0);
    TEST_CHECK(ts_meta_schema_version(m) == TS_META_SCHEMA_VERSION);
    struct ts_buf b;
    ts_buf_init(&b, 4096);
    TEST_CHECK(ts_meta_get(m, "trail", "222", "main", &b) == 0);
    TEST_CHECK(strcmp(b.data, "{\"v1\":true}") == 0);
    TEST_CHECK(ts_meta_put(m, "trail", "222", "main", "{\"v2\":true}") == 0);
    ts_meta_close(m);
    /* The v2 column exists and counts revisions. */
    TEST_ASSERT(sqlite3_open(path, &db) == SQLITE_OK);
    sqlite3_stmt *st;
    TEST_CHECK(sqlite3_prepare_v2(db, "SELECT revision FROM trails WHERE key = 'main'", -1, &st,
                                  NULL) == SQLITE_OK);
    TEST_CHECK(sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 2);
    sqlite3_finalize(st);
    /* A database from a newer release is refused, not damaged. */
    TEST_CHECK(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    TEST_CHECK(ts_meta_open(path, &m) == TS_EINVAL);
    ts_buf_free(&b);
    tu_rmrf(dir);
}

struct worker {
    struct ts_meta *m;
    int id;
    int errors;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    char key[64], json[64];
    struct ts_buf b;
    ts_buf_init(&b, 1024);
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof(key), "w%d-%03d", w->id, i);
        snprintf(json, sizeof(json), "{\"i\":%d}", i);
        w->errors += ts_meta_put(w->m, "log_stream", "acct", key, json) != 0;
        ts_buf_reset(&b);
        w->errors += ts_meta_get(w->m, "log_stream", "acct", key, &b) != 0;
        w->errors += strcmp(b.data, json) != 0;
    }
    ts_buf_free(&b);
    return NULL;
}

static int count(void *arg, const char *account, const char *key, const char *json)
{
    TS_UNUSED(account);
    TS_UNUSED(key);
    TS_UNUSED(json);
    (*(int *)arg)++;
    return 0;
}

static void test_concurrent(void)
{
    setup();
    struct ts_meta *m;
    TEST_ASSERT(ts_meta_open(path, &m) == 0);
    struct worker w[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){m, i, 0};
        pthread_create(&t[i], NULL, worker_main, &w[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        TEST_CHECK(w[i].errors == 0);
    }
    int n = 0;
    TEST_CHECK(ts_meta_list(m, "log_stream", "acct", "w", count, &n) == 0 && n == 800);
    ts_meta_close(m);
    tu_rmrf(dir);
}

TEST_LIST = {
    {"crud", test_crud},
    {"txn", test_txn},
    {"migrations", test_migrations},
    {"concurrent", test_concurrent},
    {NULL, NULL},
};
