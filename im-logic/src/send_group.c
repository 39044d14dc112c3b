/* send_group.c — the group items of a send batch ([consume]): their groups' members,
 * read once per distinct group (groups.c), and the checks of a group send, made before
 * any seq is taken (a refused send burns none):
 *   the group exists                                   else not_found
 *   the sender is a member                             else forbidden
 *   mentions: at most MAX_MENTIONS distinct members    else invalid_argument
 *   @all (mention_all): the sender is an admin/owner   else forbidden
 * A `system` item (a group event, group_event.c) is not checked: the change it tells of
 * was already allowed and committed by im-repo. Its group is loaded all the same, to push it. */
#include "im/log.h"
#include "im/wire.h"
#include "logic.h"

#include <stdint.h>

#define MAX_MENTIONS 100
#define ROLE_ADMIN 2

/* Mentions deduplicated in place (up is the item's own), each a member. */
static void check_mentions(logic_send_t *it, const logic_group_t *g)
{
    Im__Mq__V1__Upstream *up = it->up;
    if (up->mention_all) {
        if (logic_group_role(g, up->user_id) < ROLE_ADMIN) {
            logic_send_refuse(it, "forbidden", "only an admin or the owner may mention everyone");
            return;
        }
        it->mention_all[0] = IM_WIRE_MENTION_ALL;
        it->msg.mentions = it->mention_all;
        it->msg.n_mentions = 1;
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < up->n_mentions; i++) {
        size_t k = 0;
        while (k < n && up->mentions[k] != up->mentions[i]) k++;
        if (k == n) up->mentions[n++] = up->mentions[i];
    }
    up->n_mentions = n;
    if (n > MAX_MENTIONS) {
        logic_send_refuse(it, "invalid_argument", "too many mentions");
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (logic_group_role(g, up->mentions[i]) == 0) {
            logic_send_refuse(it, "invalid_argument", "a mentioned user is not a member of this group");
            return;
        }
    it->msg.mentions = up->mentions;
    it->msg.n_mentions = n;
}

int logic_send_check_groups(logic_t *l, logic_send_t *items, size_t n, logic_groups_t *gs)
{
    for (size_t i = 0; i < n; i++) {
        logic_send_t *it = &items[i];
        if (it->error || it->gid == 0) continue;
        logic_group_t *g = logic_groups_add(gs, it->gid);
        logic_group_ask(g, it->up->user_id);
        for (size_t k = 0; !it->system && k < it->up->n_mentions && k < MAX_MENTIONS + 1; k++)
            logic_group_ask(g, it->up->mentions[k]);
    }
    /* the whole member list, whatever the size: the push needs every member's sessions
     * (write diffusion: the `msg`; read diffusion: the `notify`) */
    int rc = logic_groups_load(l, gs, UINT32_MAX);
    if (rc != IM_OK) return rc;
    uint32_t threshold = (uint32_t)IM_CFG_GET(l->cfg.large_group_threshold);   /* LIVE: once a batch */
    for (size_t k = 0; k < gs->n; k++) gs->v[k].large = gs->v[k].count > threshold;
    for (size_t i = 0; i < n; i++) {
        logic_send_t *it = &items[i];
        if (it->error || it->gid == 0 || it->system) continue;
        const logic_group_t *g = logic_groups_find(gs, it->gid);
        if (g == NULL || !g->found) logic_send_refuse(it, "not_found", "no such group");
        else if (logic_group_role(g, it->up->user_id) == 0) logic_send_refuse(it, "forbidden", "not a member of this group");
        else check_mentions(it, g);
    }
    return IM_OK;
}
