/*
 * config.h - the trailstream.yaml file: one table per section, validated at start.
 * Every key is documented in conf/trailstream.yaml and docs/config.md.
 */
#ifndef TS_APP_CONFIG_H
#define TS_APP_CONFIG_H

#include "trailstream/ts_core.h"

#define TS_CONFIG_MAX_KEYS 8

struct ts_config_key {
    char id[128];
    char secret[257];
};

struct ts_config_user {
    char name[65];
    struct ts_config_key keys[TS_CONFIG_MAX_KEYS];
    size_t n_keys;
};

struct ts_config_account {
    char id[13];
    char name[65];
    struct ts_config_user *users;
    size_t n_users;
    struct ts_config_key root_keys[TS_CONFIG_MAX_KEYS];
    size_t n_root_keys;
};

/* The topology section: resources provisioned at start (apps/topology.c), one entry per account
 * and region. Every item keeps the line it was declared on, for error messages. */
#define TS_CONFIG_MAX_ALLOW 32

struct ts_config_topo_stream {
    int line;
    char name[129];
    int64_t shards;
};

struct ts_config_topo_destination {
    int line;
    char name[513];
    char target_stream[129];
    char role_arn[257];
    char allow_accounts[TS_CONFIG_MAX_ALLOW][13];
    size_t n_allow_accounts;
};

struct ts_config_topo_log_group {
    int line;
    char name[513];
};

struct ts_config_topo_trail {
    int line;
    char name[129];
    char log_group[513];
    char s3_bucket[64];
    char role_arn[257];
    bool start_logging;
};

struct ts_config_topo_filter {
    int line;
    char log_group[513];
    char name[513];
    char pattern[1025];
    char destination[513];
    char role_arn[257];
    char distribution[16];
};

struct ts_config_topology {
    int line;
    char account[13];
    char region[32];
    struct ts_config_topo_stream *streams;
    size_t n_streams;
    struct ts_config_topo_destination *destinations;
    size_t n_destinations;
    struct ts_config_topo_log_group *log_groups;
    size_t n_log_groups;
    struct ts_config_topo_trail *trails;
    size_t n_trails;
    struct ts_config_topo_filter *filters;
    size_t n_filters;
};

enum ts_config_fsync { TS_CONFIG_FSYNC_ALWAYS, TS_CONFIG_FSYNC_GROUP, TS_CONFIG_FSYNC_INTERVAL };

struct ts_config {
    /* server */
    char listen_host[64];
    int listen_port;
    int64_t threads;
    int64_t max_body_bytes;
    int64_t max_header_bytes;
    int64_t idle_timeout_ms;
    int64_t max_connections;
    int64_t shutdown_grace_ms;
    /* storage */
    char data_dir[1024];
    int64_t fsync; /* enum ts_config_fsync */
    int64_t fsync_interval_ms;
    int64_t segment_bytes;
    int64_t page_cache_keep;   /* drop-behind window per partition (docs/store.md) */
    int sync_lanes;            /* group-commit syncs of one partition at once (docs/store.md) */
    int64_t segment_age_ms;
    /* log */
    int64_t log_level;
    /* kinesis */
    int64_t kinesis_limits; /* 0 off, 1 aws: per-shard throughput limits enforced */
    /* quick start */
    char credentials_file[1024]; /* relative paths are inside data_dir; unset = don't write */
    char region[32];             /* region written into the credentials file's profiles */
    /* accounts */
    struct ts_config_account *accounts;
    size_t n_accounts;
    /* topology (provisioned at start, in order) */
    struct ts_config_topology *topology;
    size_t n_topology;
    char path[1024]; /* the file loaded ("<string>" for strings), for topology messages */
};

/* Fills c with the defaults. */
void ts_config_defaults(struct ts_config *c);
/* Loads and validates a config file on top of the defaults. On error returns a negative code
 * and writes "FILE:LINE: key: problem" into err. */
int ts_config_load(const char *path, struct ts_config *c, char *err, size_t err_len);
/* Same, from a string (for tests). */
int ts_config_load_string(const char *text, struct ts_config *c, char *err, size_t err_len);
/* Parses "HOST:PORT" ("[v6]:PORT" for IPv6) into the listen fields. */
int ts_config_parse_listen(const char *s, struct ts_config *c);
/* Frees the account tables. */
void ts_config_free(struct ts_config *c);
const char *ts_config_fsync_name(int64_t fsync);

#endif
