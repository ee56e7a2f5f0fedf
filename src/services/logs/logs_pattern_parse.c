/*
 * logs_pattern_parse.c - the filter pattern compiler: dispatch on the pattern kind, term
 * patterns, JSON and space-delimited expressions, values, selectors and field references.
 *
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html
 * Grammar as implemented and every interpretation choice: docs/filter-patterns.md.
 *
 * Compilation turns the text into flat arrays (terms, expression nodes, a selector trie,
 * field specs) that logs_pattern_eval.c walks per message without looking at the text again.
 * Every error returns TS_EINVAL with a message that names the problem and, where there is
 * one, its 1-based character position; that message becomes the InvalidParameterException
 * text.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "logs_pattern_int.h"
#include "trailstream/ts_core.h"

enum tok_type {
    T_END, T_LPAREN, T_RPAREN, T_AND, T_OR, T_COMMA, T_CLOSE, T_OP, T_SEL, T_STR, T_RX, T_WORD
};

struct tok {
    enum tok_type type;
    size_t start;   /* byte offset of the token */
    size_t len;     /* bytes of the token text */
    enum pat_op op; /* T_OP */
    char *text;     /* T_STR: unescaped contents (owned by the parser until used) */
    size_t text_len;
};

enum pmode { MODE_JSON, MODE_SPACE };

struct pname {
    int node;
    const char *name;
    size_t len;
    size_t at;
};

struct pctx {
    struct ts_pattern *p;
    const char *s;
    size_t len;
    size_t i;
    char *err;
    size_t err_len;
    int depth;
    enum pmode mode;
    struct tok tok;
    int cap_nodes, cap_kids, cap_jnodes, cap_jsels, cap_specs, cap_terms;
    /* space-delimited: names used by conditions, resolved once every spec is known */
    struct pname *names;
    int n_names, cap_names;
    bool nomem;
    bool refs; /* adding field references after compilation */
};

/* 1-based character (not byte) position of byte offset i, for messages. */
static size_t charpos(const char *s, size_t i)
{
    size_t n = 1;
    for (size_t k = 0; k < i; k++) {
        if (((unsigned char)s[k] & 0xc0) != 0x80) {
            n++;
        }
    }
    return n;
}

__attribute__((format(printf, 3, 4))) static int pfail(struct pctx *c, size_t at,
                                                       const char *fmt, ...)
{
    if (c->err && c->err_len && !c->err[0]) {
        char msg[TS_PATTERN_ERR_LEN];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (at == (size_t)-1) {
            snprintf(c->err, c->err_len, "%s", msg);
        } else {
            snprintf(c->err, c->err_len, "%s (at position %zu)", msg, charpos(c->s, at));
        }
    }
    return TS_EINVAL;
}

static int nomem(struct pctx *c)
{
    c->nomem = true;
    if (c->err && c->err_len && !c->err[0]) {
        snprintf(c->err, c->err_len, "Out of memory");
    }
    return TS_ENOMEM;
}

/* Grows *arr (element size `size`) so that index n fits. */
static int grow(struct pctx *c, void **arr, int *cap, int n, size_t size)
{
    if (n < *cap) {
        return 0;
    }
    int ncap = *cap ? *cap * 2 : 8;
    void *p = ts_realloc(*arr, (size_t)ncap * size);
    if (!p) {
        return nomem(c);
    }
    *arr = p;
    *cap = ncap;
    return 0;
}

static bool is_name_char(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '-';
}

/* Characters a bare (unquoted) value may contain: alphanumerics and _ (documented), plus the
 * . - seen in AWS's own CIS patterns and * wildcards, and + : / @ (lenient, see the doc). */
static bool is_bare_char(unsigned char ch)
{
    return is_name_char(ch) || ch >= 0x80 || ch == '.' || ch == '*' || ch == '+' || ch == ':' ||
           ch == '/' || ch == '@';
}

static bool is_delim(unsigned char ch)
{
    return ts__pat_blank((char)ch) || (ch != '\0' && strchr("(),[]{}=!<>&|\"%$", ch) != NULL);
}

/* ---------------------------------------------------------------- selectors */

static int jnode_child(struct pctx *c, int parent, bool is_index, uint32_t index,
                       const char *name, size_t name_len, size_t at)
{
    struct ts_pattern *p = c->p;
    for (int k = p->jnodes[parent].first_child; k >= 0; k = p->jnodes[k].next_sibling) {
        struct pat_jnode *n = &p->jnodes[k];
        if (n->is_index == is_index &&
            (is_index ? n->index == index
                      : (n->name_len == name_len && memcmp(n->name, name, name_len) == 0))) {
            if (!c->refs && !n->in_pattern) {
                n->in_pattern = true;
                p->n_match_jnodes++;
            }
            return k;
        }
    }
    if (p->n_jnodes >= PAT_MAX_JNODES) {
        return pfail(c, at, "Too many selectors in pattern (max %d path components)",
                     PAT_MAX_JNODES);
    }
    if (grow(c, (void **)&p->jnodes, &c->cap_jnodes, p->n_jnodes, sizeof(*p->jnodes)) != 0) {
        return TS_ENOMEM;
    }
    int k = p->n_jnodes;
    struct pat_jnode *n = &p->jnodes[k];
    memset(n, 0, sizeof(*n));
    n->parent = parent;
    n->first_child = -1;
    n->next_sibling = -1;
    n->is_index = is_index;
    n->index = index;
    n->in_pattern = !c->refs;
    p->n_match_jnodes += !c->refs;
    if (!is_index) {
        n->name = ts_strndup(name, name_len);
        if (!n->name) {
            return nomem(c);
        }
        n->name_len = (uint32_t)name_len;
    }
    p->n_jnodes++;
    /* append to the parent's child list */
    struct pat_jnode *par = &p->jnodes[parent];
    if (is_index) {
        par->has_index_kids = true;
    } else {
        par->has_name_kids = true;
    }
    if (par->first_child < 0) {
        par->first_child = k;
    } else {
        int last = par->first_child;
        while (p->jnodes[last].next_sibling >= 0) {
            last = p->jnodes[last].next_sibling;
        }
        p->jnodes[last].next_sibling = k;
    }
    return k;
}

