/*
 * kinesis_limits.c - AWS's per-shard throughput limits as token buckets, enforced only when the
 * service runs with `limits: aws` (ProvisionedThroughputExceededException).
 *
 * https://docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html
 *   writes: 1,000 records/s and 1 MiB/s per shard;
 *   reads:  5 GetRecords calls/s and 2 MiB/s per shard (a 10 MiB response makes the next ~5 s
 *           of calls fail, which the byte bucket going negative reproduces).
 */
#include "kinesis_int.h"

#define MIB (1024.0 * 1024.0)

static void bucket_init(struct kin_bucket *b, double rate, double burst, int64_t now_ms)
{
    b->rate = rate;
    b->burst = burst;
    b->tokens = burst;
    b->last_ms = now_ms;
}

static void bucket_refill(struct kin_bucket *b, int64_t now_ms)
{
    if (now_ms > b->last_ms) {
        b->tokens += b->rate * (double)(now_ms - b->last_ms) / 1000.0;
        if (b->tokens > b->burst) {
            b->tokens = b->burst;
        }
        b->last_ms = now_ms;
    }
}

void kin_limits_init(struct kin_shard *sh, int64_t now_ms)
{
    bucket_init(&sh->w_recs, 1000.0, 1000.0, now_ms);
    bucket_init(&sh->w_bytes, MIB, MIB, now_ms);
    bucket_init(&sh->r_calls, 5.0, 5.0, now_ms);
    bucket_init(&sh->r_bytes, 2.0 * MIB, 2.0 * MIB, now_ms);
}

bool kin_limits_write(struct kin_shard *sh, size_t bytes, int64_t now_ms)
{
    pthread_mutex_lock(&sh->lim_mu);
    bucket_refill(&sh->w_recs, now_ms);
    bucket_refill(&sh->w_bytes, now_ms);
    bool ok = sh->w_recs.tokens >= 1.0 && sh->w_bytes.tokens >= (double)bytes;
    if (ok) {
        sh->w_recs.tokens -= 1.0;
        sh->w_bytes.tokens -= (double)bytes;
    }
    pthread_mutex_unlock(&sh->lim_mu);
    return ok;
}

bool kin_limits_read(struct kin_shard *sh, int64_t now_ms)
{
    pthread_mutex_lock(&sh->lim_mu);
    bucket_refill(&sh->r_calls, now_ms);
    bucket_refill(&sh->r_bytes, now_ms);
    bool ok = sh->r_calls.tokens >= 1.0 && sh->r_bytes.tokens >= 0.0;
    if (ok) {
        sh->r_calls.tokens -= 1.0;
    }
    pthread_mutex_unlock(&sh->lim_mu);
    return ok;
}

void kin_limits_read_done(struct kin_shard *sh, size_t bytes, int64_t now_ms)
{
    pthread_mutex_lock(&sh->lim_mu);
    bucket_refill(&sh->r_bytes, now_ms);
    sh->r_bytes.tokens -= (double)bytes;
    pthread_mutex_unlock(&sh->lim_mu);
}
