/* core_log.c - leveled logging to stderr, one line per call, safe from any thread. */
#include "trailstream/ts_core.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int ts_log_level_current = TS_LOG_LEVEL_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *const level_names[] = {"error", "warn", "info", "debug"};

void ts_log_set_level(enum ts_log_level level)
{
    ts_log_level_current = (int)level;
}

void ts_thread_name(const char *name)
{
    char n[16];
    snprintf(n, sizeof(n), "%s", name);
    pthread_setname_np(pthread_self(), n);
}

int ts_log_level_parse(const char *s)
{
    for (size_t i = 0; i < TS_ARRAY_LEN(level_names); i++) {
        if (strcmp(s, level_names[i]) == 0) {
            return (int)i;
        }
    }
    return -1;
}

void ts_log_write(enum ts_log_level level, const char *comp, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    char ts[32];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    pthread_mutex_lock(&log_lock);
    fprintf(stderr, "%s.%03ldZ %-5s [%s] %s\n", ts, now.tv_nsec / 1000000L,
            level_names[level], comp, msg);
    pthread_mutex_unlock(&log_lock);
}
