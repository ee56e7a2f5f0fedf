/*
 * check_config.c - `trailstream check-config FILE`: validates a config file exactly as serve
 * does and prints a summary (never a secret). Exit 0 when valid, 1 when not, 2 on usage.
 */
#include <stdio.h>

#include "cmds.h"
#include "config.h"

int ts_cmd_check_config(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: trailstream check-config FILE\n");
        return 2;
    }
    struct ts_config c;
    char err[1024];
    ts_config_defaults(&c);
    if (ts_config_load(argv[1], &c, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    printf("%s: ok\n", argv[1]);
    printf("  listen %s:%d, %lld threads, body limit %lld bytes\n", c.listen_host, c.listen_port,
           (long long)c.threads, (long long)c.max_body_bytes);
    printf("  storage %s, fsync %s\n", c.data_dir, ts_config_fsync_name(c.fsync));
    for (size_t i = 0; i < c.n_accounts; i++) {
        const struct ts_config_account *a = &c.accounts[i];
        size_t keys = a->n_root_keys;
        for (size_t u = 0; u < a->n_users; u++) {
            keys += a->users[u].n_keys;
        }
        printf("  account %s (%s): %zu users, %zu access keys\n", a->id,
               a->name[0] ? a->name : "unnamed", a->n_users, keys);
    }
    for (size_t i = 0; i < c.n_topology; i++) {
        const struct ts_config_topology *t = &c.topology[i];
        printf("  topology of %s in %s: %zu streams, %zu destinations, %zu log groups, "
               "%zu trails, %zu subscription filters\n",
               t->account, t->region, t->n_streams, t->n_destinations, t->n_log_groups,
               t->n_trails, t->n_filters);
    }
    ts_config_free(&c);
    return 0;
}
