/* u64map.c — linear probing with tombstones; grows at 70% of slots used. */
#include "im/u64map.h"
#include "im/err.h"

#define TOMB UINT64_MAX

static size_t slot_of(uint64_t k, size_t cap)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;   /* murmur3 finalizer */
    k ^= k >> 33;
    return (size_t)k & (cap - 1);
}

void im_u64map_init(im_u64map_t *m)
{
    m->cap = 64;
    m->len = m->used = 0;
    m->keys = im_calloc(m->cap, sizeof *m->keys);
    m->vals = im_calloc(m->cap, sizeof *m->vals);
}

void im_u64map_fini(im_u64map_t *m)
{
    im_free(m->keys);
    im_free(m->vals);
    m->keys = NULL;
    m->vals = NULL;
    m->cap = m->len = m->used = 0;
}

static size_t find(const im_u64map_t *m, uint64_t key)
{
    for (size_t i = slot_of(key, m->cap);; i = (i + 1) & (m->cap - 1))
        if (m->keys[i] == key || m->keys[i] == 0) return i;
}

void *im_u64map_get(const im_u64map_t *m, uint64_t key)
{
    size_t i = find(m, key);
    return m->keys[i] == key ? m->vals[i] : NULL;
}

static void grow(im_u64map_t *m)
{
    im_u64map_t n = {0};
    n.cap = m->len * 4 > m->cap ? m->cap * 2 : m->cap;   /* same size just drops tombstones */
    n.keys = im_calloc(n.cap, sizeof *n.keys);
    n.vals = im_calloc(n.cap, sizeof *n.vals);
    for (size_t i = 0; i < m->cap; i++)
        if (IM_U64MAP_LIVE(m, i)) {
            size_t j = find(&n, m->keys[i]);
            n.keys[j] = m->keys[i];
            n.vals[j] = m->vals[i];
            n.len++;
        }
    n.used = n.len;
    im_free(m->keys);
    im_free(m->vals);
    *m = n;
}

void im_u64map_put(im_u64map_t *m, uint64_t key, void *val)
{
    size_t i = find(m, key);
    if (m->keys[i] == key) {
        m->vals[i] = val;
        return;
    }
    /* reuse the first tombstone on the probe path, if any */
    for (size_t j = slot_of(key, m->cap); j != i; j = (j + 1) & (m->cap - 1))
        if (m->keys[j] == TOMB) {
            m->keys[j] = key;
            m->vals[j] = val;
            m->len++;
            return;
        }
    m->keys[i] = key;
    m->vals[i] = val;
    m->len++;
    if (++m->used * 10 > m->cap * 7) grow(m);
}

void *im_u64map_del(im_u64map_t *m, uint64_t key)
{
    size_t i = find(m, key);
    if (m->keys[i] != key) return NULL;
    void *v = m->vals[i];
    m->keys[i] = TOMB;
    m->vals[i] = NULL;
    m->len--;
    return v;
}
