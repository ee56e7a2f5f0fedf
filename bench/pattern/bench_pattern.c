/*
 * bench_pattern.c - filter pattern evaluation rate (evaluations per second, one core).
 *
 *   bench_pattern RECORDS.jsonl PATTERNS.tsv [seconds-per-pattern]
 *
 * RECORDS.jsonl: lines {"id": ..., "message": "<log event message>"} (gen_cloudtrail.py).
 * PATTERNS.tsv: a header line, then rows whose first column is an id and last column the
 * filter pattern. For each pattern the records are matched round-robin for the given time
 * (CPU time) and one line "id<TAB>evals_per_s<TAB>matches_per_pass<TAB>records" is printed. Two
 * reference lines follow: "__cjson_parse" (cJSON DOM parse of each record, what a non-lazy
 * engine pays before evaluating anything) and "__full_scan" (our scanner forced to read the
 * whole record by a selector that is never present).
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "trailstream/ts_core.h"
#include "trailstream/ts_pattern.h"

/* CPU time of this thread: the machine is shared, so rates are per CPU-second (per core),
 * not per wall-clock second. */
static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct rec {
    char *msg;
    size_t len;
};

static struct rec *load_records(const char *path, size_t *n)
{
    FILE *f = fopen(path, "r");
    static char line[1 << 20];
    struct rec *r = NULL;
    size_t cap = 0;
    *n = 0;
    if (!f) {
        return NULL;
    }
    while (fgets(line, sizeof(line), f)) {
        cJSON *j = cJSON_Parse(line);
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");
        if (cJSON_IsString(m)) {
            if (*n == cap) {
                cap = cap ? cap * 2 : 1024;
                r = ts_realloc(r, cap * sizeof(*r));
            }
            r[*n].msg = ts_strdup(m->valuestring);
            r[*n].len = strlen(m->valuestring);
            (*n)++;
        }
        cJSON_Delete(j);
    }
    fclose(f);
    return r;
}

/* Runs fn over the records for about `secs`; returns evaluations per second. */
static double measure(const struct ts_pattern *p, const struct rec *r, size_t n, double secs,
                      size_t *matches)
{
    uint64_t start = cpu_ns(), evals = 0, elapsed;
    size_t m = 0;
    for (size_t k = 0; k < n; k++) {
        m += ts_pattern_match(p, r[k].msg, r[k].len);
    }
    *matches = m;
    do {
        for (int rep = 0; rep < 4; rep++) {
            for (size_t k = 0; k < n; k++) {
                m += ts_pattern_match(p, r[k].msg, r[k].len);
            }
            evals += n;
        }
        elapsed = cpu_ns() - start;
    } while (elapsed < (uint64_t)(secs * 1e9));
    if (m == 0xffffffffu) {
        fputs("", stderr); /* keep m alive */
    }
    return (double)evals / ((double)elapsed / 1e9);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s RECORDS.jsonl PATTERNS.tsv [seconds]\n", argv[0]);
        return 2;
    }
    double secs = argc > 3 ? strtod(argv[3], NULL) : 0.5;
    size_t n;
    struct rec *recs = load_records(argv[1], &n);
    if (!recs || n == 0) {
        fprintf(stderr, "no records in %s\n", argv[1]);
        return 1;
    }
    FILE *f = fopen(argv[2], "r");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", argv[2]);
        return 1;
    }
    static char line[8192];
    bool header = true;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        if (header || line[0] == '\0') {
            header = false;
            continue;
        }
        char *id = line;
        char *tab = strchr(line, '\t');
        char *pat = strrchr(line, '\t');
        if (!tab) {
            continue;
        }
        *tab = '\0';
        pat++;
        struct ts_pattern *p;
        char err[TS_PATTERN_ERR_LEN];
        if (ts_pattern_compile(pat, strlen(pat), &p, err, sizeof(err)) != 0) {
            printf("%s\terror\t%s\n", id, err);
            continue;
        }
        size_t matches = 0;
        double rate = measure(p, recs, n, secs, &matches);
        printf("%s\t%.0f\t%zu\t%zu\n", id, rate, matches, n);
        fflush(stdout);
        ts_pattern_destroy(p);
    }
    fclose(f);

    /* references: a cJSON DOM per record, and our scanner reading every byte */
    uint64_t start = cpu_ns(), parses = 0;
    do {
        for (size_t k = 0; k < n; k++) {
            cJSON *j = cJSON_ParseWithLength(recs[k].msg, recs[k].len);
            cJSON_Delete(j);
        }
        parses += n;
    } while (cpu_ns() - start < (uint64_t)(secs * 1e9));
    double prate = (double)parses / ((double)(cpu_ns() - start) / 1e9);
    printf("__cjson_parse\t%.0f\t0\t%zu\n", prate, n);
    struct ts_pattern *full;
    const char *fp = "{ $.neverPresentField NOT EXISTS }";
    if (ts_pattern_compile(fp, strlen(fp), &full, NULL, 0) == 0) {
        size_t matches = 0;
        printf("__full_scan\t%.0f\t%zu\t%zu\n", measure(full, recs, n, secs, &matches), matches,
               n);
        ts_pattern_destroy(full);
    }
    for (size_t k = 0; k < n; k++) {
        ts_free(recs[k].msg);
    }
    ts_free(recs);
    return 0;
}