/* s is the whole source (for positions); sel points at '$' inside it. */
static int parse_selector(struct pctx *c, size_t base, size_t len, size_t *used)
{
    const char *s = c->s;
    size_t i = base + 1;
    size_t end = base + len;
    int node = 0;
    int parts = 0;
    if (i >= end || s[i] != '.') {
        return pfail(c, base, "Invalid selector: '$' must be followed by '.property'");
    }
    while (i < end && (s[i] == '.' || s[i] == '[')) {
        size_t at = i;
        int child;
        if (++parts > PAT_MAX_SEL_PARTS) {
            return pfail(c, at, "Selector too deep (max %d components)", PAT_MAX_SEL_PARTS);
        }
        if (s[i] == '.') {
            size_t b = ++i;
            while (i < end && is_name_char((unsigned char)s[i])) {
                i++;
            }
            if (i == b) {
                return pfail(c, at, "Invalid selector: empty property name after '.'");
            }
            if (i - b > PAT_MAX_NAME) {
                return pfail(c, b, "Selector property name too long (max %d)", PAT_MAX_NAME);
            }
            child = jnode_child(c, node, false, 0, s + b, i - b, at);
        } else {
            uint64_t idx = 0;
            size_t b = ++i;
            while (i < end && s[i] >= '0' && s[i] <= '9' && i - b < 9) {
                idx = idx * 10 + (uint64_t)(s[i] - '0');
                i++;
            }
            if (i == b || i >= end || s[i] != ']') {
                return pfail(c, at, "Invalid array index in selector: expected '[digits]'");
            }
            i++;
            child = jnode_child(c, node, true, (uint32_t)idx, NULL, 0, at);
        }
        if (child < 0) {
            return child;
        }
        node = child;
    }
    *used = i - base;
    return node;
}

int ts__pat_selector(struct ts_pattern *p, const char *s, size_t len, size_t *used, char *err,
                     size_t err_len)
{
    struct pctx c;
    memset(&c, 0, sizeof(c));
    c.p = p;
    c.s = s;
    c.len = len;
    c.err = err;
    c.err_len = err_len;
    c.cap_jnodes = p->n_jnodes; /* forces a realloc before the array grows */
    c.refs = true;
    if (err && err_len) {
        err[0] = '\0';
    }
    return parse_selector(&c, 0, len, used);
}

/* ---------------------------------------------------------------- lexer */

static void tok_free(struct tok *t)
{
    ts_free(t->text);
    t->text = NULL;
}

/* Reads the next token into c->tok. */
static int lex(struct pctx *c)
{
    const char *s = c->s;
    tok_free(&c->tok);
    while (c->i < c->len && ts__pat_blank(s[c->i])) {
        c->i++;
    }
    struct tok *t = &c->tok;
    t->start = c->i;
    t->len = 1;
    if (c->i >= c->len) {
        t->type = T_END;
        t->len = 0;
        return 0;
    }
    char ch = s[c->i];
    char nx = c->i + 1 < c->len ? s[c->i + 1] : '\0';
    switch (ch) {
    case '(':
        t->type = T_LPAREN;
        c->i++;
        return 0;
    case ')':
        t->type = T_RPAREN;
        c->i++;
        return 0;
    case ',':
        if (c->mode != MODE_SPACE) {
            return pfail(c, c->i, "Unexpected ','; use '&&' or '||' between conditions");
        }
        t->type = T_COMMA;
        c->i++;
        return 0;
    case '}':
    case ']':
        if ((ch == '}') != (c->mode == MODE_JSON)) {
            return pfail(c, c->i, "Unexpected '%c'", ch);
        }
        t->type = T_CLOSE;
        c->i++;
        return 0;
    case '{':
    case '[':
        return pfail(c, c->i, "Unexpected '%c'", ch);
    case '&':
    case '|':
        if (nx != ch) {
            return pfail(c, c->i, "Invalid operator '%c'; use '&&' or '||'", ch);
        }
        t->type = ch == '&' ? T_AND : T_OR;
        t->len = 2;
        c->i += 2;
        return 0;
    case '=':
        t->type = T_OP;
        t->op = OP_EQ;
        c->i++;
        return 0;
    case '!':
        if (nx != '=') {
            return pfail(c, c->i, "Invalid operator '!'; did you mean '!='");
        }
        t->type = T_OP;
        t->op = OP_NE;
        t->len = 2;
        c->i += 2;
        return 0;
    case '<':
    case '>':
        t->type = T_OP;
        t->op = ch == '<' ? (nx == '=' ? OP_LE : OP_LT) : (nx == '=' ? OP_GE : OP_GT);
        t->len = nx == '=' ? 2 : 1;
        c->i += t->len;
        return 0;
    case '$': {
        if (c->mode != MODE_JSON) {
            return pfail(c, c->i, "Selectors ('$') are only valid in JSON patterns");
        }
        t->type = T_SEL;
        size_t i = c->i + 1;
        while (i < c->len && (is_name_char((unsigned char)s[i]) || s[i] == '.' ||
                              s[i] == '[' || (s[i] == ']' && i > c->i + 1))) {
            i++;
        }
        t->len = i - c->i;
        c->i = i;
        return 0;
    }
    case '"': {
        size_t i = c->i + 1;
        char *buf = ts_malloc(c->len - c->i + 1);
        size_t o = 0;
        if (!buf) {
            return nomem(c);
        }
        while (i < c->len && s[i] != '"') {
            if (s[i] == '\\' && i + 1 < c->len && (s[i + 1] == '"' || s[i + 1] == '\\')) {
                i++;
            }
            buf[o++] = s[i++];
        }
        if (i >= c->len) {
            ts_free(buf);
            return pfail(c, c->i, "Unterminated quoted string");
        }
        buf[o] = '\0';
        t->type = T_STR;
        t->text = buf;
        t->text_len = o;
        t->len = i + 1 - c->i;
        c->i = i + 1;
        return 0;
    }
    case '%': {
        size_t i = c->i + 1;
        while (i < c->len && s[i] != '%') {
            i++;
        }
        if (i >= c->len) {
            return pfail(c, c->i, "Unterminated regular expression: missing closing '%%'");
        }
        t->type = T_RX;
        t->len = i + 1 - c->i;
        c->i = i + 1;
        return 0;
    }
    default:
        break;
    }
    size_t i = c->i;
    while (i < c->len && !is_delim((unsigned char)s[i])) {
        i++;
    }
    t->type = T_WORD;
    t->len = i - c->i;
    c->i = i;
    return 0;
}

