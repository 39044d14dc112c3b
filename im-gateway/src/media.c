/* media.c — what an upload is, from its bytes alone ([W]; the client's Content-Type is
 * never trusted): its sha256 (libsodium), its type sniffed by libmagic, and for an image
 * libvips reads (png, jpeg, gif, webp) its size and a thumbnail.
 *
 * libmagic's cookie is not thread-safe: one, behind a mutex (a sniff reads a few KiB).
 * libvips is: it is started once, with one thread per operation, no operation cache (no
 * upload is read twice) and its untrusted loaders blocked (only the fuzzed, common ones
 * run on client bytes). An image of more than max_px pixels is kept as a plain file: its
 * header is read, its pixels never decoded (a decompression bomb costs nothing). */
#include "gateway.h"
#include "im/log.h"

#include <fcntl.h>
#include <magic.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <vips/vips.h>

static magic_t g_magic;
static pthread_mutex_t g_magic_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const image_types[] = {"image/png", "image/jpeg", "image/gif", "image/webp"};

int gw_media_init(void)
{
    g_magic = magic_open(MAGIC_MIME_TYPE | MAGIC_ERROR);
    if (g_magic == NULL || magic_load(g_magic, NULL) != 0) {
        im_error("media.magic_failed", "err=\"%s\"", g_magic ? magic_error(g_magic) : "magic_open");
        return IM_ECONFIG;
    }
    if (VIPS_INIT("im-gateway") != 0) {
        im_error("media.vips_failed", "err=\"%s\"", vips_error_buffer());
        return IM_ECONFIG;
    }
    vips_concurrency_set(1);
    vips_cache_set_max(0);
    vips_block_untrusted_set(TRUE);
    return IM_OK;
}

void gw_media_fini(void)
{
    if (g_magic) magic_close(g_magic);
    g_magic = NULL;
    vips_shutdown();
}

static int hash_file(const char *path, gw_media_t *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return IM_EIO;
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    unsigned char buf[65536], md[crypto_hash_sha256_BYTES];
    ssize_t n;
    out->size = 0;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        crypto_hash_sha256_update(&st, buf, (unsigned long long)n);
        out->size += (uint64_t)n;
    }
    close(fd);
    if (n < 0) return IM_EIO;
    crypto_hash_sha256_final(&st, md);
    sodium_bin2hex(out->sha256, sizeof out->sha256, md, sizeof md);
    return IM_OK;
}

static void sniff(const char *path, gw_media_t *out)
{
    pthread_mutex_lock(&g_magic_lock);
    const char *t = magic_file(g_magic, path);
    snprintf(out->content_type, sizeof out->content_type, "%s", t ? t : "application/octet-stream");
    pthread_mutex_unlock(&g_magic_lock);
}

static int is_image_type(const char *t)
{
    for (size_t i = 0; i < sizeof image_types / sizeof image_types[0]; i++)
        if (strcmp(t, image_types[i]) == 0) return 1;
    return 0;
}

/* A JPEG of the image that fits px x px (never enlarged), transparency on white. */
static int thumbnail(const char *path, const char *thumb, int px)
{
    VipsImage *t = NULL, *flat = NULL;
    int rc = vips_thumbnail(path, &t, px, "height", px, "size", VIPS_SIZE_DOWN, NULL);
    if (rc == 0 && vips_image_hasalpha(t)) {
        VipsArrayDouble *white = vips_array_double_newv(3, 255.0, 255.0, 255.0);
        rc = vips_flatten(t, &flat, "background", white, NULL);
        vips_area_unref(VIPS_AREA(white));
    }
    if (rc == 0) rc = vips_jpegsave(flat ? flat : t, thumb, "Q", 80, "strip", TRUE, NULL);
    if (flat) g_object_unref(flat);
    if (t) g_object_unref(t);
    return rc == 0 ? IM_OK : IM_EINVAL;
}

int gw_media_probe(const char *path, const char *thumb, int px, int max_px, gw_media_t *out)
{
    memset(out, 0, sizeof *out);
    int rc = hash_file(path, out);
    if (rc != IM_OK) return rc;
    sniff(path, out);
    if (!is_image_type(out->content_type)) return IM_OK;
    VipsImage *im = vips_image_new_from_file(path, "access", VIPS_ACCESS_SEQUENTIAL, NULL);   /* header only */
    if (im == NULL) {
        im_info("media.unreadable_image", "type=%s err=\"%.200s\"", out->content_type, vips_error_buffer());
        vips_error_clear();
        return IM_OK;   /* kept as a plain file */
    }
    int w = vips_image_get_width(im), h = vips_image_get_page_height(im);
    g_object_unref(im);
    if ((int64_t)w * h > max_px) return IM_OK;
    if (thumbnail(path, thumb, px) != IM_OK) {
        im_info("media.thumbnail_failed", "type=%s err=\"%.200s\"", out->content_type, vips_error_buffer());
        vips_error_clear();
        return IM_OK;
    }
    out->width = w;
    out->height = h;
    out->thumb = 1;
    return IM_OK;
}
