/* test_u64map.c — the gateway's connection maps against a plain array model. */
#include "im/u64map.h"
#include "im_test.h"

#include <stdint.h>

#define N 20000

int main(void)
{
    im_u64map_t m;
    im_u64map_init(&m);
    static char present[N + 1];
    uint64_t x = 88172645463325252ULL;
    for (int round = 0; round < 200000; round++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;            /* xorshift64 */
        uint64_t k = 1 + x % N;
        switch (x >> 60 & 3) {
        case 0:
        case 1:
            im_u64map_put(&m, k, (void *)(uintptr_t)k);
            present[k] = 1;
            break;
        case 2:
            CHECK(im_u64map_del(&m, k) == (present[k] ? (void *)(uintptr_t)k : NULL));
            present[k] = 0;
            break;
        default:
            CHECK(im_u64map_get(&m, k) == (present[k] ? (void *)(uintptr_t)k : NULL));
        }
    }
    size_t live = 0, want = 0;
    for (size_t i = 0; i < m.cap; i++)
        if (IM_U64MAP_LIVE(&m, i)) {
            live++;
            CHECK(present[m.keys[i]]);
        }
    for (int k = 1; k <= N; k++) want += present[k];
    CHECK_INT(live, want);
    CHECK_INT(m.len, want);
    im_u64map_fini(&m);
    IM_TEST_DONE();
}
