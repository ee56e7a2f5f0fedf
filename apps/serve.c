/*
 * serve.c - `trailstream serve`: load the config, open the store, register the services with
 * the router, serve HTTP until SIGTERM/SIGINT, then stop gracefully (in-flight requests finish,
 * storage is flushed and closed, exit 0).
 */
#include <malloc.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmds.h"
#include "config.h"
#include "topology.h"
#include "trailstream/ts_aws.h"
#include "trailstream/ts_cloudtrail.h"
#include "trailstream/ts_delivery.h"
#include "trailstream/ts_http.h"
#include "trailstream/ts_kinesis.h"
#include "trailstream/ts_logs.h"
#include "trailstream/ts_services.h"
#include "trailstream/ts_store.h"

struct app {
    struct ts_config cfg;
    struct ts_aws_accounts *accounts;
    struct ts_aws_router *router;
    struct ts_store *store;
    struct ts_meta *meta;
    uint8_t secret[32];
    struct ts_services_ctx svc;
    int64_t started_ms;
    struct ts_kinesis *kinesis;              /* set by its create(); targets of Logs */
    struct ts_logs *logs;
    struct ts_delivery *_Atomic delivery;    /* read by the store's append hook */
    struct ts_cloudtrail *_Atomic cloudtrail; /* read by the store's append hook */
};

/* The services with state: one line each, created in this order and destroyed in reverse.
 * create() gets the app (shared context, handles of the services created before it) and
 * returns the service's handle; service() its operations table for the router; destroy()
 * frees it. */
struct service_entry {
    const char *name;
    int (*create)(struct app *app, void **out);
    const struct ts_aws_service *(*service)(void *handle);
    void (*destroy)(void *handle);
};

/* Subscription targets for Logs, over Kinesis: ARNs carry the account, region and name. */
static bool target_stream_exists(void *ctx, const char *stream_arn)
{
    struct app *app = ctx;
    return app->kinesis && ts_kinesis_stream_exists(app->kinesis, stream_arn);
}

static int target_put(void *ctx, const char *stream_arn, const char *partition_key,
                      const void *data, size_t len)
{
    struct app *app = ctx;
    if (!app->kinesis) {
        return TS_ENOTFOUND;
    }
    return ts_kinesis_put_internal(app->kinesis, "", "", stream_arn, partition_key, data, len,
                                   NULL, NULL);
}

static int target_put_batch(void *ctx, const char *stream_arn,
                            struct ts_logs_target_record *recs, size_t n)
{
    struct app *app = ctx;
    struct ts_kinesis_entry e[TS_LOGS_TARGET_BATCH];
    if (!app->kinesis) {
        return TS_ENOTFOUND;
    }
    if (n < 1 || n > TS_ARRAY_LEN(e)) {
        return TS_EINVAL;
    }
    memset(e, 0, n * sizeof(e[0]));
    for (size_t i = 0; i < n; i++) {
        e[i].partition_key = recs[i].partition_key;
        e[i].data = recs[i].data;
        e[i].len = recs[i].len;
    }
    int rc = ts_kinesis_put_batch(app->kinesis, "", "", stream_arn, e, n);
    for (size_t i = 0; !rc && i < n; i++) {
        recs[i].rc = e[i].rc;
    }
    return rc;
}

/* Logs' change hook and the store's append hook wake the dispatcher, once it exists. */
static void on_logs_change(void *ctx)
{
    struct app *app = ctx;
    ts_delivery_changed(atomic_load(&app->delivery));
}

static void on_store_append(void *ctx, struct ts_partition *p, uint64_t end_offset)
{
    struct app *app = ctx;
    ts_delivery_notify(atomic_load(&app->delivery), p, end_offset);
    /* CloudTrail: new event records wake the trail writer. */
    ts_cloudtrail_notify(atomic_load(&app->cloudtrail), ts_partition_name(p));
}

static int logs_create(struct app *app, void **out)
{
    struct ts_logs_targets targets = {target_stream_exists, target_put, target_put_batch, app};
    struct ts_logs_opts o = {0};
    o.targets = &targets;
    o.on_change = on_logs_change;
    o.change_ctx = app;
    int rc = ts_logs_create(&app->svc, &o, &app->logs);
    *out = app->logs;
    return rc;
}

static const struct ts_aws_service *logs_service(void *h)
{
    return ts_logs_service(h);
}

