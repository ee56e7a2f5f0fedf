/* core_metrics.c - process-wide counters, gauges and histograms in Prometheus text format.
 *
 * A small open hash table under one mutex: metric updates happen once per request or batch,
 * never per record, so contention stays negligible next to the work they count. */
#include "trailstream/ts_core.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define METRIC_NAME_MAX 96
#define METRIC_LABELS_MAX 192
#define METRIC_SLOTS 4096

static const double hist_bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                     0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define HIST_N TS_ARRAY_LEN(hist_bounds)

enum metric_kind { KIND_COUNTER, KIND_GAUGE, KIND_HIST };

struct metric {
    bool used;
    enum metric_kind kind;
    char name[METRIC_NAME_MAX];
    char labels[METRIC_LABELS_MAX];
    double value;              /* counter/gauge value, histogram sum */
    uint64_t count;            /* histogram observation count */
    uint64_t buckets[HIST_N];  /* histogram cumulative-by-render bucket counts */
};

struct family {
    char name[METRIC_NAME_MAX];
    char type[16];
    char help[160];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct metric *slots;
static struct family families[128];
static size_t n_families;

int ts_metrics_init(void)
{
    pthread_mutex_lock(&lock);
    if (!slots) {
        slots = ts_calloc(METRIC_SLOTS, sizeof(*slots));
    }
    int rc = slots ? 0 : TS_ENOMEM;
    pthread_mutex_unlock(&lock);
    return rc;
}

void ts_metrics_shutdown(void)
{
    pthread_mutex_lock(&lock);
    ts_free(slots);
    slots = NULL;
    n_families = 0;
    pthread_mutex_unlock(&lock);
}

/* Finds or creates the slot for (name, labels). Called with the lock held; NULL when the
 * table is full or not initialised (the update is then dropped, never fatal). */
static struct metric *find(const char *name, const char *labels, enum metric_kind kind)
{
    if (!slots) {
        return NULL;
    }
    if (!labels) {
        labels = "";
    }
    uint32_t h = ts_crc32c(ts_crc32c(0, name, strlen(name)), labels, strlen(labels));
    for (size_t i = 0; i < METRIC_SLOTS; i++) {
        struct metric *m = &slots[(h + i) % METRIC_SLOTS];
        if (!m->used) {
            if (strlen(name) >= METRIC_NAME_MAX || strlen(labels) >= METRIC_LABELS_MAX) {
                return NULL;
            }
            m->used = true;
            m->kind = kind;
            ts_strlcpy(m->name, name, sizeof(m->name));
            ts_strlcpy(m->labels, labels, sizeof(m->labels));
            return m;
        }
        if (strcmp(m->name, name) == 0 && strcmp(m->labels, labels) == 0) {
            return m;
        }
    }
    return NULL;
}

void ts_metric_add(const char *name, const char *labels, double v)
{
    pthread_mutex_lock(&lock);
    struct metric *m = find(name, labels, KIND_COUNTER);
    if (m) {
        m->value += v;
    }
    pthread_mutex_unlock(&lock);
}

void ts_metric_set(const char *name, const char *labels, double v)
{
    pthread_mutex_lock(&lock);
    struct metric *m = find(name, labels, KIND_GAUGE);
    if (m) {
        m->value = v;
    }
    pthread_mutex_unlock(&lock);
}

void ts_metric_observe(const char *name, const char *labels, double seconds)
{
    pthread_mutex_lock(&lock);
    struct metric *m = find(name, labels, KIND_HIST);
    if (m) {
        m->value += seconds;
        m->count++;
        for (size_t i = 0; i < HIST_N; i++) {
            if (seconds <= hist_bounds[i]) {
                m->buckets[i]++;
                break;
            }
        }
    }
    pthread_mutex_unlock(&lock);
}

double ts_metric_get(const char *name, const char *labels)
{
    double v = 0;
    pthread_mutex_lock(&lock);
    if (slots) {
        uint32_t h = ts_crc32c(ts_crc32c(0, name, strlen(name)), labels ? labels : "",
                               strlen(labels ? labels : ""));
        for (size_t i = 0; i < METRIC_SLOTS; i++) {
            struct metric *m = &slots[(h + i) % METRIC_SLOTS];
            if (!m->used) {
                break;
            }
            if (strcmp(m->name, name) == 0 && strcmp(m->labels, labels ? labels : "") == 0) {
                v = m->kind == KIND_HIST ? (double)m->count : m->value;
                break;
            }
        }
    }
    pthread_mutex_unlock(&lock);
    return v;
}

void ts_metric_describe(const char *name, const char *type, const char *help)
{
    pthread_mutex_lock(&lock);
    bool found = false;
    for (size_t i = 0; i < n_families; i++) {
        found |= strcmp(families[i].name, name) == 0;
    }
    if (!found && n_families < TS_ARRAY_LEN(families)) {
        struct family *f = &families[n_families++];
        ts_strlcpy(f->name, name, sizeof(f->name));
        ts_strlcpy(f->type, type, sizeof(f->type));
        ts_strlcpy(f->help, help, sizeof(f->help));
    }
    pthread_mutex_unlock(&lock);
}

static int cmp_metric(const void *a, const void *b)
{
    const struct metric *x = *(const struct metric *const *)a;
    const struct metric *y = *(const struct metric *const *)b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->labels, y->labels);
}