static bool tok_is(const struct pctx *c, const char *word)
{
    size_t n = strlen(word);
    return c->tok.type == T_WORD && c->tok.len == n && memcmp(c->s + c->tok.start, word, n) == 0;
}

static const char *op_name(enum pat_op op)
{
    static const char *const names[] = {"=", "!=", "<", "<=", ">", ">="};
    return op <= OP_GE ? names[op] : "IS";
}

/* ---------------------------------------------------------------- nodes */

static int new_node(struct pctx *c, enum pat_node_type type)
{
    struct ts_pattern *p = c->p;
    if (grow(c, (void **)&p->nodes, &c->cap_nodes, p->n_nodes, sizeof(*p->nodes)) != 0) {
        return TS_ENOMEM;
    }
    struct pat_node *n = &p->nodes[p->n_nodes];
    memset(n, 0, sizeof(*n));
    n->type = type;
    n->slot = -1;
    return p->n_nodes++;
}

/* Makes an AND/OR node over kids[0..n). */
static int new_group(struct pctx *c, enum pat_node_type type, const int *kids, int n)
{
    struct ts_pattern *p = c->p;
    int node = new_node(c, type);
    if (node < 0) {
        return node;
    }
    for (int k = 0; k < n; k++) {
        if (grow(c, (void **)&p->kids, &c->cap_kids, p->n_kids, sizeof(*p->kids)) != 0) {
            return TS_ENOMEM;
        }
        p->kids[p->n_kids++] = kids[k];
    }
    p->nodes[node].first = p->n_kids - n;
    p->nodes[node].count = n;
    return node;
}

/* Splits a string value into wildcard flags and text (owned by the value afterwards). */
static void set_wild(struct pat_value *v, char *text, size_t len)
{
    size_t b = 0, e = len;
    while (b < e && text[b] == '*') {
        b++;
    }
    if (b == e && len > 0) {
        v->kind = VAL_ANY;
        ts_free(text);
        return;
    }
    while (e > b && text[e - 1] == '*') {
        e--;
    }
    v->kind = VAL_STR;
    v->lead = b > 0;
    v->trail = e < len;
    memmove(text, text + b, e - b);
    text[e - b] = '\0';
    v->s = text;
    v->len = e - b;
}

/* Parses the value after a comparison operator into node `node`. */
static int parse_value(struct pctx *c, int node, enum pat_op op)
{
    struct ts_pattern *p = c->p;
    struct tok *t = &c->tok;
    struct pat_value v;
    memset(&v, 0, sizeof(v));
    bool numeric_op = op == OP_LT || op == OP_LE || op == OP_GT || op == OP_GE;
    if (t->type == T_STR) {
        if (numeric_op) {
            return pfail(c, t->start,
                         "Operator '%s' requires a numeric value, got the string \"%.*s\"",
                         op_name(op), (int)TS_MIN(t->text_len, (size_t)64), t->text);
        }
        set_wild(&v, t->text, t->text_len);
        t->text = NULL;
    } else if (t->type == T_WORD) {
        const char *w = c->s + t->start;
        for (size_t k = 0; k < t->len; k++) {
            if (!is_bare_char((unsigned char)w[k])) {
                return pfail(c, t->start + k, "Invalid character(s) in term '%.*s'",
                             (int)TS_MIN(t->len, (size_t)64), w);
            }
        }
        double d;
        if (ts__pat_parse_number(w, t->len, &d)) {
            v.kind = VAL_NUM;
            v.num = d;
            v.s = ts_strndup(w, t->len);
            if (!v.s) {
                return nomem(c);
            }
            v.len = t->len;
        } else if (numeric_op) {
            return pfail(c, t->start, "Operator '%s' requires a numeric value, got '%.*s'",
                         op_name(op), (int)TS_MIN(t->len, (size_t)64), w);
        } else {
            char *text = ts_strndup(w, t->len);
            if (!text) {
                return nomem(c);
            }
            set_wild(&v, text, t->len);
        }
    } else if (t->type == T_RX) {
        if (numeric_op) {
            return pfail(c, t->start, "Operator '%s' cannot be used with a regular expression",
                         op_name(op));
        }
        if (++p->n_regex > TS_PATTERN_MAX_REGEX) {
            return pfail(c, t->start, "Too many regular expressions in pattern (max %d)",
                         TS_PATTERN_MAX_REGEX);
        }
        char rerr[TS_PATTERN_ERR_LEN];
        bool oom;
        v.kind = VAL_REGEX;
        v.rx = ts__rx_compile(c->s + t->start + 1, t->len - 2, rerr, sizeof(rerr), &oom);
        if (!v.rx) {
            return oom ? nomem(c) : pfail(c, (size_t)-1, "%s", rerr);
        }
    } else {
        return pfail(c, t->start, "Expected a value after operator '%s'", op_name(op));
    }
    p->nodes[node].val = v;
    return lex(c);
}

