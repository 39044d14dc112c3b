/* store.c — where uploaded bytes live: a folder (files_dir) shared by every gateway,
 * content-addressed, so the same bytes uploaded twice are kept once and a file, once
 * stored, never changes. These four calls are the whole interface: another backend (an
 * S3-compatible bucket, with this folder as its cache) replaces them.
 *   files_dir/tmp/{gateway_id}.XXXXXX   uploads being received or probed; a gateway
 *                                       clears its own at start (left by a crash)
 *   files_dir/{k[0..1]}/{k}             the bytes under key k
 * A put is a rename within one filesystem: readers see a whole file or none. */
#include "gateway.h"
#include "im/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int mkdir_p(const char *dir)
{
    char path[1024];
    snprintf(path, sizeof path, "%s", dir);
    for (char *p = path + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(path, 0750) != 0 && errno != EEXIST) return IM_EIO;
            *p = '/';
        }
    return mkdir(path, 0750) == 0 || errno == EEXIST ? IM_OK : IM_EIO;
}

int gw_store_init(gw_t *g)
{
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s/tmp", g->cfg.files_dir);
    if (mkdir_p(tmp) != IM_OK) {
        im_error("store.init_failed", "dir=%s err=\"%s\"", tmp, strerror(errno));
        return IM_EIO;
    }
    DIR *d = opendir(tmp);
    size_t plen = strlen(g->gateway_id), cleared = 0;
    for (struct dirent *e; d && (e = readdir(d)) != NULL;)
        if (strncmp(e->d_name, g->gateway_id, plen) == 0 && e->d_name[plen] == '.' && unlinkat(dirfd(d), e->d_name, 0) == 0)
            cleared++;
    if (d) closedir(d);
    im_info("store.ready", "dir=%s stale_temps_removed=%zu", g->cfg.files_dir, cleared);
    return IM_OK;
}

int gw_store_tmp(gw_t *g, char **path)
{
    *path = im_sprintf("%s/tmp/%s.XXXXXX", g->cfg.files_dir, g->gateway_id);
    int fd = mkstemp(*path);
    if (fd < 0) {
        IM_LOG_RATELIMITED(2, IM_LOG_ERROR, "store.tmp_failed", "dir=%s err=\"%s\"", g->cfg.files_dir, strerror(errno));
        im_free(*path);
        *path = NULL;
    }
    return fd;
}

static char *key_path(gw_t *g, const char *key)
{
    return im_sprintf("%s/%.2s/%s", g->cfg.files_dir, key, key);
}

int gw_store_put(gw_t *g, const char *tmp, const char *key)
{
    char *path = key_path(g, key), *dir = im_sprintf("%s/%.2s", g->cfg.files_dir, key);
    struct stat st;
    int rc = IM_OK;
    if (stat(path, &st) == 0) unlink(tmp);   /* the same bytes are there already */
    else if (mkdir_p(dir) != IM_OK || rename(tmp, path) != 0) rc = IM_EIO;
    if (rc != IM_OK) im_error("store.put_failed", "key=%s err=\"%s\"", key, strerror(errno));
    im_free(dir);
    im_free(path);
    return rc;
}

char *gw_store_thumb_key(char out[GW_STORE_KEY_MAX], const char *sha256)
{
    snprintf(out, GW_STORE_KEY_MAX, "%s.thumb.jpg", sha256);
    return out;
}

int gw_store_open(gw_t *g, const char *key, uint64_t *size)
{
    char *path = key_path(g, key);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0) {
        *size = (uint64_t)st.st_size;
    } else if (fd >= 0) {
        close(fd);
        fd = -1;
    }
    if (fd < 0) im_warn("store.missing", "key=%s err=\"%s\"", key, strerror(errno));
    im_free(path);
    return fd;
}
