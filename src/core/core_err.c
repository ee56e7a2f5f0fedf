/* core_err.c - error codes, descriptions and the panic path. */
#include "trailstream/ts_core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *ts_strerror(int err)
{
    switch (err) {
    case TS_OK:
        return "success";
    case TS_ETOOBIG:
        return "size limit exceeded";
    case TS_ECORRUPT:
        return "data is corrupt";
    case TS_EPARSE:
        return "malformed input";
    case TS_ENOTFOUND:
        return "not found";
    case TS_ECLOSED:
        return "closed";
    case TS_ERANGE:
        return "out of range";
    default:
        break;
    }
    if (err < 0 && err > TS_E_BASE) {
        return strerror(-err);
    }
    return "unknown error";
}

_Noreturn void ts_panic(const char *file, int line, const char *what)
{
    fprintf(stderr, "trailstream: PANIC at %s:%d: assertion failed: %s\n", file, line, what);
    fflush(stderr);
    abort();
}
