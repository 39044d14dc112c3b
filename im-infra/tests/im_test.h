/* im_test.h — the tiny assertion kit of cim's unit tests (one executable per test). */
#ifndef IM_TEST_H
#define IM_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int im_test_failures;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            im_test_failures++;                                                      \
        }                                                                            \
    } while (0)
#define CHECK_INT(a, b)                                                                   \
    do {                                                                                  \
        long long a_ = (long long)(a), b_ = (long long)(b);                               \
        if (a_ != b_) {                                                                   \
            fprintf(stderr, "%s:%d: %s == %lld, want %lld\n", __FILE__, __LINE__, #a, a_, \
                    b_);                                                                  \
            im_test_failures++;                                                           \
        }                                                                                 \
    } while (0)
#define CHECK_STR(a, b)                                                                  \
    do {                                                                                 \
        const char *a_ = (a), *b_ = (b);                                                 \
        if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0) {                           \
            fprintf(stderr, "%s:%d: %s == \"%s\", want \"%s\"\n", __FILE__, __LINE__, #a, \
                    a_ ? a_ : "(null)", b_ ? b_ : "(null)");                             \
            im_test_failures++;                                                          \
        }                                                                                \
    } while (0)

#define IM_TEST_DONE()                                                         \
    do {                                                                       \
        if (im_test_failures) {                                                \
            fprintf(stderr, "FAIL: %d check(s) failed\n", im_test_failures);   \
            return 1;                                                          \
        }                                                                      \
        printf("PASS\n");                                                      \
        return 0;                                                              \
    } while (0)

#endif
