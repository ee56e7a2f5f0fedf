/*
 * aws_accounts.c - accounts, IAM principals and their access keys.
 *
 * Built once at start-up from the config and read-only afterwards, so lookups need no lock.
 * Secrets live only here and in the caller's stack buffer during verification.
 */
#include "trailstream/ts_aws.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

struct acct_key {
    char id[TS_AWS_KEY_ID_MAX];
    char *secret;
    size_t account; /* index into accounts */
    long user;      /* index into users, -1 for root */
};

struct acct_user {
    char name[TS_AWS_NAME_MAX];
    char user_id[64];
    size_t account;
};

struct acct {
    char id[TS_AWS_ACCOUNT_ID_LEN + 1];
    char name[TS_AWS_NAME_MAX];
};

struct ts_aws_accounts {
    struct acct *accounts;
    size_t n_accounts;
    struct acct_user *users;
    size_t n_users;
    struct acct_key *keys;
    size_t n_keys;
};

struct ts_aws_accounts *ts_aws_accounts_create(void)
{
    return ts_calloc(1, sizeof(struct ts_aws_accounts));
}

void ts_aws_accounts_destroy(struct ts_aws_accounts *a)
{
    if (!a) {
        return;
    }
    for (size_t i = 0; i < a->n_keys; i++) {
        /* Wipe secrets before the memory goes back to the allocator. */
        memset(a->keys[i].secret, 0, strlen(a->keys[i].secret));
        ts_free(a->keys[i].secret);
    }
    ts_free(a->keys);
    ts_free(a->users);
    ts_free(a->accounts);
    ts_free(a);
}

static long find_account(const struct ts_aws_accounts *a, const char *id)
{
    for (size_t i = 0; i < a->n_accounts; i++) {
        if (strcmp(a->accounts[i].id, id) == 0) {
            return (long)i;
        }
    }
    return -1;
}

static bool valid_account_id(const char *id)
{
    if (strlen(id) != TS_AWS_ACCOUNT_ID_LEN) {
        return false;
    }
    for (const char *p = id; *p; p++) {
        if (!isdigit((unsigned char)*p)) {
            return false;
        }
    }
    return true;
}

/* IAM user names: 1-64 of [A-Za-z0-9+=,.@_-]. */
static bool valid_user_name(const char *n)
{
    size_t len = strlen(n);
    if (len < 1 || len > 64) {
        return false;
    }
    for (const char *p = n; *p; p++) {
        if (!isalnum((unsigned char)*p) && !strchr("+=,.@_-", *p)) {
            return false;
        }
    }
    return true;
}

int ts_aws_accounts_add(struct ts_aws_accounts *a, const char *id, const char *name)
{
    if (!valid_account_id(id) || strlen(name) >= TS_AWS_NAME_MAX) {
        return TS_EINVAL;
    }
    if (find_account(a, id) >= 0) {
        return TS_EEXIST;
    }
    struct acct *v = ts_realloc(a->accounts, (a->n_accounts + 1) * sizeof(*v));
    if (!v) {
        return TS_ENOMEM;
    }
    a->accounts = v;
    memset(&v[a->n_accounts], 0, sizeof(*v));
    ts_strlcpy(v[a->n_accounts].id, id, sizeof(v->id));
    ts_strlcpy(v[a->n_accounts].name, name, sizeof(v->name));
    a->n_accounts++;
    return 0;
}

static long find_user(const struct ts_aws_accounts *a, size_t account, const char *user)
{
    for (size_t i = 0; i < a->n_users; i++) {
        if (a->users[i].account == account && strcmp(a->users[i].name, user) == 0) {
            return (long)i;
        }
    }
    return -1;
}

