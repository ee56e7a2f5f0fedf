/* test_core_yaml.c - the YAML document loader: shapes, line numbers, refusals. */
#include <string.h>

#include "trailstream/ts_core.h"
#include "ts_test.h"

static struct ts_yaml_node *load(const char *text, char *err)
{
    return ts_yaml_load_string(text, strlen(text), err, 256);
}

static void test_yaml_tree(void)
{
    char err[256];
    struct ts_yaml_node *n = load("a: 1\nb:\n  - x\n  - \"y\"\nc: {d: e}\n", err);
    TEST_ASSERT(n != NULL);
    TEST_CHECK(n->type == TS_YAML_MAP && n->n_items == 6);
    TEST_CHECK(strcmp(n->items[0]->value, "a") == 0 && strcmp(n->items[1]->value, "1") == 0);
    TEST_CHECK(n->items[3]->type == TS_YAML_SEQ && n->items[3]->n_items == 2);
    TEST_CHECK(n->items[3]->items[1]->quoted && !n->items[3]->items[0]->quoted);
    TEST_CHECK(n->items[2]->line == 2 && n->items[3]->items[1]->line == 4);
    TEST_CHECK(n->items[5]->type == TS_YAML_MAP);
    ts_yaml_destroy(n);
}

static void test_yaml_errors(void)
{
    char err[256];
    TEST_CHECK(load("a: [1, 2\n", err) == NULL);
    TEST_CHECK(strstr(err, "<string>:") != NULL);
    TEST_CHECK(load("a: 1\na: 2\n", err) == NULL);
    TEST_CHECK(strstr(err, ":2: duplicate key 'a'") != NULL);
    TEST_CHECK(load("a: &x 1\nb: *x\n", err) == NULL);
    TEST_CHECK(strstr(err, "aliases") != NULL);
    TEST_CHECK(load("a: 1\n---\nb: 2\n", err) == NULL);
    TEST_CHECK(load("? [a]\n: 1\n", err) == NULL);
    struct ts_yaml_node *n = load("", err);
    TEST_CHECK(n && n->type == TS_YAML_MAP && n->n_items == 0);
    ts_yaml_destroy(n);
    TEST_CHECK(ts_yaml_load_file("/nonexistent/x.yaml", err, sizeof(err)) == NULL);
    TEST_CHECK(strstr(err, "cannot open") != NULL);
}

TEST_LIST = {
    {"yaml_tree", test_yaml_tree},
    {"yaml_errors", test_yaml_errors},
    {NULL, NULL},
};
