/* cmd_store_check.c - `trailstream store-check DIR`: verifies every segment, index and the
 * metadata database of a data directory without modifying it (see docs/store.md). */
#include "trailstream/ts_store.h"

#include <stdio.h>
#include <string.h>

/* Entry point registered in apps/main.c. argv[0] is "store-check", argv[1] the data directory.
 * Prints a summary per partition and segment to stdout and one DAMAGE line (file and byte
 * position) per problem. Returns the exit code: 0 clean, 1 damage found, 2 usage error or an
 * unreadable directory. Main thread only. */
int ts_cmd_store_check(int argc, char **argv)
{
    if (argc != 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        fprintf(stderr, "usage: trailstream store-check DATA_DIR\n"
                        "  Verifies every segment (CRC, framing, offsets), index and meta.db.\n"
                        "  Exit code: 0 clean, 1 damage found, 2 usage error.\n");
        return 2;
    }
    struct ts_store_check_result res;
    int rc = ts_store_check(argv[1], stdout, &res);
    fflush(stdout);
    if (rc) {
        fprintf(stderr, "store-check: cannot read %s: %s\n", argv[1], ts_strerror(rc));
        return 2;
    }
    return res.damaged ? 1 : 0;
}
