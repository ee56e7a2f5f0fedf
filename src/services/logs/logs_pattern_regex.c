/*
 * logs_pattern_regex.c - the %regex% subset CloudWatch Logs supports, compiled to a small
 * NFA and run as a Thompson simulation.
 *
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html
 * ("Supported regular expressions (regex) syntax").
 *
 * Why our own matcher instead of POSIX regcomp/regexec: the AWS subset has no groups, so
 * every alternative is a flat sequence of atoms with quantifiers. That compiles to a list of
 * positions where a state is one position, and a Thompson simulation over those runs in
 * O(text * positions) with no backtracking blow-up, no allocation per match, no locale, no
 * NUL terminator (a message is a length-delimited span), and no lock (glibc's regexec takes
 * one per regex_t, which would serialize subscription workers sharing a pattern). It also
 * lets us accept exactly the documented character set and reject the rest with a message.
 *
 * Text is matched per code point: a multi-byte UTF-8 sequence is one unit that only '.',
 * negated classes and \W \D \S match (the pattern itself may contain ASCII only).
 */
#include <stdio.h>
#include <string.h>

#include "logs_pattern_int.h"
#include "trailstream/ts_core.h"

enum { RX_ONE, RX_OPT, RX_STAR };
enum { A_CHAR, A_ANY, A_CLASS, A_BOL, A_EOL, A_ACCEPT };

#define RX_NONASCII 0x80 /* the unit value of any non-ASCII code point */
#define RX_MAX_REPEAT 1000

struct rx_pos {
    uint8_t atom;
    uint8_t kind;
    uint8_t ch;
    uint16_t cls;
};

struct rx_class {
    uint64_t bits[2];
    bool nonascii;
};

struct ts__rx {
    struct rx_pos *pos;
    int n_pos;
    int *starts;
    int n_alts;
    struct rx_class *cls;
    int n_cls;
    bool all_bol;      /* every alternative starts with '^' */
    const char *lit;   /* the whole regex is one literal: plain substring search */
    size_t lit_len;
    char *lit_buf;
};

struct rx_build {
    struct ts__rx *rx;
    int cap_pos;
    int cap_cls;
    char *err;
    size_t err_len;
    bool nomem;
};

static bool rx_allowed(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
        return true;
    }
    return c != '\0' && strchr(":_#=@/;,-^$?[]{}|\\*+.", c) != NULL;
}

static void cls_set(struct rx_class *c, unsigned u)
{
    c->bits[u >> 6] |= (uint64_t)1 << (u & 63);
}

static bool cls_has(const struct rx_class *c, unsigned u)
{
    if (u >= 128) {
        return c->nonascii;
    }
    return (c->bits[u >> 6] >> (u & 63)) & 1;
}