static void logs_destroy(void *h)
{
    ts_logs_destroy(h);
}

static int kinesis_create(struct app *app, void **out)
{
    struct ts_kinesis_opts ko = {.limits_aws = app->cfg.kinesis_limits == 1};
    int rc = ts_kinesis_create(&app->svc, &ko, &app->kinesis);
    *out = app->kinesis;
    return rc;
}

static const struct ts_aws_service *kinesis_service(void *h)
{
    return ts_kinesis_service(h);
}

static void kinesis_destroy(void *h)
{
    ts_kinesis_destroy(h);
}

/* CloudTrail delivers trail records into log groups through Logs' internal append. */
static int trail_sink_put(void *ctx, const char *account, const char *region, const char *group,
                          const char *stream, const char *const *messages, const size_t *lens,
                          const int64_t *timestamps, size_t n)
{
    struct app *app = ctx;
    return ts_logs_put_internal(app->logs, account, region, group, stream, messages, lens,
                                timestamps, n);
}

static int cloudtrail_create(struct app *app, void **out)
{
    struct ts_cloudtrail_sink sink = {trail_sink_put, app};
    struct ts_cloudtrail_opts o = {&sink, false};
    struct ts_cloudtrail *ct = NULL;
    int rc = ts_cloudtrail_create(&app->svc, &o, &ct);
    atomic_store(&app->cloudtrail, ct);
    *out = ct;
    return rc;
}

static const struct ts_aws_service *cloudtrail_service(void *h)
{
    return ts_cloudtrail_service(h);
}

static void cloudtrail_destroy(void *h)
{
    ts_cloudtrail_destroy(h);
}

static const struct service_entry stateful_services[] = {
    {"kinesis", kinesis_create, kinesis_service, kinesis_destroy},
    {"logs", logs_create, logs_service, logs_destroy}, /* delivers to kinesis */
    {"cloudtrail", cloudtrail_create, cloudtrail_service, cloudtrail_destroy}, /* into logs */
    {NULL, NULL, NULL, NULL}, /* keeps the table non-empty; entries above it */
};

static void usage(void)
{
    fprintf(stderr, "usage: trailstream serve [--config FILE] [--data-dir DIR] "
                    "[--listen HOST:PORT] [--log-level LEVEL]\n");
}

/* GET /health and /metrics are answered here, unauthenticated; everything else is AWS. */
static bool is_local_endpoint(const struct ts_http_request *req, const char *path)
{
    return strcmp(req->method, "GET") == 0 && strcmp(req->path, path) == 0 &&
           !ts_http_header_get(req, "authorization") && !strstr(req->query, "X-Amz-");
}

static void handle(void *ctx, const struct ts_http_request *req, struct ts_http_response *resp)
{
    struct app *app = ctx;
    if (is_local_endpoint(req, "/health")) {
        int64_t now = ts_clock_now_ms(&ts_clock_real);
        bool store_ok = app->store != NULL;
        ts_buf_addf(&resp->body,
                    "{\"status\":\"%s\",\"version\":\"%s\",\"uptime_seconds\":%lld,"
                    "\"accounts\":%zu,\"storage\":{\"fsync\":\"%s\",\"open\":%s}}\n",
                    store_ok ? "ok" : "degraded", TS_VERSION,
                    (long long)((now - app->started_ms) / 1000),
                    ts_aws_accounts_count(app->accounts), ts_config_fsync_name(app->cfg.fsync),
                    store_ok ? "true" : "false");
        resp->status = store_ok ? 200 : 503;
        ts_http_response_set_header(resp, "Content-Type", "application/json");
        return;
    }
    if (is_local_endpoint(req, "/metrics")) {
        if (ts_metrics_render(&resp->body) != 0) {
            resp->status = 500;
            ts_buf_reset(&resp->body);
        }
        ts_http_response_set_header(resp, "Content-Type", "text/plain; version=0.0.4");
        return;
    }
    ts_aws_router_handle(app->router, req, resp);
}

