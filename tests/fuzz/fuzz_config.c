/*
 * fuzz_config.c - libFuzzer target over the config loader: YAML parsing (libyaml through
 * ts_yaml_load_string) and the table-driven validation of trailstream.yaml
 * (apps/config.c ts_config_load_string): sizes, durations, enums, listen addresses, accounts.
 *
 * The input is the YAML text. Any input must either load or fail with a message; nothing may
 * crash, leak or leave the config half-freed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "trailstream/ts_core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = ts_strndup((const char *)data, size);
    if (!text) {
        return 0;
    }
    struct ts_config cfg;
    char err[1024] = "";
    ts_config_defaults(&cfg);
    int rc = ts_config_load_string(text, &cfg, err, sizeof(err));
    if (rc != 0 && err[0] == '\0') {
        /* A refusal must say why (the error reaches the operator verbatim). */
        fprintf(stderr, "fuzz_config: error %d without a message\n", rc);
        abort();
    }
    if (rc == 0) {
        /* A config that loads is usable: accounts have ids, keys have secrets. */
        for (size_t i = 0; i < cfg.n_accounts; i++) {
            if (strlen(cfg.accounts[i].id) != 12) {
                abort();
            }
        }
    }
    ts_config_free(&cfg);
    ts_free(text);
    return 0;
}