static int parse_or(struct pctx *c);

/* JSON: selector (op value | IS NULL/TRUE/FALSE | NOT EXISTS).
 * Space-delimited: name op value. */
static int parse_condition(struct pctx *c)
{
    struct tok *t = &c->tok;
    int node = new_node(c, NODE_COND);
    if (node < 0) {
        return node;
    }
    struct pat_node *n;
    if (c->mode == MODE_JSON) {
        if (t->type != T_SEL) {
            if (t->type == T_END || t->type == T_CLOSE) {
                return pfail(c, t->start, "Expected a condition such as '$.field = value'");
            }
            return pfail(c, t->start, "Expected a selector starting with '$.' but found '%.*s'",
                         (int)TS_MIN(t->len, (size_t)64), c->s + t->start);
        }
        size_t used;
        int slot = parse_selector(c, t->start, t->len, &used);
        if (slot < 0) {
            return slot;
        }
        if (used != t->len) {
            return pfail(c, t->start + used, "Invalid character in selector '%.*s'",
                         (int)TS_MIN(t->len, (size_t)64), c->s + t->start);
        }
        struct ts_pattern *p = c->p;
        bool seen = false;
        for (int k = 0; k < p->n_jsels && !seen; k++) {
            seen = p->jsels[k].node == slot;
        }
        if (!seen) {
            if (grow(c, (void **)&p->jsels, &c->cap_jsels, p->n_jsels, sizeof(*p->jsels))) {
                return TS_ENOMEM;
            }
            p->jsels[p->n_jsels].node = slot;
            p->jsels[p->n_jsels].text = ts_strndup(c->s + t->start, t->len);
            if (!p->jsels[p->n_jsels].text) {
                return nomem(c);
            }
            p->n_jsels++;
        }
        c->p->nodes[node].slot = slot;
        c->p->jnodes[slot].in_cond = true;
    } else {
        if (t->type != T_WORD) {
            return pfail(c, t->start, "Expected a field name");
        }
        const char *w = c->s + t->start;
        for (size_t k = 0; k < t->len; k++) {
            if (!is_name_char((unsigned char)w[k])) {
                return pfail(c, t->start + k, "Invalid character(s) in field name '%.*s'",
                             (int)TS_MIN(t->len, (size_t)64), w);
            }
        }
        if (t->len > PAT_MAX_NAME) {
            return pfail(c, t->start, "Field name too long (max %d)", PAT_MAX_NAME);
        }
        if (grow(c, (void **)&c->names, &c->cap_names, c->n_names, sizeof(*c->names)) != 0) {
            return TS_ENOMEM;
        }
        c->names[c->n_names++] = (struct pname){node, w, t->len, t->start};
    }
    size_t sel_at = t->start;
    int r = lex(c);
    if (r != 0) {
        return r;
    }
    n = &c->p->nodes[node];
    if (c->mode == MODE_JSON && tok_is(c, "IS")) {
        if ((r = lex(c)) != 0) {
            return r;
        }
        if (tok_is(c, "NULL")) {
            n->op = OP_IS_NULL;
        } else if (tok_is(c, "TRUE")) {
            n->op = OP_IS_TRUE;
        } else if (tok_is(c, "FALSE")) {
            n->op = OP_IS_FALSE;
        } else if (tok_is(c, "NOT")) {
            return pfail(c, t->start, "'IS NOT' is not supported; use '!=' or 'NOT EXISTS'");
        } else {
            return pfail(c, t->start, "Expected NULL, TRUE or FALSE after 'IS'");
        }
        return lex(c) == 0 ? node : TS_EINVAL;
    }
    if (c->mode == MODE_JSON && tok_is(c, "NOT")) {
        if ((r = lex(c)) != 0) {
            return r;
        }
        if (!tok_is(c, "EXISTS")) {
            return pfail(c, t->start, "Expected EXISTS after 'NOT'");
        }
        n->op = OP_NOT_EXISTS;
        return lex(c) == 0 ? node : TS_EINVAL;
    }
    if (c->mode == MODE_JSON && tok_is(c, "EXISTS")) {
        return pfail(c, t->start, "'EXISTS' is not supported; use '= *' or 'NOT EXISTS'");
    }
    if (t->type != T_OP) {
        if (t->type == T_END) {
            return pfail(c, sel_at, "Incomplete condition: expected an operator");
        }
        return pfail(c, t->start, "Expected an operator (=, !=, <, <=, >, >=) but found '%.*s'",
                     (int)TS_MIN(t->len, (size_t)64), c->s + t->start);
    }
    n->op = t->op;
    if ((r = lex(c)) != 0) {
        return r;
    }
    r = parse_value(c, node, c->p->nodes[node].op);
    return r == 0 ? node : r;
}

