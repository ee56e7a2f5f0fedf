/*
 * ts_pattern.h - the CloudWatch Logs filter pattern engine: one compiler for every place a
 * filter pattern appears (FilterLogEvents, metric filters, TestMetricFilter, subscription
 * filters). A pattern is compiled once into an immutable program; matching a message never
 * re-parses the pattern, never allocates, and (for JSON patterns) scans only as much of the
 * message as the selectors need.
 *
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html
 * Grammar and every interpretation choice: docs/filter-patterns.md.
 *
 * Threads: a compiled pattern is immutable after ts_pattern_compile (and after any
 * ts_pattern_add_ref calls); any number of threads may then call the match/extract functions
 * on it concurrently. Matching uses up to about 16 KB of the caller's stack (selector values,
 * field spans, regex state sets).
 */
#ifndef TS_PATTERN_H
#define TS_PATTERN_H

#include <stdbool.h>
#include <stddef.h>

/* AWS limit on filterPattern (characters). */
#define TS_PATTERN_MAX_LEN 1024
/* AWS quota: regular expressions per filter pattern. */
#define TS_PATTERN_MAX_REGEX 2
/* Suggested size of the error message buffer passed to the compile functions. */
#define TS_PATTERN_ERR_LEN 256

struct ts_pattern;

enum ts_pattern_kind {
    TS_PATTERN_MATCH_ALL, /* "" or blanks: every event matches */
    TS_PATTERN_TERMS,     /* unstructured terms, "phrases", ?alternatives, -exclusions */
    TS_PATTERN_JSON,      /* { $.selector = value && ... } */
    TS_PATTERN_SPACE,     /* [ field, name = value, ... ] */
    TS_PATTERN_REGEX      /* %regex% as the whole pattern */
};

/* Compiles `len` bytes of `text` (need not be NUL-terminated). On success returns 0 and
 * stores a new pattern in *out, owned by the caller (ts_pattern_destroy). On an invalid
 * pattern returns TS_EINVAL and writes the InvalidParameterException message text naming the
 * problem (and its 1-based character position where there is one) into err; TS_ENOMEM on
 * allocation failure. err may be NULL. Any thread. */
int ts_pattern_compile(const char *text, size_t len, struct ts_pattern **out, char *err,
                       size_t err_len);

/* Frees a compiled pattern. NULL is a no-op. */
void ts_pattern_destroy(struct ts_pattern *p);

/* The kind of pattern (dispatch on its first non-blank character). */
enum ts_pattern_kind ts_pattern_kind(const struct ts_pattern *p);

/* True if the pattern matches every message ("", blanks, " ", "[...]"); callers may skip
 * evaluation entirely. */
bool ts_pattern_is_match_all(const struct ts_pattern *p);

/* Number of %regex% occurrences in the pattern (for the per-log-group regex quota). */
int ts_pattern_regex_count(const struct ts_pattern *p);

/* True if the message matches. msg need not be NUL-terminated. Never allocates; thread-safe
 * on a shared pattern. A JSON pattern never matches a message that is not a JSON object. */
bool ts_pattern_match(const struct ts_pattern *p, const char *msg, size_t len);

/* ------------------------------------------------------------ field references
 * Metric transformations name event fields: metricValue and dimension values are either
 * literals or references, "$.path[0].x" for JSON patterns and "$name" (a named field) or
 * "$N" (1-based field position) for space-delimited patterns. References are compiled into
 * the pattern so one pass over the message both matches and captures them. */

enum ts_pattern_value_type {
    TS_PATTERN_VALUE_NONE = 0, /* the reference did not resolve (missing field) */
    TS_PATTERN_VALUE_STRING,   /* JSON string; raw is the text between the quotes */
    TS_PATTERN_VALUE_NUMBER,   /* JSON number; raw is its text as written */
    TS_PATTERN_VALUE_TRUE,
    TS_PATTERN_VALUE_FALSE,
    TS_PATTERN_VALUE_NULL,
    TS_PATTERN_VALUE_OBJECT, /* a JSON object or array: has no scalar value */
    TS_PATTERN_VALUE_ARRAY,
    TS_PATTERN_VALUE_FIELD /* a space-delimited field; raw is the field without quotes */
};

/* A captured value. raw points into the message passed to the match call and is valid as
 * long as that message is. escaped: raw holds JSON escapes (decode with
 * ts_pattern_value_text). */
struct ts_pattern_value {
    enum ts_pattern_value_type type;
    const char *raw;
    size_t raw_len;
    bool escaped;
};

/* Adds a field reference to p and returns its id (>= 0, in the order added), or TS_EINVAL
 * with a message in err when the reference is malformed or does not fit the pattern kind
 * (e.g. "$name" on a JSON pattern, a name no field carries, or any reference on a term or
 * regex pattern), TS_ETOOBIG past 16 references, TS_ENOMEM. Adding the same reference twice
 * returns the same id. Not thread-safe: call right after compiling, before sharing p. */
int ts_pattern_add_ref(struct ts_pattern *p, const char *ref, size_t ref_len, char *err,
                       size_t err_len);

/* Number of references added so far. */
int ts_pattern_ref_count(const struct ts_pattern *p);

/* Like ts_pattern_match, and when the message matches also fills vals[id] for every
 * reference id < n_vals (unresolved ones get TS_PATTERN_VALUE_NONE). vals is untouched
 * when there is no match. Never allocates; thread-safe. */
bool ts_pattern_match_refs(const struct ts_pattern *p, const char *msg, size_t len,
                           struct ts_pattern_value *vals, size_t n_vals);

/* Writes the text of a captured value into out (NUL-terminated): JSON strings decoded,
 * numbers as written, "true"/"false"/"null", fields verbatim. Stores the text length in
 * *out_used when not NULL. Returns 0, TS_ENOTFOUND for NONE/OBJECT/ARRAY, TS_ETOOBIG if
 * out_len is too small (nothing useful is written then). */
int ts_pattern_value_text(const struct ts_pattern_value *v, char *out, size_t out_len,
                          size_t *out_used);

/* Parses a captured value as a number (a JSON number, or a string/field whose whole text is
 * a decimal number). Returns 0, TS_ENOTFOUND for a missing value, TS_EINVAL if not numeric. */
int ts_pattern_value_number(const struct ts_pattern_value *v, double *out);

/* ------------------------------------------------------------ TestMetricFilter */

/* Receives one extracted value: key is "$name"/"$N" (space-delimited) or the selector text
 * "$.a.b" (JSON); val is decoded text. Return 0 to continue, non-zero to stop (that value is
 * then returned by ts_pattern_test). */
typedef int (*ts_pattern_extract_fn)(void *ctx, const char *key, size_t key_len,
                                     const char *val, size_t val_len);

/* TestMetricFilter for one message: returns 1 if it matches, after calling fn once per
 * extracted value in order (space-delimited: every field position, named ones as "$name",
 * positions absorbed by "..." or unnamed specs as "$N"; JSON: every selector the pattern
 * uses that resolves to a scalar, in order of first use; terms and regex: none); 0 if it
 * does not match (fn is not called); TS_ENOMEM or TS_ETOOBIG on failure, or fn's non-zero
 * result. Allocates (it is not meant for the ingestion hot path). Any thread. */
int ts_pattern_test(const struct ts_pattern *p, const char *msg, size_t len,
                    ts_pattern_extract_fn fn, void *ctx);

#endif