static int render_one(struct ts_buf *out, const struct metric *m)
{
    const char *sep = m->labels[0] ? "," : "";
    int rc = 0;
    if (m->kind != KIND_HIST) {
        if (m->labels[0]) {
            return ts_buf_addf(out, "%s{%s} %.17g\n", m->name, m->labels, m->value);
        }
        return ts_buf_addf(out, "%s %.17g\n", m->name, m->value);
    }
    uint64_t cum = 0;
    for (size_t i = 0; i < HIST_N && !rc; i++) {
        cum += m->buckets[i];
        rc = ts_buf_addf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", m->name, m->labels, sep,
                         hist_bounds[i], (unsigned long long)cum);
    }
    if (!rc) {
        rc = ts_buf_addf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", m->name, m->labels, sep,
                         (unsigned long long)m->count);
    }
    if (!rc) {
        rc = ts_buf_addf(out, "%s_sum%s%s%s %.17g\n%s_count%s%s%s %llu\n", m->name,
                         m->labels[0] ? "{" : "", m->labels, m->labels[0] ? "}" : "", m->value,
                         m->name, m->labels[0] ? "{" : "", m->labels, m->labels[0] ? "}" : "",
                         (unsigned long long)m->count);
    }
    return rc;
}

int ts_metrics_render(struct ts_buf *out)
{
    pthread_mutex_lock(&lock);
    int rc = 0;
    size_t n = 0;
    struct metric **sorted = NULL;
    if (slots) {
        sorted = ts_malloc(METRIC_SLOTS * sizeof(*sorted));
        if (!sorted) {
            rc = TS_ENOMEM;
            goto out;
        }
        for (size_t i = 0; i < METRIC_SLOTS; i++) {
            if (slots[i].used) {
                sorted[n++] = &slots[i];
            }
        }
        qsort(sorted, n, sizeof(*sorted), cmp_metric);
    }
    const char *last = "";
    for (size_t i = 0; i < n && !rc; i++) {
        if (strcmp(sorted[i]->name, last) != 0) {
            last = sorted[i]->name;
            const char *type = sorted[i]->kind == KIND_HIST    ? "histogram"
                               : sorted[i]->kind == KIND_GAUGE ? "gauge"
                                                               : "counter";
            const char *help = NULL;
            for (size_t f = 0; f < n_families; f++) {
                if (strcmp(families[f].name, last) == 0) {
                    help = families[f].help;
                    type = families[f].type;
                }
            }
            if (help) {
                rc = ts_buf_addf(out, "# HELP %s %s\n", last, help);
            }
            if (!rc) {
                rc = ts_buf_addf(out, "# TYPE %s %s\n", last, type);
            }
        }
        if (!rc) {
            rc = render_one(out, sorted[i]);
        }
    }
out:
    pthread_mutex_unlock(&lock);
    ts_free(sorted);
    return rc;
}