static int parse_primary(struct pctx *c)
{
    if (c->tok.type != T_LPAREN) {
        return parse_condition(c);
    }
    size_t open = c->tok.start;
    if (++c->depth > PAT_MAX_PAREN_DEPTH) {
        return pfail(c, open, "Parentheses nested too deeply (max %d)", PAT_MAX_PAREN_DEPTH);
    }
    int r = lex(c);
    if (r != 0) {
        return r;
    }
    int node = parse_or(c);
    if (node < 0) {
        return node;
    }
    if (c->tok.type != T_RPAREN) {
        return pfail(c, c->tok.type == T_END ? open : c->tok.start,
                     c->tok.type == T_END ? "Unbalanced '(': missing ')'"
                                          : "Expected ')' or an operator");
    }
    c->depth--;
    return lex(c) == 0 ? node : TS_EINVAL;
}

/* Parses `sub { sep sub }` into a flat AND/OR node. */
static int parse_chain(struct pctx *c, enum tok_type sep, enum pat_node_type type)
{
    int first = type == NODE_OR ? parse_chain(c, T_AND, NODE_AND) : parse_primary(c);
    if (first < 0 || c->tok.type != sep) {
        return first;
    }
    int *kids = NULL;
    int n = 0, cap = 0, r;
    if (grow(c, (void **)&kids, &cap, n, sizeof(int)) != 0) {
        return TS_ENOMEM;
    }
    kids[n++] = first;
    while (c->tok.type == sep) {
        if ((r = lex(c)) != 0) {
            ts_free(kids);
            return r;
        }
        int k = type == NODE_OR ? parse_chain(c, T_AND, NODE_AND) : parse_primary(c);
        if (k < 0 || grow(c, (void **)&kids, &cap, n, sizeof(int)) != 0) {
            ts_free(kids);
            return k < 0 ? k : TS_ENOMEM;
        }
        kids[n++] = k;
    }
    r = new_group(c, type, kids, n);
    ts_free(kids);
    return r;
}

static int parse_or(struct pctx *c)
{
    return parse_chain(c, T_OR, NODE_OR);
}

/* ---------------------------------------------------------------- pattern kinds */

static int compile_json(struct pctx *c, size_t open)
{
    struct ts_pattern *p = c->p;
    c->mode = MODE_JSON;
    c->i = open + 1;
    p->kind = TS_PATTERN_JSON;
    if (grow(c, (void **)&p->jnodes, &c->cap_jnodes, 0, sizeof(*p->jnodes)) != 0) {
        return TS_ENOMEM;
    }
    memset(&p->jnodes[0], 0, sizeof(p->jnodes[0]));
    p->jnodes[0].parent = -1;
    p->jnodes[0].first_child = -1;
    p->jnodes[0].next_sibling = -1;
    p->jnodes[0].in_pattern = true;
    p->n_jnodes = 1;
    p->n_match_jnodes = 1;
    int r = lex(c);
    if (r != 0) {
        return r;
    }
    if (c->tok.type == T_CLOSE) {
        return pfail(c, c->tok.start, "Empty JSON pattern '{}'");
    }
    p->root = parse_or(c);
    if (p->root < 0) {
        return p->root;
    }
    if (c->tok.type != T_CLOSE) {
        if (c->tok.type == T_END) {
            return pfail(c, open, "Unbalanced '{': missing '}'");
        }
        if (c->tok.type == T_RPAREN) {
            return pfail(c, c->tok.start, "Unbalanced ')'");
        }
        return pfail(c, c->tok.start, "Expected '&&', '||' or '}' but found '%.*s'",
                     (int)TS_MIN(c->tok.len, (size_t)64), c->s + c->tok.start);
    }
    if ((r = lex(c)) != 0) {
        return r;
    }
    if (c->tok.type != T_END) {
        return pfail(c, c->tok.start, "Unexpected text after the closing '}'");
    }
    return 0;
}

static int add_spec(struct pctx *c, const char *name, size_t name_len, int expr, size_t at)
{
    struct ts_pattern *p = c->p;
    if (p->n_specs >= PAT_MAX_SPECS) {
        return pfail(c, at, "Too many fields in space-delimited pattern (max %d)",
                     PAT_MAX_SPECS);
    }
    if (grow(c, (void **)&p->specs, &c->cap_specs, p->n_specs, sizeof(*p->specs)) != 0) {
        return TS_ENOMEM;
    }
    struct pat_spec *sp = &p->specs[p->n_specs];
    memset(sp, 0, sizeof(*sp));
    sp->expr = expr;
    if (name) {
        for (int k = 0; k < p->n_specs; k++) {
            if (p->specs[k].name && p->specs[k].name_len == name_len &&
                memcmp(p->specs[k].name, name, name_len) == 0) {
                return pfail(c, at, "Duplicate field name '%.*s'", (int)name_len, name);
            }
        }
        sp->name = ts_strndup(name, name_len);
        if (!sp->name) {
            return nomem(c);
        }
        sp->name_len = name_len;
    }
    p->n_specs++;
    return 0;
}