static int build_accounts(struct app *app)
{
    app->accounts = ts_aws_accounts_create();
    if (!app->accounts) {
        return TS_ENOMEM;
    }
    for (size_t i = 0; i < app->cfg.n_accounts; i++) {
        const struct ts_config_account *a = &app->cfg.accounts[i];
        int rc = ts_aws_accounts_add(app->accounts, a->id, a->name);
        for (size_t k = 0; !rc && k < a->n_root_keys; k++) {
            rc = ts_aws_accounts_add_key(app->accounts, a->id, NULL, a->root_keys[k].id,
                                         a->root_keys[k].secret);
        }
        for (size_t u = 0; !rc && u < a->n_users; u++) {
            rc = ts_aws_accounts_add_user(app->accounts, a->id, a->users[u].name);
            for (size_t k = 0; !rc && k < a->users[u].n_keys; k++) {
                rc = ts_aws_accounts_add_key(app->accounts, a->id, a->users[u].name,
                                             a->users[u].keys[k].id, a->users[u].keys[k].secret);
            }
        }
        if (rc) {
            TS_LOG_ERROR("serve", "account %s: %s", a->id, ts_strerror(rc));
            return rc;
        }
    }
    return 0;
}

/* The first key of an account's first user with keys, else its first root key. */
static const struct ts_config_key *profile_key(const struct ts_config_account *a)
{
    for (size_t u = 0; u < a->n_users; u++) {
        if (a->users[u].n_keys) {
            return &a->users[u].keys[0];
        }
    }
    return a->n_root_keys ? &a->root_keys[0] : NULL;
}

/* Writes the AWS shared-credentials file once (an existing file is left alone: the user may
 * have edited it). Returns the path written or found in path_out, or "" when disabled. */
static int write_credentials(const struct app *app, char *path_out, size_t path_len)
{
    const struct ts_config *c = &app->cfg;
    path_out[0] = '\0';
    if (!c->credentials_file[0]) {
        return 0;
    }
    if (c->credentials_file[0] == '/') {
        ts_strlcpy(path_out, c->credentials_file, path_len);
    } else {
        snprintf(path_out, path_len, "%s/%s", c->data_dir, c->credentials_file);
    }
    if (access(path_out, F_OK) == 0) {
        return 0;
    }
    char tmp[2200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path_out);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        return -errno;
    }
    chmod(tmp, 0600);
    for (size_t i = 0; i < c->n_accounts; i++) {
        const struct ts_config_key *k = profile_key(&c->accounts[i]);
        if (k) {
            /* botocore merges credentials-file keys into the profile, so the region here
             * spares users an `aws configure`. */
            fprintf(f, "[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\nregion = %s\n\n",
                    c->accounts[i].name[0] ? c->accounts[i].name : c->accounts[i].id, k->id,
                    k->secret, c->region);
        }
    }
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        int e = -errno;
        fclose(f);
        unlink(tmp);
        return e;
    }
    fclose(f);
    if (rename(tmp, path_out) != 0) {
        int e = -errno;
        unlink(tmp);
        return e;
    }
    return 0;
}

static int mkdir_p(const char *dir)
{
    char path[1024];
    ts_strlcpy(path, dir, sizeof(path));
    for (char *p = path + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(path, 0750) != 0 && errno != EEXIST) {
                return -errno;
            }
            *p = '/';
        }
    }
    if (mkdir(path, 0750) != 0 && errno != EEXIST) {
        return -errno;
    }
    return 0;
}

/* Loads the per-data-directory key material (MACs of pagination tokens and shard iterators),
 * creating it on first start. It never leaves the data directory and is never logged. */
