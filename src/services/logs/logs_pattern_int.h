/*
 * logs_pattern_int.h - internals of the filter pattern engine shared by its source files:
 * the compiled program (logs_pattern_parse.c builds it), the regex matcher
 * (logs_pattern_regex.c), the lazy JSON scanner (logs_pattern_json.c) and the evaluator
 * (logs_pattern_eval.c). Nothing here is visible outside src/services/logs.
 */
#ifndef LOGS_PATTERN_INT_H
#define LOGS_PATTERN_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trailstream/ts_pattern.h"

/* Caps. Each is reachable only by patterns near the 1024-character limit or beyond what any
 * real pattern needs; past a cap compilation fails with a message, never a crash. */
#define PAT_MAX_PAREN_DEPTH 32   /* nested parentheses in JSON / space-delimited patterns */
#define PAT_MAX_SEL_PARTS 64     /* .name / [n] components of one selector */
#define PAT_MAX_JNODES 256       /* distinct selector path nodes (the trie) */
#define PAT_MAX_SPECS 256        /* fields of a space-delimited pattern; also max $N */
#define PAT_MAX_NAME 255         /* bytes of one selector component or field name */
#define PAT_MAX_REFS 16          /* metric transformation references */
#define PAT_MAX_TERMS 512        /* terms of a term pattern */
#define PAT_MAX_RX_STATES 2048   /* regex NFA positions after {m,n} expansion */
#define PAT_JSON_MAX_DEPTH 1024  /* JSON nesting of a message; deeper = not a match */
#define PAT_NUM_TEXT_MAX 128     /* longest number text compared numerically */
#define PAT_STR_STACK 1024       /* escaped JSON strings up to this size decode on the stack */

/* ---------------------------------------------------------------- regex */

struct ts__rx;

/* Compiles the body of %...% (without the percent signs). Returns NULL and writes a message
 * to err on an invalid or unsupported regex (or no memory: *nomem set). */
struct ts__rx *ts__rx_compile(const char *s, size_t len, char *err, size_t err_len,
                              bool *nomem);
void ts__rx_destroy(struct ts__rx *rx);
/* Unanchored search of text; ^ and $ anchor to its start and end. Thread-safe, no
 * allocation; linear in len times the regex size. */
bool ts__rx_search(const struct ts__rx *rx, const char *text, size_t len);

/* ---------------------------------------------------------------- values and conditions */

enum pat_val_kind {
    VAL_STR,   /* text with optional leading/trailing '*' wildcard */
    VAL_NUM,   /* an unquoted number: compared numerically */
    VAL_ANY,   /* '*' alone: any scalar value */
    VAL_REGEX  /* %regex% */
};

struct pat_value {
    enum pat_val_kind kind;
    bool lead;   /* '*' before the text (VAL_STR) */
    bool trail;  /* '*' after the text (VAL_STR) */
    char *s;     /* the text without the wildcards; for VAL_NUM the literal */
    size_t len;
    double num;
    struct ts__rx *rx;
};

enum pat_op {
    OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE,
    OP_IS_NULL, OP_IS_TRUE, OP_IS_FALSE, OP_NOT_EXISTS
};

enum pat_node_type { NODE_AND, NODE_OR, NODE_COND };

/* The expression tree of JSON and space-delimited patterns, flattened into arrays:
 * AND/OR nodes list their children in kids[first .. first+count). */
struct pat_node {
    enum pat_node_type type;
    int first;
    int count;
    int slot;        /* COND: JSON trie node, or space-delimited spec index */
    enum pat_op op;
    struct pat_value val;
};

/* ---------------------------------------------------------------- JSON selector trie */

struct pat_jnode {
    int parent;
    int first_child;
    int next_sibling;
    bool is_index;
    uint32_t index;
    char *name;
    uint32_t name_len;
    bool has_name_kids;
    bool has_index_kids;
    bool in_pattern; /* used by the pattern itself, not only by a field reference */
    bool in_cond;    /* a condition reads this node's value */
};

/* Per-match state of one trie node (lives on the caller's stack). */
enum { JV_PENDING = 0, JV_FOUND, JV_MISSING };
struct pat_jval {
    const char *p;    /* value text: string contents, number text; containers: '{' or '[' */
    uint32_t len;
    uint8_t state;
    uint8_t type;     /* enum ts_pattern_value_type */
    uint8_t escaped;
};

