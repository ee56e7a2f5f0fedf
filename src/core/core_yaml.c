/* core_yaml.c - loads a YAML document into a small tree with line numbers, so the config
 * layer can report "file:line: key: problem" for every mistake. Anchors and aliases, tags and
 * multi-document streams are refused: a config file has no need of them. */
#include "trailstream/ts_core.h"

#include <stdio.h>
#include <string.h>
#include <yaml.h>

#define YAML_MAX_DEPTH 64

struct loader {
    yaml_parser_t parser;
    const char *name;
    char *err;
    size_t err_len;
};

static void node_free(struct ts_yaml_node *n)
{
    if (!n) {
        return;
    }
    for (size_t i = 0; i < n->n_items; i++) {
        node_free(n->items[i]);
    }
    ts_free(n->items);
    ts_free(n->value);
    ts_free(n);
}

void ts_yaml_destroy(struct ts_yaml_node *n)
{
    node_free(n);
}

static int add_child(struct ts_yaml_node *parent, struct ts_yaml_node *child)
{
    struct ts_yaml_node **items =
        ts_realloc(parent->items, (parent->n_items + 1) * sizeof(*items));
    if (!items) {
        return TS_ENOMEM;
    }
    parent->items = items;
    items[parent->n_items++] = child;
    return 0;
}

static void fail(struct loader *l, int line, const char *msg)
{
    snprintf(l->err, l->err_len, "%s:%d: %s", l->name, line, msg);
}

/* Parses one node whose first event is `ev` (owned by the caller). */
static struct ts_yaml_node *parse_node(struct loader *l, yaml_event_t *ev, int depth)
{
    int line = (int)ev->start_mark.line + 1;
    if (depth > YAML_MAX_DEPTH) {
        fail(l, line, "document nested too deeply");
        return NULL;
    }
    struct ts_yaml_node *n = ts_calloc(1, sizeof(*n));
    if (!n) {
        fail(l, line, "out of memory");
        return NULL;
    }
    n->line = line;
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        n->type = TS_YAML_SCALAR;
        n->value = ts_strndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
        n->quoted = ev->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
                    ev->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
        if (!n->value) {
            fail(l, line, "out of memory");
            goto error;
        }
        return n;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        bool map = ev->type == YAML_MAPPING_START_EVENT;
        yaml_event_type_t end = map ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT;
        n->type = map ? TS_YAML_MAP : TS_YAML_SEQ;
        for (;;) {
            yaml_event_t child;
            if (!yaml_parser_parse(&l->parser, &child)) {
                fail(l, (int)l->parser.problem_mark.line + 1,
                     l->parser.problem ? l->parser.problem : "invalid YAML");
                goto error;
            }
            if (child.type == end) {
                yaml_event_delete(&child);
                break;
            }
            if (map && (n->n_items % 2 == 0) && child.type != YAML_SCALAR_EVENT) {
                fail(l, (int)child.start_mark.line + 1, "mapping keys must be plain scalars");
                yaml_event_delete(&child);
                goto error;
            }
            struct ts_yaml_node *c = parse_node(l, &child, depth + 1);
            yaml_event_delete(&child);
            if (!c) {
                goto error;
            }
            if (add_child(n, c)) {
                node_free(c);
                fail(l, line, "out of memory");
                goto error;
            }
        }
        if (map) {
            /* Duplicate keys are a classic config mistake: refuse them. */
            for (size_t i = 0; i < n->n_items; i += 2) {
                for (size_t k = i + 2; k < n->n_items; k += 2) {
                    if (strcmp(n->items[i]->value, n->items[k]->value) == 0) {
                        char msg[200];
                        snprintf(msg, sizeof(msg), "duplicate key '%.100s'", n->items[k]->value);
                        fail(l, n->items[k]->line, msg);
                        goto error;
                    }
                }
            }
        }
        return n;
    }
    case YAML_ALIAS_EVENT:
        fail(l, line, "aliases are not supported in trailstream configs");
        goto error;
    default:
        fail(l, line, "unexpected YAML event");
        goto error;
    }
error:
    node_free(n);
    return NULL;
}

static struct ts_yaml_node *load(struct loader *l)
{
    struct ts_yaml_node *root = NULL;
    yaml_event_t ev;
    bool in_doc = false;
    for (;;) {
        if (!yaml_parser_parse(&l->parser, &ev)) {
            fail(l, (int)l->parser.problem_mark.line + 1,
                 l->parser.problem ? l->parser.problem : "invalid YAML");
            goto error;
        }
        yaml_event_type_t t = ev.type;
        if (t == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (t == YAML_DOCUMENT_START_EVENT) {
            if (root) {
                fail(l, (int)ev.start_mark.line + 1, "only one YAML document is allowed");
                yaml_event_delete(&ev);
                goto error;
            }
            in_doc = true;
        } else if (in_doc && t != YAML_DOCUMENT_END_EVENT && !root) {
            root = parse_node(l, &ev, 0);
            if (!root) {
                yaml_event_delete(&ev);
                goto error;
            }
        }
        yaml_event_delete(&ev);
    }
    if (!root) {
        /* An empty file is an empty mapping. */
        root = ts_calloc(1, sizeof(*root));
        if (!root) {
            fail(l, 1, "out of memory");
            return NULL;
        }
        root->type = TS_YAML_MAP;
        root->line = 1;
    }
    return root;
error:
    node_free(root);
    return NULL;
}

struct ts_yaml_node *ts_yaml_load_string(const char *text, size_t len, char *err, size_t err_len)
{
    struct loader l = {.name = "<string>", .err = err, .err_len = err_len};
    if (!yaml_parser_initialize(&l.parser)) {
        fail(&l, 0, "out of memory");
        return NULL;
    }
    yaml_parser_set_input_string(&l.parser, (const unsigned char *)text, len);
    struct ts_yaml_node *root = load(&l);
    yaml_parser_delete(&l.parser);
    return root;
}

struct ts_yaml_node *ts_yaml_load_file(const char *path, char *err, size_t err_len)
{
    struct loader l = {.name = path, .err = err, .err_len = err_len};
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, err_len, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    if (!yaml_parser_initialize(&l.parser)) {
        fclose(f);
        fail(&l, 0, "out of memory");
        return NULL;
    }
    yaml_parser_set_input_file(&l.parser, f);
    struct ts_yaml_node *root = load(&l);
    yaml_parser_delete(&l.parser);
    fclose(f);
    return root;
}
