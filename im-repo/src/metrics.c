/* metrics.c — im-repo's own metrics: what happened to each message saved, and how often
 * the Redis caches it owns answer. Registered once at start (main thread); the counters
 * are bumped lock-free from the rpc-N threads. */
#include "repo.h"

static im_metric_t *counter(const char *name, const char *help, const char *labels)
{
    return im_metric_new_l(IM_METRIC_COUNTER, name, help, labels);
}

void repo_metrics_init(repo_metrics_t *m)
{
    const char *msgs = "SaveMessages items by outcome: stored (a new row), duplicate (a resend of a stored "
                       "message), seq_conflict (its seq was taken by another message)";
    m->stored = counter("cim_repo_messages_total", msgs, "result=\"stored\"");
    m->duplicates = counter("cim_repo_messages_total", msgs, "result=\"duplicate\"");
    m->seq_conflicts = counter("cim_repo_messages_total", msgs, "result=\"seq_conflict\"");

    const char *lookups =
        "Reads of a Redis cache owned by im-repo: hit (answered from Redis) or miss (MySQL)";
    m->hot_hit = counter("cim_repo_cache_lookups_total", lookups, "cache=\"hot_messages\",result=\"hit\"");
    m->hot_miss = counter("cim_repo_cache_lookups_total", lookups, "cache=\"hot_messages\",result=\"miss\"");
    m->group_hit = counter("cim_repo_cache_lookups_total", lookups, "cache=\"group_members\",result=\"hit\"");
    m->group_miss =
        counter("cim_repo_cache_lookups_total", lookups, "cache=\"group_members\",result=\"miss\"");

    const char *fills = "Cache entries written after a miss (a reader found no entry and asked im-repo)";
    m->group_fill = counter("cim_repo_cache_fills_total", fills, "cache=\"group_members\"");
    m->relation_fill = counter("cim_repo_cache_fills_total", fills, "cache=\"user_rel\"");
}