/* A selector used by the pattern, for TestMetricFilter's extractedValues. */
struct pat_jsel {
    int node;
    char *text; /* canonical "$.a.b[0]" */
};

/* ---------------------------------------------------------------- space-delimited */

struct pat_spec {
    char *name;     /* NULL for unnamed / empty specs */
    size_t name_len;
    int expr;       /* root node of the spec's conditions, -1 if none */
};

/* ---------------------------------------------------------------- terms */

struct pat_term {
    char *s;        /* literal text; len 0 matches every message */
    size_t len;
    bool negate;
    int group;      /* alternative (each '?' term starts a new one) */
};

/* ---------------------------------------------------------------- references */

enum pat_ref_kind { REF_JSON, REF_SPEC, REF_POS };
struct pat_ref {
    enum pat_ref_kind kind;
    int idx;        /* trie node, spec index, or 0-based field position */
    char *text;
};

/* ---------------------------------------------------------------- the compiled pattern */

struct ts_pattern {
    enum ts_pattern_kind kind;
    bool match_all;
    int n_regex;

    /* terms */
    struct pat_term *terms;
    int n_terms;
    int n_groups;

    /* regex (whole pattern) */
    struct ts__rx *rx;

    /* JSON and space-delimited expression trees */
    struct pat_node *nodes;
    int n_nodes;
    int *kids;
    int n_kids;
    int root;

    /* JSON */
    struct pat_jnode *jnodes;
    int n_jnodes;
    int n_match_jnodes; /* nodes with in_pattern set */
    struct pat_jsel *jsels;
    int n_jsels;

    /* space-delimited */
    struct pat_spec *specs;
    int n_specs;        /* without the ellipsis */
    int ellipsis;       /* specs before the "...", or -1 when there is none */
    int pre_cap;        /* leading fields kept while tokenising (>= specs before "...") */

    /* references */
    struct pat_ref refs[PAT_MAX_REFS];
    int n_refs;
};

/* ---------------------------------------------------------------- shared helpers */

/* How far ts__pat_json_scan reads. */
enum pat_scan_mode {
    SCAN_DECIDE,  /* until the pattern's outcome is known (three-valued evaluation) */
    SCAN_PATTERN, /* until every node the pattern uses is settled */
    SCAN_ALL      /* until every node, field references included, is settled */
};

/* Scans a message as JSON, resolving the nodes of the trie into vals (n_jnodes entries).
 * Returns true if the message is a JSON object whose scanned part is well-formed, false
 * otherwise. Nodes the scan did not get to stay JV_PENDING. In SCAN_DECIDE mode *decided is
 * set to the outcome (0 or 1) when it was known before the end, else -1. */
bool ts__pat_json_scan(const struct ts_pattern *p, const char *msg, size_t len,
                       struct pat_jval *vals, enum pat_scan_mode mode, int *decided);

/* Three-valued evaluation of a JSON pattern over partly resolved values: 0 false, 1 true,
 * 2 not yet known (a condition reads a JV_PENDING node that could change the outcome). */
int ts__pat_eval3(const struct ts_pattern *p, const struct pat_jval *vals);

/* Decodes the JSON string contents raw[0..len) (escapes included) into out; returns the
 * decoded length, or (size_t)-1 if it does not fit in out_len. */
size_t ts__pat_json_unescape(const char *raw, size_t len, char *out, size_t out_len);

/* Parses a whole number text (JSON or pattern grammar, leading '+' allowed). */
bool ts__pat_parse_number(const char *s, size_t len, double *out);

/* Finds or adds the trie node of a selector "$..." (s points at '$'); returns the node or
 * TS_EINVAL/TS_ETOOBIG/TS_ENOMEM with a message in err. *used gets the selector length. */
int ts__pat_selector(struct ts_pattern *p, const char *s, size_t len, size_t *used,
                     char *err, size_t err_len);

/* Unanchored substring search. */
bool ts__pat_contains(const char *hay, size_t hay_len, const char *needle, size_t n);

/* Whitespace between pattern tokens. */
static inline bool ts__pat_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

#endif