static int compile_space(struct pctx *c, size_t open)
{
    struct ts_pattern *p = c->p;
    c->mode = MODE_SPACE;
    c->i = open + 1;
    p->kind = TS_PATTERN_SPACE;
    p->ellipsis = -1;
    int r = lex(c);
    if (r != 0) {
        return r;
    }
    if (c->tok.type == T_CLOSE) {
        return pfail(c, c->tok.start, "Empty space-delimited pattern '[]'");
    }
    for (;;) {
        struct tok *t = &c->tok;
        size_t at = t->start;
        if (t->type == T_COMMA || t->type == T_CLOSE) {
            r = add_spec(c, NULL, 0, -1, at); /* empty spec: an unnamed field */
        } else if (tok_is(c, "...")) {
            if (p->ellipsis >= 0) {
                return pfail(c, at, "Only one '...' is allowed in a space-delimited pattern");
            }
            p->ellipsis = p->n_specs;
            r = lex(c);
        } else if (t->type == T_WORD) {
            /* a bare name, or the first condition of the field */
            const char *w = c->s + t->start;
            size_t wlen = t->len;
            if ((r = lex(c)) != 0) {
                return r;
            }
            if (c->tok.type == T_END) {
                return pfail(c, open, "Unbalanced '[': missing ']'");
            }
            if (c->tok.type == T_COMMA || c->tok.type == T_CLOSE) {
                for (size_t k = 0; k < wlen; k++) {
                    if (!is_name_char((unsigned char)w[k])) {
                        return pfail(c, at + k, "Invalid character(s) in field name '%.*s'",
                                     (int)TS_MIN(wlen, (size_t)64), w);
                    }
                }
                r = add_spec(c, w, wlen, -1, at);
            } else {
                c->i = at; /* re-read the name as the start of a condition */
                if ((r = lex(c)) != 0) {
                    return r;
                }
                int first_name = c->n_names;
                int expr = parse_or(c);
                if (expr < 0) {
                    return expr;
                }
                r = add_spec(c, c->names[first_name].name, c->names[first_name].len, expr,
                             at);
            }
        } else if (t->type == T_LPAREN) {
            int first_name = c->n_names;
            int expr = parse_or(c);
            if (expr < 0) {
                return expr;
            }
            r = add_spec(c, c->names[first_name].name, c->names[first_name].len, expr, at);
        } else if (t->type == T_END) {
            return pfail(c, open, "Unbalanced '[': missing ']'");
        } else {
            return pfail(c, at, "Unexpected '%.*s' in space-delimited pattern",
                         (int)TS_MIN(t->len, (size_t)64), c->s + at);
        }
        if (r != 0) {
            return r;
        }
        if (c->tok.type == T_CLOSE) {
            break;
        }
        if (c->tok.type != T_COMMA) {
            if (c->tok.type == T_END) {
                return pfail(c, open, "Unbalanced '[': missing ']'");
            }
            return pfail(c, c->tok.start, "Expected ',' or ']' but found '%.*s'",
                         (int)TS_MIN(c->tok.len, (size_t)64), c->s + c->tok.start);
        }
        if ((r = lex(c)) != 0) {
            return r;
        }
    }
    if ((r = lex(c)) != 0) {
        return r;
    }
    if (c->tok.type != T_END) {
        return pfail(c, c->tok.start, "Unexpected text after the closing ']'");
    }
    /* resolve the field names conditions refer to */
    for (int k = 0; k < c->n_names; k++) {
        const struct pname *nm = &c->names[k];
        int found = -1;
        for (int sidx = 0; sidx < p->n_specs && found < 0; sidx++) {
            if (p->specs[sidx].name && p->specs[sidx].name_len == nm->len &&
                memcmp(p->specs[sidx].name, nm->name, nm->len) == 0) {
                found = sidx;
            }
        }
        if (found < 0) {
            return pfail(c, nm->at, "Unknown field name '%.*s' in condition", (int)nm->len,
                         nm->name);
        }
        p->nodes[nm->node].slot = found;
    }
    p->pre_cap = p->ellipsis >= 0 ? p->ellipsis : p->n_specs;
    p->match_all = p->n_specs == 0; /* "[...]" */
    return 0;
}