int ts_aws_accounts_add_user(struct ts_aws_accounts *a, const char *account, const char *user)
{
    long ai = find_account(a, account);
    if (ai < 0) {
        return TS_ENOTFOUND;
    }
    if (!valid_user_name(user)) {
        return TS_EINVAL;
    }
    if (find_user(a, (size_t)ai, user) >= 0) {
        return TS_EEXIST;
    }
    struct acct_user *v = ts_realloc(a->users, (a->n_users + 1) * sizeof(*v));
    if (!v) {
        return TS_ENOMEM;
    }
    a->users = v;
    struct acct_user *u = &v[a->n_users];
    memset(u, 0, sizeof(*u));
    ts_strlcpy(u->name, user, sizeof(u->name));
    u->account = (size_t)ai;
    /* A stable unique id in the shape IAM uses ("AIDA" + 17 characters), derived from the
     * account and name so that it survives restarts. */
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    char seed[TS_AWS_ACCOUNT_ID_LEN + TS_AWS_NAME_MAX + 2];
    int n = snprintf(seed, sizeof(seed), "%s:%s", account, user);
    uint8_t h[TS_SHA256_LEN];
    ts_sha256(seed, (size_t)n, h);
    memcpy(u->user_id, "AIDA", 4);
    for (int i = 0; i < 17; i++) {
        u->user_id[4 + i] = alphabet[h[i] & 31];
    }
    u->user_id[21] = '\0';
    a->n_users++;
    return 0;
}

int ts_aws_accounts_add_key(struct ts_aws_accounts *a, const char *account, const char *user,
                            const char *key_id, const char *secret)
{
    long ai = find_account(a, account);
    if (ai < 0) {
        return TS_ENOTFOUND;
    }
    long ui = -1;
    if (user) {
        ui = find_user(a, (size_t)ai, user);
        if (ui < 0) {
            return TS_ENOTFOUND;
        }
    }
    size_t klen = strlen(key_id);
    if (klen < 16 || klen >= TS_AWS_KEY_ID_MAX || strlen(secret) < 16 || strlen(secret) > 256) {
        return TS_EINVAL;
    }
    for (const char *p = key_id; *p; p++) {
        if (!isalnum((unsigned char)*p)) {
            return TS_EINVAL;
        }
    }
    for (size_t i = 0; i < a->n_keys; i++) {
        if (strcmp(a->keys[i].id, key_id) == 0) {
            return TS_EEXIST;
        }
    }
    struct acct_key *v = ts_realloc(a->keys, (a->n_keys + 1) * sizeof(*v));
    if (!v) {
        return TS_ENOMEM;
    }
    a->keys = v;
    struct acct_key *k = &v[a->n_keys];
    memset(k, 0, sizeof(*k));
    k->secret = ts_strdup(secret);
    if (!k->secret) {
        return TS_ENOMEM;
    }
    ts_strlcpy(k->id, key_id, sizeof(k->id));
    k->account = (size_t)ai;
    k->user = ui;
    a->n_keys++;
    return 0;
}

int ts_aws_accounts_lookup(const struct ts_aws_accounts *a, const char *key_id,
                           struct ts_aws_caller *caller, char *secret_out, size_t secret_len)
{
    for (size_t i = 0; i < a->n_keys; i++) {
        const struct acct_key *k = &a->keys[i];
        if (strcmp(k->id, key_id) != 0) {
            continue;
        }
        const struct acct *ac = &a->accounts[k->account];
        memset(caller, 0, sizeof(*caller));
        ts_strlcpy(caller->account, ac->id, sizeof(caller->account));
        ts_strlcpy(caller->access_key, k->id, sizeof(caller->access_key));
        if (k->user < 0) {
            caller->root = true;
            snprintf(caller->arn, sizeof(caller->arn), "arn:aws:iam::%s:root", ac->id);
            ts_strlcpy(caller->user_id, ac->id, sizeof(caller->user_id));
        } else {
            const struct acct_user *u = &a->users[k->user];
            snprintf(caller->arn, sizeof(caller->arn), "arn:aws:iam::%s:user/%s", ac->id,
                     u->name);
            ts_strlcpy(caller->user_name, u->name, sizeof(caller->user_name));
            ts_strlcpy(caller->user_id, u->user_id, sizeof(caller->user_id));
        }
        if (secret_out) {
            ts_strlcpy(secret_out, k->secret, secret_len);
        }
        return 0;
    }
    return TS_ENOTFOUND;
}

bool ts_aws_accounts_exists(const struct ts_aws_accounts *a, const char *account)
{
    return find_account(a, account) >= 0;
}

const char *ts_aws_accounts_name(const struct ts_aws_accounts *a, const char *account)
{
    long i = find_account(a, account);
    return i < 0 ? NULL : a->accounts[i].name;
}

size_t ts_aws_accounts_count(const struct ts_aws_accounts *a)
{
    return a->n_accounts;
}

const char *ts_aws_accounts_id_at(const struct ts_aws_accounts *a, size_t i)
{
    return i < a->n_accounts ? a->accounts[i].id : NULL;
}
