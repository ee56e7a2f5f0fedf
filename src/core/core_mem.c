/* core_mem.c - the allocation wrappers and the allocation-failure test seam. */
#include "trailstream/ts_core.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Number of allocations left before injected failure; <= 0 means injection is off. */
static _Atomic long fail_countdown;

static bool should_fail(void)
{
    long v = atomic_load_explicit(&fail_countdown, memory_order_relaxed);
    if (v <= 0) {
        return false;
    }
    if (v == 1) {
        /* Stay at 1: once failing, every later allocation fails too. */
        return true;
    }
    atomic_fetch_sub_explicit(&fail_countdown, 1, memory_order_relaxed);
    return false;
}

void ts_mem_fail_after(long nth)
{
    atomic_store(&fail_countdown, nth);
}

void *ts_malloc(size_t n)
{
    if (should_fail()) {
        return NULL;
    }
    return malloc(n ? n : 1);
}

void *ts_calloc(size_t count, size_t n)
{
    if (should_fail()) {
        return NULL;
    }
    return calloc(count ? count : 1, n ? n : 1);
}

void *ts_realloc(void *p, size_t n)
{
    if (should_fail()) {
        return NULL;
    }
    return realloc(p, n ? n : 1);
}

void ts_free(void *p)
{
    free(p);
}

char *ts_strndup(const char *s, size_t n)
{
    char *d = ts_malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

char *ts_strdup(const char *s)
{
    return s ? ts_strndup(s, strlen(s)) : NULL;
}
