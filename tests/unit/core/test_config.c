/* test_config.c - config validation: every mistake names the file, line and key. */
#include <string.h>

#include "config.h"
#include "ts_test.h"

static int load(const char *text, struct ts_config *c, char *err)
{
    ts_config_defaults(c);
    return ts_config_load_string(text, c, err, 512);
}

static void expect_error(const char *text, const char *fragment)
{
    struct ts_config c;
    char err[512] = "";
    int rc = load(text, &c, err);
    TEST_CHECK_(rc != 0, "config should be refused: %s", text);
    TEST_CHECK_(strstr(err, fragment) != NULL, "error '%s' lacks '%s'", err, fragment);
    if (rc == 0) {
        ts_config_free(&c);
    }
}

static void test_config_valid(void)
{
    struct ts_config c;
    char err[512] = "";
    int rc = load("server:\n  listen: \"0.0.0.0:0\"\n  max_body_size: 2MiB\n"
                  "  idle_timeout: 1500ms\nstorage:\n  fsync: interval\n  fsync_interval: 20ms\n"
                  "log: {level: debug}\n"
                  "accounts:\n  - id: \"123456789012\"\n    name: one\n    users:\n"
                  "      - name: alice\n        access_keys: [{id: AKIAAAAAAAAAAAAAAAAA, "
                  "secret: \"0123456789abcdef0123\"}]\n"
                  "    root_access_keys: [{id: AKIABBBBBBBBBBBBBBBB, secret: \"0123456789abcdefXYZ\"}]\n",
                  &c, err);
    TEST_ASSERT(rc == 0);
    TEST_CHECK(strcmp(c.listen_host, "0.0.0.0") == 0 && c.listen_port == 0);
    TEST_CHECK(c.max_body_bytes == 2 << 20 && c.idle_timeout_ms == 1500);
    TEST_CHECK(c.fsync == TS_CONFIG_FSYNC_INTERVAL && c.fsync_interval_ms == 20);
    TEST_CHECK(c.log_level == TS_LOG_LEVEL_DEBUG);
    TEST_CHECK(c.n_accounts == 1 && c.accounts[0].n_users == 1 && c.accounts[0].n_root_keys == 1);
    TEST_CHECK(strcmp(c.accounts[0].users[0].keys[0].id, "AKIAAAAAAAAAAAAAAAAA") == 0);
    ts_config_free(&c);
}

static void test_config_errors(void)
{
    expect_error("bogus: 1\n", "<string>:1: bogus: unknown key");
    expect_error("server:\n  listen: nope\n", "<string>:2: server.listen:");
    expect_error("server:\n  threads: 0\n", "server.threads: 0 is out of range");
    expect_error("server:\n  colour: red\n", "<string>:2: server.colour: unknown key");
    expect_error("server:\n  max_body_size: lots\n", "is not a size");
    expect_error("storage:\n  fsync: sometimes\n", "is not one of: always, group, interval");
    expect_error("storage:\n  fsync_interval: 5 parsecs\n", "is not a duration");
    expect_error("accounts:\n  - id: 12345\n", "<string>:2: accounts.id: an account id is exactly 12");
    expect_error("accounts:\n  - id: \"123456789012\"\n    colour: red\n",
                 "<string>:3: accounts.colour: unknown key");
    expect_error("accounts:\n  - id: \"123456789012\"\n    users:\n      - name: \"bad name!\"\n",
                 "accounts.users.name");
    expect_error("accounts:\n  - id: \"123456789012\"\n    root_access_keys: [{id: AKIASHORT, "
                 "secret: \"0123456789abcdef0\"}]\n",
                 "access key id must be");
    /* The secret is never echoed in an error. */
    struct ts_config c;
    char err[512] = "";
    TEST_CHECK(load("accounts:\n  - id: \"123456789012\"\n    root_access_keys: [{id: "
                    "AKIAAAAAAAAAAAAAAAAA, secret: \"shortSECRET\"}]\n",
                    &c, err) != 0);
    TEST_CHECK(strstr(err, "shortSECRET") == NULL && strstr(err, "secret must be") != NULL);
    expect_error("accounts:\n  - id: \"123456789012\"\n  - id: \"123456789012\"\n", "appears twice");
    expect_error("accounts:\n  - id: \"123456789012\"\n    root_access_keys: [{id: "
                 "AKIAAAAAAAAAAAAAAAAA, secret: \"0123456789abcdef0\"}]\n"
                 "  - id: \"123456789013\"\n    root_access_keys: [{id: "
                 "AKIAAAAAAAAAAAAAAAAA, secret: \"0123456789abcdef0\"}]\n",
                 "is used twice");
    expect_error("server: [1, 2]\n", "server: expected a mapping");
    expect_error("kinesis:\n  limits: strict\n", "<string>:2: kinesis.limits: 'strict' is not one of: off, aws");
    expect_error("a: [1\n", "<string>:");
}

static void test_listen_parse(void)
{
    struct ts_config c;
    ts_config_defaults(&c);
    TEST_CHECK(ts_config_parse_listen("[::1]:4600", &c) == 0 && strcmp(c.listen_host, "::1") == 0);
    TEST_CHECK(ts_config_parse_listen("localhost:9", &c) == 0 &&
               strcmp(c.listen_host, "127.0.0.1") == 0 && c.listen_port == 9);
    TEST_CHECK(ts_config_parse_listen("127.0.0.1:65536", &c) != 0);
    TEST_CHECK(ts_config_parse_listen(":80", &c) != 0);
    TEST_CHECK(ts_config_parse_listen("127.0.0.1", &c) != 0);
}

TEST_LIST = {
    {"config_valid", test_config_valid},
    {"config_errors", test_config_errors},
    {"listen_parse", test_listen_parse},
    {NULL, NULL},
};
