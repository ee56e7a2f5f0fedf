/* core_clock.c - the injectable wall clock and time formatting. */
#include "trailstream/ts_core.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static int64_t real_now_ms(void *ctx)
{
    TS_UNUSED(ctx);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const struct ts_clock ts_clock_real = {real_now_ms, NULL};

uint64_t ts_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void to_tm(int64_t ms, struct tm *tm)
{
    time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    gmtime_r(&secs, tm);
}

void ts_time_fmt_basic(int64_t ms, char out[17])
{
    struct tm tm;
    to_tm(ms, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

void ts_time_fmt_iso(int64_t ms, char out[21])
{
    struct tm tm;
    to_tm(ms, &tm);
    strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return TS_EINVAL;
        }
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static int tm_to_ms(struct tm *tm, int64_t *ms)
{
    if (tm->tm_mon < 0 || tm->tm_mon > 11 || tm->tm_mday < 1 || tm->tm_mday > 31 ||
        tm->tm_hour > 23 || tm->tm_min > 59 || tm->tm_sec > 60) {
        return TS_EINVAL;
    }
    time_t t = timegm(tm);
    if (t == (time_t)-1) {
        return TS_EINVAL;
    }
    *ms = (int64_t)t * 1000;
    return 0;
}

int ts_time_parse_basic(const char *s, int64_t *ms)
{
    if (strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z') {
        return TS_EINVAL;
    }
    int y, mo, d, h, mi, se;
    if (digits(s, 4, &y) || digits(s + 4, 2, &mo) || digits(s + 6, 2, &d) ||
        digits(s + 9, 2, &h) || digits(s + 11, 2, &mi) || digits(s + 13, 2, &se)) {
        return TS_EINVAL;
    }
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    return tm_to_ms(&tm, ms);
}

int ts_time_parse_http(const char *s, int64_t *ms)
{
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    char wd[4], mon[4], zone[6];
    int d, y, h, mi, se;
    /* Python's email.utils.formatdate (botocore's Date header) writes "-0000" for UTC. */
    if (sscanf(s, "%3s, %2d %3s %4d %2d:%2d:%2d %5s", wd, &d, mon, &y, &h, &mi, &se, zone) != 8 ||
        (strcmp(zone, "GMT") != 0 && strcmp(zone, "UTC") != 0 && strcmp(zone, "+0000") != 0 &&
         strcmp(zone, "-0000") != 0)) {
        return TS_EINVAL;
    }
    struct tm tm = {0};
    tm.tm_mon = -1;
    for (int i = 0; i < 12; i++) {
        if (strcmp(mon, months[i]) == 0) {
            tm.tm_mon = i;
        }
    }
    tm.tm_year = y - 1900;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    return tm_to_ms(&tm, ms);
}