/* Adds the set named by an escape letter (d w s, upper case negated) to c. */
static bool cls_add_escape(struct rx_class *c, char e)
{
    struct rx_class t;
    memset(&t, 0, sizeof(t));
    char lower = (char)(e | 0x20);
    for (unsigned u = 0; u < 128; u++) {
        bool in = false;
        if (lower == 'd') {
            in = u >= '0' && u <= '9';
        } else if (lower == 'w') {
            in = (u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') ||
                 u == '_';
        } else if (lower == 's') {
            in = u == ' ' || u == '\t' || u == '\n' || u == '\r' || u == '\f' || u == '\v';
        } else {
            return false;
        }
        if (e != lower) {
            in = !in;
        }
        if (in) {
            cls_set(&t, u);
        }
    }
    t.nonascii = e != lower;
    c->bits[0] |= t.bits[0];
    c->bits[1] |= t.bits[1];
    c->nonascii = c->nonascii || t.nonascii;
    return true;
}

static int rx_fail(struct rx_build *b, const char *msg, size_t at)
{
    if (b->err && b->err_len) {
        snprintf(b->err, b->err_len, "%s (character %zu of the regex)", msg, at + 1);
    }
    return -1;
}

static int rx_new_class(struct rx_build *b)
{
    struct ts__rx *rx = b->rx;
    if (rx->n_cls >= 65535) {
        return -1;
    }
    if (rx->n_cls == b->cap_cls) {
        int cap = b->cap_cls ? b->cap_cls * 2 : 4;
        struct rx_class *n = ts_realloc(rx->cls, (size_t)cap * sizeof(*n));
        if (!n) {
            b->nomem = true;
            return -1;
        }
        rx->cls = n;
        b->cap_cls = cap;
    }
    memset(&rx->cls[rx->n_cls], 0, sizeof(rx->cls[0]));
    return rx->n_cls++;
}

static int rx_push(struct rx_build *b, struct rx_pos pos)
{
    struct ts__rx *rx = b->rx;
    if (rx->n_pos >= PAT_MAX_RX_STATES) {
        return -2;
    }
    if (rx->n_pos == b->cap_pos) {
        int cap = b->cap_pos ? b->cap_pos * 2 : 16;
        struct rx_pos *n = ts_realloc(rx->pos, (size_t)cap * sizeof(*n));
        if (!n) {
            b->nomem = true;
            return -1;
        }
        rx->pos = n;
        b->cap_pos = cap;
    }
    rx->pos[rx->n_pos++] = pos;
    return 0;
}

/* Parses a bracket expression starting after '['; returns the index after ']' or -1. */
static long rx_parse_class(struct rx_build *b, const char *s, size_t len, size_t i, int *cls)
{
    size_t open = i - 1;
    int ci = rx_new_class(b);
    if (ci < 0) {
        return b->nomem ? -1 : rx_fail(b, "Regular expression too complex", i);
    }
    struct rx_class *c = &b->rx->cls[ci];
    bool neg = false;
    if (i < len && s[i] == '^') {
        neg = true;
        i++;
    }
    bool first = true;
    for (;;) {
        if (i >= len) {
            return rx_fail(b, "Unterminated '[' in regular expression", open);
        }
        unsigned char lo = (unsigned char)s[i];
        if (lo == ']' && !first) {
            i++;
            break;
        }
        first = false;
        if (lo == '\\') {
            if (i + 1 >= len) {
                return rx_fail(b, "Dangling '\\' in regular expression", i);
            }
            if (cls_add_escape(c, s[i + 1])) {
                i += 2;
                continue;
            }
            lo = (unsigned char)s[i + 1];
            i += 2;
        } else {
            i++;
        }
        unsigned char hi = lo;
        if (i + 1 < len && s[i] == '-' && s[i + 1] != ']') {
            hi = (unsigned char)s[i + 1];
            size_t at = i;
            i += 2;
            if (hi == '\\') {
                if (i >= len) {
                    return rx_fail(b, "Dangling '\\' in regular expression", at);
                }
                hi = (unsigned char)s[i++];
            }
            if (hi < lo) {
                return rx_fail(b, "Invalid range in '[...]' of regular expression",
                               at);
            }
        }
        for (unsigned u = lo; u <= hi; u++) {
            cls_set(c, u);
        }
    }
    if (neg) {
        c->bits[0] = ~c->bits[0];
        c->bits[1] = ~c->bits[1];
        c->nonascii = !c->nonascii;
    }
    *cls = ci;
    return (long)i;
}

/* Parses "{m}", "{m,}" or "{m,n}" at s[i] == '{'; returns the index after '}' or -1. */
static long rx_parse_braces(struct rx_build *b, const char *s, size_t len, size_t i, int *min,
                            int *max)
{
    size_t open = i++;
    long m = 0, n;
    if (i >= len || s[i] < '0' || s[i] > '9') {
        return rx_fail(b, "Invalid repetition '{' in regular expression", open);
    }
    while (i < len && s[i] >= '0' && s[i] <= '9') {
        m = m * 10 + (s[i++] - '0');
        if (m > RX_MAX_REPEAT) {
            return rx_fail(b, "Repetition count too large (max 1000)", open);
        }
    }
    n = m;
    if (i < len && s[i] == ',') {
        i++;
        if (i < len && s[i] == '}') {
            n = -1;
        } else {
            if (i >= len || s[i] < '0' || s[i] > '9') {
                return rx_fail(b, "Invalid repetition '{' in regular expression",
                               open);
            }
            n = 0;
            while (i < len && s[i] >= '0' && s[i] <= '9') {
                n = n * 10 + (s[i++] - '0');
                if (n > RX_MAX_REPEAT) {
                    return rx_fail(b, "Repetition count too large (max 1000)",
                                   open);
                }
            }
            if (n < m) {
                return rx_fail(b, "Invalid repetition range in regular expression",
                               open);
            }
        }
    }
    if (i >= len || s[i] != '}') {
        return rx_fail(b, "Invalid repetition '{' in regular expression", open);
    }
    *min = (int)m;
    *max = (int)n;
    return (long)i + 1;
}

static int rx_emit(struct rx_build *b, struct rx_pos atom, int min, int max)
{
    int r = 0;
    for (int k = 0; k < min && r == 0; k++) {
        atom.kind = RX_ONE;
        r = rx_push(b, atom);
    }
    if (max < 0) {
        atom.kind = RX_STAR;
        if (r == 0) {
            r = rx_push(b, atom);
        }
    } else {
        for (int k = min; k < max && r == 0; k++) {
            atom.kind = RX_OPT;
            r = rx_push(b, atom);
        }
    }
    return r;
}

static int rx_parse(struct rx_build *b, const char *s, size_t len)
{
    struct ts__rx *rx = b->rx;
    int cap_starts = 0;
    size_t i = 0;
    rx->all_bol = true;
    for (;;) {
        /* one alternative */
        size_t alt_begin = i;
        if (rx->n_alts == cap_starts) {
            int cap = cap_starts ? cap_starts * 2 : 4;
            int *n = ts_realloc(rx->starts, (size_t)cap * sizeof(*n));
            if (!n) {
                b->nomem = true;
                return -1;
            }
            rx->starts = n;
            cap_starts = cap;
        }
        rx->starts[rx->n_alts++] = rx->n_pos;
        if (i < len && s[i] != '^') {
            rx->all_bol = false;
        }
        while (i < len && s[i] != '|') {
            struct rx_pos atom = {A_CHAR, RX_ONE, 0, 0};
            size_t at = i;
            unsigned char c = (unsigned char)s[i];
            bool anchor = false;
            if (c == '*' || c == '+' || c == '?' || c == '{') {
                return rx_fail(b, "Nothing to repeat in regular expression", at);
            }
            if (c == '^' || c == '$') {
                atom.atom = c == '^' ? A_BOL : A_EOL;
                anchor = true;
                i++;
            } else if (c == '.') {
                atom.atom = A_ANY;
                i++;
            } else if (c == '[') {
                int ci;
                long r = rx_parse_class(b, s, len, i + 1, &ci);
                if (r < 0) {
                    return -1;
                }
                atom.atom = A_CLASS;
                atom.cls = (uint16_t)ci;
                i = (size_t)r;
            } else if (c == '\\') {
                if (i + 1 >= len) {
                    return rx_fail(b, "Dangling '\\' in regular expression", at);
                }
                char e = s[i + 1];
                int ci = -1;
                if (strchr("dDwWsS", e)) {
                    ci = rx_new_class(b);
                    if (ci < 0) {
                        return b->nomem ? -1
                                        : rx_fail(b, "Regular expression too complex", at);
                    }
                    cls_add_escape(&rx->cls[ci], e);
                    atom.atom = A_CLASS;
                    atom.cls = (uint16_t)ci;
                } else {
                    atom.ch = (uint8_t)e;
                }
                i += 2;
            } else {
                atom.ch = c;
                i++;
            }
            int min = 1, max = 1;
            if (i < len && (s[i] == '*' || s[i] == '+' || s[i] == '?' || s[i] == '{')) {
                if (anchor) {
                    return rx_fail(b, "Anchor cannot be repeated in regular expression",
                                   i);
                }
                if (s[i] == '{') {
                    long r = rx_parse_braces(b, s, len, i, &min, &max);
                    if (r < 0) {
                        return -1;
                    }
                    i = (size_t)r;
                } else {
                    min = s[i] == '+' ? 1 : 0;
                    max = s[i] == '?' ? 1 : -1;
                    i++;
                }
                if (i < len && (s[i] == '*' || s[i] == '+' || s[i] == '?' || s[i] == '{')) {
                    return rx_fail(b, "Nested quantifier in regular expression",
                                   i);
                }
            }
            int r = rx_emit(b, atom, min, max);
            if (r == -2) {
                return rx_fail(b, "Regular expression too complex (repetitions expand past 2048 "
                                  "states)", at);
            }
            if (r < 0) {
                return -1;
            }
        }
        if (i == alt_begin) {
            return rx_fail(b, "Empty alternative in regular expression", i);
        }
        struct rx_pos acc = {A_ACCEPT, RX_ONE, 0, 0};
        int r = rx_push(b, acc);
        if (r == -2) {
            return rx_fail(b, "Regular expression too complex", i);
        }
        if (r < 0) {
            return -1;
        }
        if (i >= len) {
            return 0;
        }
        i++; /* '|' */
        if (i >= len) {
            return rx_fail(b, "Empty alternative in regular expression", i);
        }
    }
}

struct ts__rx *ts__rx_compile(const char *s, size_t len, char *err, size_t err_len,
                              bool *nomem)
{
    *nomem = false;
    if (len == 0) {
        if (err && err_len) {
            snprintf(err, err_len, "Empty regular expression '%%%%'");
        }
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (rx_allowed(c)) {
            continue;
        }
        if (err && err_len) {
            if (c == '(' || c == ')') {
                snprintf(err, err_len,
                         "Invalid regular expression: groups '(' ')' are not supported "
                         "(character %zu of the regex)", i + 1);
            } else if (c >= 0x80) {
                snprintf(err, err_len,
                         "Invalid regular expression: multibyte characters are not supported "
                         "(character %zu of the regex)", i + 1);
            } else if (c >= 0x20 && c < 0x7f) {
                snprintf(err, err_len,
                         "Invalid character '%c' in regular expression "
                         "(character %zu of the regex)", c,
                         i + 1);
            } else {
                snprintf(err, err_len,
                         "Invalid character 0x%02x in regular expression "
                         "(character %zu of the regex)", c,
                         i + 1);
            }
        }
        return NULL;
    }
    struct ts__rx *rx = ts_calloc(1, sizeof(*rx));
    if (!rx) {
        *nomem = true;
        return NULL;
    }
    struct rx_build b = {rx, 0, 0, err, err_len, false};
    if (rx_parse(&b, s, len) != 0) {
        *nomem = b.nomem;
        if (b.nomem && err && err_len) {
            snprintf(err, err_len, "Out of memory");
        }
        ts__rx_destroy(rx);
        return NULL;
    }
    /* A regex that is one plain literal (e.g. %AUTHORIZED%) runs as a substring search. */
    bool literal = rx->n_alts == 1;
    for (int k = 0; literal && k < rx->n_pos - 1; k++) {
        literal = rx->pos[k].atom == A_CHAR && rx->pos[k].kind == RX_ONE;
    }
    if (literal) {
        rx->lit_buf = ts_malloc((size_t)rx->n_pos);
        if (rx->lit_buf) {
            for (int k = 0; k < rx->n_pos - 1; k++) {
                rx->lit_buf[k] = (char)rx->pos[k].ch;
            }
            rx->lit = rx->lit_buf;
            rx->lit_len = (size_t)rx->n_pos - 1;
        }
    }
    return rx;
}

void ts__rx_destroy(struct ts__rx *rx)
{
    if (!rx) {
        return;
    }
    ts_free(rx->pos);
    ts_free(rx->starts);
    ts_free(rx->cls);
    ts_free(rx->lit_buf);
    ts_free(rx);
}

struct rx_set {
    uint64_t bits[PAT_MAX_RX_STATES / 64];
    uint16_t list[PAT_MAX_RX_STATES];
    int n;
};

static void set_clear(struct rx_set *set)
{
    for (int k = 0; k < set->n; k++) {
        set->bits[set->list[k] >> 6] = 0;
    }
    set->n = 0;
}

/* Adds position p and everything reachable from it without consuming text at offset i.
 * Returns true when that reaches an accepting position. */
static bool rx_add(const struct ts__rx *rx, struct rx_set *set, int p, size_t i, size_t len)
{
    for (;;) {
        const struct rx_pos *pos = &rx->pos[p];
        if (pos->atom == A_ACCEPT) {
            return true;
        }
        if (pos->atom == A_BOL || pos->atom == A_EOL) {
            if ((pos->atom == A_BOL && i != 0) || (pos->atom == A_EOL && i != len)) {
                return false;
            }
            p++;
            continue;
        }
        uint64_t bit = (uint64_t)1 << (p & 63);
        if (set->bits[p >> 6] & bit) {
            return false; /* its closure is already in the set */
        }
        set->bits[p >> 6] |= bit;
        set->list[set->n++] = (uint16_t)p;
        if (pos->kind == RX_ONE) {
            return false;
        }
        p++;
    }
}

static bool rx_atom_match(const struct ts__rx *rx, const struct rx_pos *pos, unsigned u)
{
    switch (pos->atom) {
    case A_CHAR:
        return u == pos->ch;
    case A_ANY:
        return true;
    case A_CLASS:
        return cls_has(&rx->cls[pos->cls], u);
    default:
        return false;
    }
}

bool ts__rx_search(const struct ts__rx *rx, const char *text, size_t len)
{
    if (rx->lit) {
        return ts__pat_contains(text, len, rx->lit, rx->lit_len);
    }
    struct rx_set a, b;
    struct rx_set *cur = &a, *nxt = &b;
    memset(a.bits, 0, sizeof(a.bits));
    memset(b.bits, 0, sizeof(b.bits));
    a.n = b.n = 0;
    size_t i = 0;
    for (;;) {
        if (i == 0 || !rx->all_bol) {
            for (int k = 0; k < rx->n_alts; k++) {
                if (rx_add(rx, cur, rx->starts[k], i, len)) {
                    return true;
                }
            }
        }
        if (i >= len || (cur->n == 0 && rx->all_bol)) {
            return false;
        }
        unsigned char c = (unsigned char)text[i];
        unsigned u = c;
        size_t adv = 1;
        if (c >= 0x80) {
            u = RX_NONASCII;
            size_t want = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
            while (adv < want && i + adv < len && ((unsigned char)text[i + adv] & 0xc0) == 0x80) {
                adv++;
            }
        }
        for (int k = 0; k < cur->n; k++) {
            int p = cur->list[k];
            const struct rx_pos *pos = &rx->pos[p];
            if (rx_atom_match(rx, pos, u)) {
                if (rx_add(rx, nxt, pos->kind == RX_STAR ? p : p + 1, i + adv, len)) {
                    return true;
                }
            }
        }
        set_clear(cur);
        struct rx_set *t = cur;
        cur = nxt;
        nxt = t;
        i += adv;
    }
}
