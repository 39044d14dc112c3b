/* u64map.h — an open-addressing hash map from uint64_t keys (never 0) to pointers.
 * Not thread-safe: each map belongs to one thread (the gateway's [S]). */
#ifndef IM_U64MAP_H
#define IM_U64MAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t *keys;   /* 0 = empty, UINT64_MAX = deleted */
    void **vals;
    size_t cap;       /* power of two */
    size_t len;       /* live entries */
    size_t used;      /* live + deleted slots */
} im_u64map_t;

void im_u64map_init(im_u64map_t *m);
void im_u64map_fini(im_u64map_t *m);
void *im_u64map_get(const im_u64map_t *m, uint64_t key);
void im_u64map_put(im_u64map_t *m, uint64_t key, void *val);   /* replaces */
void *im_u64map_del(im_u64map_t *m, uint64_t key);             /* returns the old value */

/* Iterate: for (size_t i = 0; i < m->cap; i++) if (IM_U64MAP_LIVE(m, i)) ... m->vals[i] */
#define IM_U64MAP_LIVE(m, i) ((m)->keys[i] != 0 && (m)->keys[i] != UINT64_MAX)

#endif