static int compile_terms(struct pctx *c, size_t i)
{
    struct ts_pattern *p = c->p;
    const char *s = c->s;
    int group = -1;
    p->kind = TS_PATTERN_TERMS;
    for (;;) {
        while (i < c->len && ts__pat_blank(s[i])) {
            i++;
        }
        if (i >= c->len) {
            break;
        }
        size_t at = i;
        bool neg = false, opt = false;
        if (s[i] == '?' || s[i] == '-') {
            opt = s[i] == '?';
            neg = s[i] == '-';
            i++;
            if (i >= c->len || ts__pat_blank(s[i])) {
                return pfail(c, at, "Empty term after '%c'", s[at]);
            }
        }
        char *text;
        size_t len = 0;
        if (s[i] == '"') {
            size_t q = i++;
            text = ts_malloc(c->len - i + 1);
            if (!text) {
                return nomem(c);
            }
            while (i < c->len && s[i] != '"') {
                if (s[i] == '\\' && i + 1 < c->len && (s[i + 1] == '"' || s[i + 1] == '\\')) {
                    i++;
                }
                text[len++] = s[i++];
            }
            if (i >= c->len) {
                ts_free(text);
                return pfail(c, q, "Unterminated quoted string");
            }
            i++;
            if (i < c->len && !ts__pat_blank(s[i])) {
                ts_free(text);
                return pfail(c, i, "Expected a space after the closing '\"'");
            }
            text[len] = '\0';
            /* A phrase of blanks only (" ") is documented to match every event. */
            bool blank = true;
            for (size_t k = 0; k < len && blank; k++) {
                blank = ts__pat_blank(text[k]);
            }
            if (blank) {
                len = 0;
                text[0] = '\0';
            }
        } else {
            size_t b = i;
            while (i < c->len && !ts__pat_blank(s[i])) {
                unsigned char ch = (unsigned char)s[i];
                if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                      (ch >= '0' && ch <= '9') || ch == '_' || ch >= 0x80)) {
                    size_t e = i;
                    while (e < c->len && !ts__pat_blank(s[e])) {
                        e++;
                    }
                    return pfail(c, i,
                                 "Invalid character(s) in term '%.*s': terms with characters "
                                 "other than letters, digits and '_' must be in double quotes",
                                 (int)TS_MIN(e - at, (size_t)64), s + at);
                }
                i++;
            }
            len = i - b;
            text = ts_strndup(s + b, len);
            if (!text) {
                return nomem(c);
            }
        }
        if (p->n_terms >= PAT_MAX_TERMS) {
            ts_free(text);
            return pfail(c, at, "Too many terms (max %d)", PAT_MAX_TERMS);
        }
        if (grow(c, (void **)&p->terms, &c->cap_terms, p->n_terms, sizeof(*p->terms)) != 0) {
            ts_free(text);
            return TS_ENOMEM;
        }
        if (opt || group < 0) {
            group = p->n_groups++;
        }
        p->terms[p->n_terms++] = (struct pat_term){text, len, neg, group};
    }
    /* match-all when some alternative has only empty positive terms */
    for (int g = 0, k = 0; g < p->n_groups && !p->match_all; g++) {
        bool all_empty = true;
        for (; k < p->n_terms && p->terms[k].group == g; k++) {
            all_empty = all_empty && !p->terms[k].negate && p->terms[k].len == 0;
        }
        p->match_all = all_empty;
    }
    if (p->n_terms == 0) {
        p->kind = TS_PATTERN_MATCH_ALL;
        p->match_all = true;
    }
    return 0;
}

static int compile_regex(struct pctx *c, size_t b, size_t e)
{
    struct ts_pattern *p = c->p;
    p->kind = TS_PATTERN_REGEX;
    for (size_t k = b + 1; k + 1 < e; k++) {
        if (c->s[k] == '%') {
            return pfail(c, b, "A regular expression must be the whole pattern, enclosed in "
                               "'%%' (found '%%' at position %zu)", charpos(c->s, k));
        }
    }
    if (e - b < 2 || c->s[e - 1] != '%') {
        return pfail(c, b, "Unterminated regular expression: missing closing '%%'");
    }
    char rerr[TS_PATTERN_ERR_LEN];
    bool oom;
    p->n_regex = 1;
    p->rx = ts__rx_compile(c->s + b + 1, e - b - 2, rerr, sizeof(rerr), &oom);
    if (!p->rx) {
        return oom ? nomem(c) : pfail(c, (size_t)-1, "%s", rerr);
    }
    return 0;
}

/* ---------------------------------------------------------------- public */

static void value_free(struct pat_value *v)
{
    ts_free(v->s);
    ts__rx_destroy(v->rx);
}

void ts_pattern_destroy(struct ts_pattern *p)
{
    if (!p) {
        return;
    }
    for (int k = 0; k < p->n_terms; k++) {
        ts_free(p->terms[k].s);
    }
    ts_free(p->terms);
    ts__rx_destroy(p->rx);
    for (int k = 0; k < p->n_nodes; k++) {
        if (p->nodes[k].type == NODE_COND) {
            value_free(&p->nodes[k].val);
        }
    }
    ts_free(p->nodes);
    ts_free(p->kids);
    for (int k = 0; k < p->n_jnodes; k++) {
        ts_free(p->jnodes[k].name);
    }
    ts_free(p->jnodes);
    for (int k = 0; k < p->n_jsels; k++) {
        ts_free(p->jsels[k].text);
    }
    ts_free(p->jsels);
    for (int k = 0; k < p->n_specs; k++) {
        ts_free(p->specs[k].name);
    }
    ts_free(p->specs);
    for (int k = 0; k < p->n_refs; k++) {
        ts_free(p->refs[k].text);
    }
    ts_free(p);
}

