/* text.h — checks on client text: UTF-8 validity and length in characters. */
#ifndef IM_TEXT_H
#define IM_TEXT_H

#include <stddef.h>

/* 1 if s[0..len) is well-formed UTF-8 (no overlongs, surrogates or > U+10FFFF). */
int im_utf8_valid(const char *s, size_t len);
/* Code points in a valid UTF-8 string. */
size_t im_utf8_chars(const char *s, size_t len);
/* Usernames: 3..32 of [A-Za-z0-9_.-]. */
int im_username_valid(const char *s);
/* Client message ids (cmid): 1..64 of [A-Za-z0-9_.:-] (docs/PROTOCOL.md). */
int im_cmid_valid(const char *s);

#endif
