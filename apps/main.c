/*
 * main.c - the trailstream binary: one subcommand per line of the table below.
 */
#include <stdio.h>
#include <string.h>

#include "cmds.h"
#include "trailstream/ts_store.h"

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
};

static const struct command commands[] = {
    {"serve", ts_cmd_serve, "run the server (--config FILE --data-dir DIR --listen HOST:PORT)"},
    {"check-config", ts_cmd_check_config, "validate a config file and print a summary"},
    {"store-check", ts_cmd_store_check, "verify every segment and index of a store directory"},
    {"import", ts_cmd_import, "import CloudTrail log files (--account ID --data-dir DIR FILE...)"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: trailstream <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].help);
    }
    fprintf(f, "  %-14s %s\n", "version", "print the version");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("trailstream %s\n", TS_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) == 0) {
            return commands[i].run(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "trailstream: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
