/* fuzz_media.c — an upload's bytes through gw_media_probe exactly as POST /api/files
 * runs it: sha256, libmagic's sniff, and for what claims to be an image libvips's header
 * read and thumbnail (untrusted loaders blocked). No crash, no leak; a thumbnail exists
 * only for an image within image_max_px, and fits thumb_px. */
#include "gateway.h"
#include "im/log.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <vips/vips.h>

#define THUMB_PX 64
#define MAX_PX (4096 * 4096)

static char g_path[64], g_thumb[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    setenv("VIPS_WARNING", "0", 1);
    im_log_set_level(IM_LOG_ERROR);   /* an unreadable image is logged at info */
    if (gw_media_init() != IM_OK) abort();
    snprintf(g_path, sizeof g_path, "/tmp/cim-fuzz-media-%d", (int)getpid());
    snprintf(g_thumb, sizeof g_thumb, "/tmp/cim-fuzz-media-%d.jpg", (int)getpid());
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *f = fopen(g_path, "wb");
    if (f == NULL) return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    gw_media_t m;
    if (gw_media_probe(g_path, g_thumb, THUMB_PX, MAX_PX, &m) == IM_OK && m.thumb) {
        if ((int64_t)m.width * m.height > MAX_PX || m.width <= 0 || m.height <= 0) abort();
        VipsImage *t = vips_image_new_from_file(g_thumb, NULL);
        if (t == NULL) abort();   /* the thumbnail we wrote does not read back */
        if (vips_image_get_width(t) > THUMB_PX || vips_image_get_height(t) > THUMB_PX) abort();
        g_object_unref(t);
    }
    unlink(g_thumb);
    unlink(g_path);   /* nothing left in /tmp when the run ends */
    return 0;
}
