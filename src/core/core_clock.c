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

/* UTC calendar arithmetic without gmtime_r/timegm, which take glibc's process-wide time-zone
 * lock on every call (every request formats and parses times). Proleptic Gregorian calendar;
 * days are counted from 1970-01-01 in 400-year eras of 146,097 days. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;                                /* [0, 399] */
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1; /* [0, 365] */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;         /* [0, 146096] */
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

struct civil {
    int64_t year;
    int mon, day, hour, min, sec;
};

static void to_civil(int64_t ms, struct civil *c)
{
    int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
    int64_t rem = secs - days * 86400;
    civil_from_days(days, &c->year, &c->mon, &c->day);
    c->hour = (int)(rem / 3600);
    c->min = (int)(rem / 60 % 60);
    c->sec = (int)(rem % 60);
}

static char *put2(char *o, int v)
{
    o[0] = (char)('0' + v / 10);
    o[1] = (char)('0' + v % 10);
    return o + 2;
}

static char *put_year(char *o, int64_t y)
{
    if (y < 0 || y > 9999) {
        y = y < 0 ? 0 : 9999; /* outside what the formats can carry */
    }
    o = put2(o, (int)(y / 100));
    return put2(o, (int)(y % 100));
}

void ts_time_fmt_basic(int64_t ms, char out[17])
{
    struct civil c;
    to_civil(ms, &c);
    char *o = put_year(out, c.year);
    o = put2(put2(o, c.mon), c.day);
    *o++ = 'T';
    o = put2(put2(put2(o, c.hour), c.min), c.sec);
    *o++ = 'Z';
    *o = '\0';
}

void ts_time_fmt_iso(int64_t ms, char out[21])
{
    struct civil c;
    to_civil(ms, &c);
    char *o = put_year(out, c.year);
    *o++ = '-';
    o = put2(o, c.mon);
    *o++ = '-';
    o = put2(o, c.day);
    *o++ = 'T';
    o = put2(o, c.hour);
    *o++ = ':';
    o = put2(o, c.min);
    *o++ = ':';
    o = put2(o, c.sec);
    *o++ = 'Z';
    *o = '\0';
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
    /* As timegm: a day past the month's end rolls into the next month. */
    int64_t days = days_from_civil((int64_t)tm->tm_year + 1900, tm->tm_mon + 1, 1) +
                   tm->tm_mday - 1;
    *ms = ((days * 24 + tm->tm_hour) * 60 + tm->tm_min) * 60000LL + tm->tm_sec * 1000LL;
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