static int load_secret(const char *dir, uint8_t out[32])
{
    char path[1100];
    snprintf(path, sizeof(path), "%s/secret.key", dir);
    FILE *f = fopen(path, "rb");
    if (f) {
        size_t n = fread(out, 1, 32, f);
        fclose(f);
        return n == 32 ? 0 : TS_ECORRUPT;
    }
    if (errno != ENOENT) {
        return -errno;
    }
    int rc = ts_random(out, 32);
    if (rc) {
        return rc;
    }
    char tmp[1200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    f = fopen(tmp, "wb");
    if (!f) {
        return -errno;
    }
    chmod(tmp, 0600);
    /* Durability order: the key is synced before it is renamed into place, so a crash never
     * leaves a short key file behind. */
    if (fwrite(out, 1, 32, f) != 32 || fflush(f) != 0 || fsync(fileno(f)) != 0) {
        rc = errno ? -errno : TS_EIO;
        fclose(f);
        unlink(tmp);
        return rc;
    }
    fclose(f);
    if (rename(tmp, path) != 0) {
        rc = -errno;
        unlink(tmp);
        return rc;
    }
    return 0;
}

/* The store does not log; its recovery and I/O events are logged here. */
static void on_store_event(void *ctx, const struct ts_store_event *ev)
{
    static const char *const kinds[] = {"truncated torn tail", "corrupt record",
                                        "index rebuilt", "I/O error", "removed leftover"};
    const char *kind = (size_t)ev->kind < TS_ARRAY_LEN(kinds) ? kinds[ev->kind] : "event";
    if (ev->kind == TS_STORE_EV_INDEX_REBUILT || ev->kind == TS_STORE_EV_REMOVED) {
        TS_LOG_INFO("store", "%s: %s (%s)", kind, ev->path ? ev->path : "-",
                    ev->what ? ev->what : "");
        return;
    }
    TS_LOG_WARN("store", "%s: %s at byte %lld, offset %llu (%s)%s%s", kind,
                ev->path ? ev->path : "-", (long long)ev->file_pos,
                (unsigned long long)ev->offset, ev->what ? ev->what : "",
                ev->err ? ": " : "", ev->err ? ts_strerror(ev->err) : "");
}

static int open_store(struct app *app)
{
    struct ts_store_opts so;
    memset(&so, 0, sizeof(so));
    so.fsync = app->cfg.fsync == TS_CONFIG_FSYNC_ALWAYS  ? TS_FSYNC_ALWAYS
               : app->cfg.fsync == TS_CONFIG_FSYNC_GROUP ? TS_FSYNC_GROUP
                                                         : TS_FSYNC_INTERVAL;
    so.interval_ms = (int)app->cfg.fsync_interval_ms;
    so.segment_max_bytes = (uint64_t)app->cfg.segment_bytes;
    so.cache_keep_bytes = (uint64_t)app->cfg.page_cache_keep;
    so.sync_lanes = app->cfg.sync_lanes;
    so.segment_max_age_ms = app->cfg.segment_age_ms;
    so.on_event = on_store_event;
    so.on_append = on_store_append;
    so.append_ctx = app;
    /* The data directory is the store's directory (docs/store.md): FORMAT, LOCK, meta.db,
     * partitions/; the server's own files (credentials, secret.key) sit beside them. */
    const char *path = app->cfg.data_dir;
    int rc = ts_store_open(path, &so, &app->store);
    if (!rc) {
        struct ts_store_recovery r;
        ts_store_recovery_stats(app->store, &r);
        TS_LOG_INFO("store", "opened %s: %llu partitions, %llu segments, %llu bytes; recovery "
                    "scanned %llu bytes in %lld ms, truncated %llu, corrupt %llu",
                    path, (unsigned long long)r.partitions, (unsigned long long)r.segments,
                    (unsigned long long)r.bytes, (unsigned long long)r.scanned_bytes,
                    (long long)r.elapsed_ms, (unsigned long long)r.truncated_bytes,
                    (unsigned long long)r.corrupt_records);
    }
    return rc;
}

int ts_cmd_serve(int argc, char **argv)
{
    struct app app;
    memset(&app, 0, sizeof(app));
    const char *config_path = NULL, *data_dir = NULL, *listen = NULL, *level = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **dst = strcmp(a, "--config") == 0     ? &config_path
                           : strcmp(a, "--data-dir") == 0 ? &data_dir
                           : strcmp(a, "--listen") == 0   ? &listen
                           : strcmp(a, "--log-level") == 0 ? &level
                                                           : NULL;
        if (!dst || i + 1 >= argc) {
            usage();
            return 2;
        }
        *dst = argv[++i];
    }
    char err[1024];
    ts_config_defaults(&app.cfg);
    if (config_path && ts_config_load(config_path, &app.cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "trailstream: invalid config: %s\n", err);
        return 2;
    }
    if (data_dir) {
        if (strlen(data_dir) >= sizeof(app.cfg.data_dir)) {
            fprintf(stderr, "trailstream: --data-dir is too long\n");
            return 2;
        }
        ts_strlcpy(app.cfg.data_dir, data_dir, sizeof(app.cfg.data_dir));
    }
    if (listen && ts_config_parse_listen(listen, &app.cfg) != 0) {
        fprintf(stderr, "trailstream: --listen '%s' is not HOST:PORT\n", listen);
        return 2;
    }
    if (level) {
        int l = ts_log_level_parse(level);
        if (l < 0) {
            fprintf(stderr, "trailstream: --log-level must be error, warn, info or debug\n");
            return 2;
        }
        app.cfg.log_level = l;
    }
    ts_log_set_level((enum ts_log_level)app.cfg.log_level);
    if (app.cfg.n_accounts == 0) {
        TS_LOG_WARN("serve", "no accounts are configured: every AWS request will be refused");
    }

    /* Signals are blocked before any thread starts so that only sigwait below sees them. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* Request bodies and batches of a few MB are allocated per request: keep them in the
     * heap rather than fresh mmap()s, which would page-fault every page on every request. */
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    /* The store keeps one descriptor per segment of every partition: allow as many as the
     * hard limit permits. */
    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max;
        setrlimit(RLIMIT_NOFILE, &nofile);
    }

    int rc = 2;
    struct ts_http_server *server = NULL;
    void *handles[TS_ARRAY_LEN(stateful_services)] = {0};
    app.started_ms = ts_clock_now_ms(&ts_clock_real);
    if (ts_metrics_init() != 0 || build_accounts(&app) != 0) {
        goto out;
    }
    int e = mkdir_p(app.cfg.data_dir);
    if (e) {
        TS_LOG_ERROR("serve", "cannot create data directory %s: %s", app.cfg.data_dir,
                     ts_strerror(e));
        goto out;
    }
    e = open_store(&app);
    if (e) {
        TS_LOG_ERROR("serve", "cannot open the store in %s: %s", app.cfg.data_dir,
                     ts_strerror(e));
        goto out;
    }
    char meta_path[1100];
    snprintf(meta_path, sizeof(meta_path), "%s/meta.db", app.cfg.data_dir);
    e = ts_meta_open(meta_path, &app.meta);
    if (e) {
        TS_LOG_ERROR("serve", "cannot open the metadata store %s: %s", meta_path,
                     ts_strerror(e));
        goto out;
    }
    e = load_secret(app.cfg.data_dir, app.secret);
    if (e) {
        TS_LOG_ERROR("serve", "cannot load %s/secret.key: %s", app.cfg.data_dir, ts_strerror(e));
        goto out;
    }
    app.svc = (struct ts_services_ctx){app.store, app.meta, &ts_clock_real, app.accounts,
                                       app.secret};
    app.router = ts_aws_router_create(app.accounts, &ts_clock_real);
    if (!app.router || ts_aws_router_add_service(app.router, ts_sts_service()) != 0) {
        goto out;
    }
    for (size_t i = 0; stateful_services[i].name; i++) {
        const struct service_entry *se = &stateful_services[i];
        e = se->create(&app, &handles[i]);
        if (!e) {
            e = ts_aws_router_add_service(app.router, se->service(handles[i]));
        }
        if (e) {
            TS_LOG_ERROR("serve", "cannot start the %s service: %s", se->name, ts_strerror(e));
            goto out;
        }
    }
    /* CloudTrail: its ingestion API, and every call of every account becomes a record. */
    e = ts_aws_router_add_service(app.router, ts_cloudtrail_data_service(app.cloudtrail));
    if (e) {
        TS_LOG_ERROR("serve", "cannot start the cloudtrail-data service: %s", ts_strerror(e));
        goto out;
    }
    ts_aws_router_on_complete(app.router, ts_cloudtrail_record_request, app.cloudtrail);
    /* Subscription dispatch starts once Logs and its targets exist. */
    struct ts_delivery_opts dopts = {0};
    struct ts_logs_targets targets = {target_stream_exists, target_put, target_put_batch, &app};
    dopts.store = app.store;
    dopts.meta = app.meta;
    dopts.logs = app.logs;
    dopts.accounts = app.accounts;
    dopts.targets = &targets;
    struct ts_delivery *delivery = NULL;
    e = ts_delivery_create(&dopts, &delivery);
    if (e) {
        TS_LOG_ERROR("serve", "cannot start subscription delivery: %s", ts_strerror(e));
        goto out;
    }
    atomic_store(&app.delivery, delivery);
    /* The config's topology, provisioned through the router now that every service (and the
     * CloudTrail hook) is in place, before the port opens. */
    char topology_line[256] = "";
    if (app.cfg.n_topology) {
        struct ts_topology_counts tc;
        e = ts_topology_provision(&app.cfg, app.router, &tc, err, sizeof(err));
        if (e) {
            fprintf(stderr, "trailstream: cannot provision the topology: %s\n", err);
            goto out;
        }
        ts_topology_summary(&tc, topology_line, sizeof(topology_line));
    }
    char cred_path[2100];
    e = write_credentials(&app, cred_path, sizeof(cred_path));
    if (e) {
        TS_LOG_ERROR("serve", "cannot write %s: %s", cred_path, ts_strerror(e));
        goto out;
    }

    struct ts_http_server_opts ho = {
        .host = app.cfg.listen_host,
        .port = app.cfg.listen_port,
        .threads = (unsigned)app.cfg.threads,
        .max_body_bytes = (size_t)app.cfg.max_body_bytes,
        .max_header_bytes = (size_t)app.cfg.max_header_bytes,
        .idle_timeout_s = (unsigned)((app.cfg.idle_timeout_ms + 999) / 1000),
        .max_connections = (unsigned)app.cfg.max_connections,
        .handler = handle,
        .handler_ctx = &app,
    };
    e = ts_http_server_start(&ho, &server);
    if (e) {
        TS_LOG_ERROR("serve", "cannot listen on %s:%d: %s", app.cfg.listen_host,
                     app.cfg.listen_port, ts_strerror(e));
        goto out;
    }
    int port = ts_http_server_port(server);
    const char *host = app.cfg.listen_host;
    bool v6 = strchr(host, ':') != NULL;
    char url[128];
    snprintf(url, sizeof(url), "http://%s%s%s:%d", v6 ? "[" : "", host, v6 ? "]" : "", port);
    /* The first line on stdout is always this one: tests and scripts read the port from it. */
    printf("listening on %s\n", url);
    if (cred_path[0]) {
        printf("credentials for the AWS CLI: %s (profiles:", cred_path);
        for (size_t i = 0; i < app.cfg.n_accounts; i++) {
            printf(" %s", app.cfg.accounts[i].name[0] ? app.cfg.accounts[i].name
                                                      : app.cfg.accounts[i].id);
        }
        printf(")\n");
        const char *example = app.cfg.n_accounts > 1 ? app.cfg.accounts[1].name : "";
        if (!example[0] && app.cfg.n_accounts) {
            example = app.cfg.accounts[0].name[0] ? app.cfg.accounts[0].name
                                                  : app.cfg.accounts[0].id;
        }
        printf("try: AWS_SHARED_CREDENTIALS_FILE=%s AWS_ENDPOINT_URL=%s aws --profile %s sts "
               "get-caller-identity\n",
               cred_path, url, example);
    }
    if (topology_line[0]) {
        printf("%s\n", topology_line);
    }
    fflush(stdout);
    TS_LOG_INFO("serve", "trailstream %s serving on %s, data in %s (fsync: %s)", TS_VERSION, url,
                app.cfg.data_dir, ts_config_fsync_name(app.cfg.fsync));

    int sig = 0;
    sigwait(&sigs, &sig);
    TS_LOG_INFO("serve", "%s received: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    /* Durability order: stop taking requests and let in-flight ones finish (their appends are
     * durable before they answer, except CloudTrail records, which they only queue), then
     * destroy the services (ts_cloudtrail_destroy drains that queue into the store), then
     * close the store, which syncs what is left. */
    ts_http_server_stop(server, (int)app.cfg.shutdown_grace_ms);
    server = NULL;
    rc = 0;
out:
    ts_http_server_stop(server, 0);
    /* No request runs any more: stop delivery (its cursors are committed) before the services
     * it reads from and puts to. */
    ts_delivery_destroy(atomic_exchange(&app.delivery, NULL));
    atomic_store(&app.cloudtrail, NULL);
    for (size_t i = TS_ARRAY_LEN(stateful_services) - 1; i-- > 0;) {
        if (handles[i]) {
            stateful_services[i].destroy(handles[i]);
        }
    }
    ts_aws_router_destroy(app.router);
    app.router = NULL;
    ts_meta_close(app.meta);
    ts_store_close(app.store);
    memset(app.secret, 0, sizeof(app.secret));
    ts_aws_accounts_destroy(app.accounts);
    ts_config_free(&app.cfg);
    ts_metrics_shutdown();
    if (rc == 0) {
        TS_LOG_INFO("serve", "stopped cleanly");
    }
    return rc;
}
