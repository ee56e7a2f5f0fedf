/*
 * ts_test.h - a minimal acutest-style unit test harness: each test file defines test
 * functions and a TEST_LIST; the runner executes every test (or the ones named on the command
 * line), reports each, and exits non-zero if any check failed.
 */
#ifndef TS_TEST_H
#define TS_TEST_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ts_test {
    const char *name;
    void (*fn)(void);
};

static int ts_test_failures;
static int ts_test_checks;
static const char *ts_test_current;

#define TEST_CHECK_(cond, ...)                                                                    \
    ts_test_check_((cond), __FILE__, __LINE__, __VA_ARGS__)
#define TEST_CHECK(cond) ts_test_check_((cond), __FILE__, __LINE__, "%s", #cond)
/* Like TEST_CHECK but returns from the test on failure. */
#define TEST_ASSERT(cond)                                                                         \
    do {                                                                                          \
        if (!TEST_CHECK(cond)) {                                                                  \
            return;                                                                               \
        }                                                                                         \
    } while (0)
#define TEST_MSG(...)                                                                             \
    do {                                                                                          \
        fprintf(stderr, "    ");                                                                  \
        fprintf(stderr, __VA_ARGS__);                                                             \
        fprintf(stderr, "\n");                                                                    \
    } while (0)

__attribute__((format(printf, 4, 5))) static inline int ts_test_check_(int ok, const char *file,
                                                                        int line,
                                                                        const char *fmt, ...)
{
    ts_test_checks++;
    if (!ok) {
        va_list ap;
        ts_test_failures++;
        fprintf(stderr, "  FAILED %s (%s:%d): ", ts_test_current, file, line);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, "\n");
    }
    return ok;
}

extern const struct ts_test test_list_[];

#define TEST_LIST const struct ts_test test_list_[]

int main(int argc, char **argv)
{
    int run = 0, failed_tests = 0;
    for (const struct ts_test *t = test_list_; t->name; t++) {
        if (argc > 1) {
            int wanted = 0;
            for (int i = 1; i < argc; i++) {
                wanted |= strcmp(argv[i], t->name) == 0;
            }
            if (!wanted) {
                continue;
            }
        }
        int before = ts_test_failures;
        ts_test_current = t->name;
        t->fn();
        run++;
        if (ts_test_failures != before) {
            failed_tests++;
        }
        fprintf(stderr, "%-40s %s\n", t->name, ts_test_failures == before ? "ok" : "FAILED");
    }
    fprintf(stderr, "%d passed, %d failed (%d checks)\n", run - failed_tests, failed_tests,
            ts_test_checks);
    return failed_tests ? 1 : 0;
}

#endif