int ts_pattern_compile(const char *text, size_t len, struct ts_pattern **out, char *err,
                       size_t err_len)
{
    struct pctx c;
    memset(&c, 0, sizeof(c));
    c.s = text;
    c.len = len;
    c.err = err;
    c.err_len = err_len;
    *out = NULL;
    if (err && err_len) {
        err[0] = '\0';
    }
    if (len > 4 * TS_PATTERN_MAX_LEN) {
        return pfail(&c, (size_t)-1, "Filter pattern too long: %zu bytes (max %d characters)",
                     len, TS_PATTERN_MAX_LEN);
    }
    if (!ts_utf8_valid(text, len)) {
        return pfail(&c, (size_t)-1, "Filter pattern is not valid UTF-8");
    }
    size_t chars = charpos(text, len) - 1;
    if (chars > TS_PATTERN_MAX_LEN) {
        return pfail(&c, (size_t)-1, "Filter pattern too long: %zu characters (max %d)", chars,
                     TS_PATTERN_MAX_LEN);
    }
    for (size_t k = 0; k < len; k++) {
        unsigned char ch = (unsigned char)text[k];
        if (ch < 0x20 && !ts__pat_blank((char)ch)) {
            return pfail(&c, k, "Invalid control character 0x%02x in filter pattern", ch);
        }
    }
    c.p = ts_calloc(1, sizeof(*c.p));
    if (!c.p) {
        return nomem(&c);
    }
    c.p->ellipsis = -1;
    c.p->root = -1;
    size_t b = 0, e = len;
    while (b < e && ts__pat_blank(text[b])) {
        b++;
    }
    while (e > b && ts__pat_blank(text[e - 1])) {
        e--;
    }
    int r;
    if (b == e) {
        c.p->kind = TS_PATTERN_MATCH_ALL;
        c.p->match_all = true;
        r = 0;
    } else if (text[b] == '{') {
        r = compile_json(&c, b);
    } else if (text[b] == '[') {
        r = compile_space(&c, b);
    } else if (text[b] == '%') {
        r = compile_regex(&c, b, e);
    } else {
        r = compile_terms(&c, b);
    }
    tok_free(&c.tok);
    ts_free(c.names);
    if (r != 0) {
        ts_pattern_destroy(c.p);
        return c.nomem ? TS_ENOMEM : TS_EINVAL;
    }
    *out = c.p;
    return 0;
}

enum ts_pattern_kind ts_pattern_kind(const struct ts_pattern *p)
{
    return p->kind;
}

bool ts_pattern_is_match_all(const struct ts_pattern *p)
{
    return p->match_all;
}

int ts_pattern_regex_count(const struct ts_pattern *p)
{
    return p->n_regex;
}

int ts_pattern_ref_count(const struct ts_pattern *p)
{
    return p->n_refs;
}

static int ref_fail(char *err, size_t err_len, const char *msg, const char *ref, size_t len)
{
    if (err && err_len) {
        snprintf(err, err_len, "%s: '%.*s'", msg, (int)TS_MIN(len, (size_t)100), ref);
    }
    return TS_EINVAL;
}

int ts_pattern_add_ref(struct ts_pattern *p, const char *ref, size_t ref_len, char *err,
                       size_t err_len)
{
    if (err && err_len) {
        err[0] = '\0';
    }
    for (int k = 0; k < p->n_refs; k++) {
        if (strlen(p->refs[k].text) == ref_len && memcmp(p->refs[k].text, ref, ref_len) == 0) {
            return k;
        }
    }
    if (p->n_refs >= PAT_MAX_REFS) {
        ref_fail(err, err_len, "Too many field references", ref, ref_len);
        return TS_ETOOBIG;
    }
    if (ref_len < 2 || ref[0] != '$') {
        return ref_fail(err, err_len, "Invalid field reference (expected '$.path' or '$name')",
                        ref, ref_len);
    }
    struct pat_ref r;
    memset(&r, 0, sizeof(r));
    if (p->kind == TS_PATTERN_JSON) {
        size_t used;
        char serr[TS_PATTERN_ERR_LEN];
        int node = ts__pat_selector(p, ref, ref_len, &used, serr, sizeof(serr));
        if (node == TS_ENOMEM) {
            return node;
        }
        if (node < 0 || used != ref_len) {
            return ref_fail(err, err_len, node < 0 ? serr : "Invalid JSON field reference",
                            ref, ref_len);
        }
        r.kind = REF_JSON;
        r.idx = node;
    } else if (p->kind == TS_PATTERN_SPACE) {
        const char *name = ref + 1;
        size_t n = ref_len - 1;
        bool digits = true;
        for (size_t k = 0; k < n; k++) {
            digits = digits && name[k] >= '0' && name[k] <= '9';
        }
        if (digits) {
            long pos = 0;
            for (size_t k = 0; k < n && pos <= PAT_MAX_SPECS; k++) {
                pos = pos * 10 + (name[k] - '0');
            }
            long limit = p->ellipsis >= 0 ? PAT_MAX_SPECS : p->n_specs;
            if (pos < 1 || pos > limit) {
                return ref_fail(err, err_len, "Field position out of range", ref, ref_len);
            }
            r.kind = REF_POS;
            r.idx = (int)pos - 1;
            if (p->ellipsis >= 0 && pos > p->pre_cap) {
                p->pre_cap = (int)pos;
            }
        } else {
            int found = -1;
            for (int k = 0; k < p->n_specs && found < 0; k++) {
                if (p->specs[k].name && p->specs[k].name_len == n &&
                    memcmp(p->specs[k].name, name, n) == 0) {
                    found = k;
                }
            }
            if (found < 0) {
                return ref_fail(err, err_len, "No field of the pattern has this name", ref,
                                ref_len);
            }
            r.kind = REF_SPEC;
            r.idx = found;
        }
    } else {
        return ref_fail(err, err_len,
                        "Field references need a JSON or space-delimited filter pattern", ref,
                        ref_len);
    }
    r.text = ts_strndup(ref, ref_len);
    if (!r.text) {
        return TS_ENOMEM;
    }
    p->refs[p->n_refs] = r;
    return p->n_refs++;
}
