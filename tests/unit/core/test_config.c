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
                  "  page_cache_keep: 8MiB\n  sync_lanes: 3\n"
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
    TEST_CHECK(c.page_cache_keep == 8 << 20 && c.sync_lanes == 3);
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
    expect_error("storage:\n  page_cache_keep: 1KiB\n", "storage.page_cache_keep: 1024 is out of range");
    expect_error("storage:\n  sync_lanes: 9\n", "storage.sync_lanes: 9 is out of range");
    expect_error("storage:\n  sync_lanes: 0\n", "storage.sync_lanes: 0 is out of range");
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

#define TOPO_ACCOUNTS                                                                          \
    "accounts:\n  - id: \"111111111111\"\n    root_access_keys: [{id: AKIAAAAAAAAAAAAAAAAA, "   \
    "secret: \"0123456789abcdef0123\"}]\n"                                                      \
    "  - id: \"222222222222\"\n    users: [{name: dev}]\n"

static void test_config_topology(void)
{
    struct ts_config c;
    char err[512] = "";
    int rc = load("topology:\n"
                  "  - account: \"111111111111\"\n"
                  "    kinesis_streams: [{name: audit, shards: 2}, {name: other}]\n"
                  "    destinations: [{name: d, target_stream: audit, "
                  "allow_accounts: [\"222222222222\"]}]\n"
                  "  - account: \"111111111111\"\n    region: eu-west-1\n"
                  "    log_groups: [{name: /g}]\n"
                  "    trails: [{name: main, log_group: /g}]\n"
                  "    subscription_filters: [{log_group: /g, name: f, pattern: \"\", "
                  "destination: \"arn:aws:logs:us-east-1:111111111111:destination:d\"}]\n"
                  TOPO_ACCOUNTS,
                  &c, err);
    TEST_CHECK_(rc == 0, "%s", err);
    TEST_ASSERT(rc == 0);
    TEST_ASSERT(c.n_topology == 2);
    const struct ts_config_topology *t = &c.topology[0];
    TEST_CHECK(strcmp(t->region, "us-east-1") == 0 && t->line == 2);
    TEST_CHECK(t->n_streams == 2 && t->streams[0].shards == 2 && t->streams[1].shards == 1);
    TEST_CHECK(t->streams[1].line == 3);
    TEST_CHECK(t->n_destinations == 1 && t->destinations[0].n_allow_accounts == 1);
    TEST_CHECK(strcmp(t->destinations[0].allow_accounts[0], "222222222222") == 0);
    t = &c.topology[1];
    TEST_CHECK(strcmp(t->region, "eu-west-1") == 0 && t->n_log_groups == 1);
    TEST_CHECK(t->n_trails == 1 && t->trails[0].start_logging); /* the default */
    TEST_CHECK(t->n_filters == 1 && t->filters[0].pattern[0] == '\0');
    ts_config_free(&c);
    TEST_CHECK(c.topology == NULL && c.n_topology == 0);

    expect_error("topology:\n  - account: \"111111111111\"\n    kinesis_streams: [{nme: a}]\n"
                 TOPO_ACCOUNTS,
                 "<string>:3: topology.kinesis_streams.nme: unknown key");
    expect_error("topology:\n  - account: \"333333333333\"\n" TOPO_ACCOUNTS,
                 "<string>:2: topology.account: account 333333333333 is not in 'accounts'");
    expect_error("topology:\n  - account: \"222222222222\"\n" TOPO_ACCOUNTS,
                 "<string>:2: topology.account: account 222222222222 has no access key");
    expect_error("topology:\n  - region: us-east-1\n", "<string>:2: topology: an entry needs");
    expect_error("topology:\n  - account: \"111111111111\"\n    kinesis_streams: [{name: a, "
                 "shards: 0}]\n" TOPO_ACCOUNTS,
                 "<string>:3: topology.kinesis_streams.shards: '0' is not an integer in [1, 500]");
    expect_error("topology:\n  - account: \"111111111111\"\n    trails: [{log_group: g}]\n",
                 "<string>:3: topology.trails: 'name' is required");
    expect_error("topology:\n  - account: \"111111111111\"\n    region: \"US East\"\n",
                 "<string>:3: topology.region: expected a region name");
    expect_error("topology:\n  - account: \"111111111111\"\n    destinations: [{name: d, "
                 "target_stream: s, allow_accounts: [\"12\"]}]\n",
                 "<string>:3: topology.destinations.allow_accounts: an account id is exactly");
    expect_error("topology: {account: \"111111111111\"}\n", "<string>:1: topology: expected a list");
}

TEST_LIST = {
    {"config_valid", test_config_valid},
    {"config_errors", test_config_errors},
    {"listen_parse", test_listen_parse},
    {"config_topology", test_config_topology},
    {NULL, NULL},
};
