/* The image store: STORE/layers/HEX (a layer unpacked, named by the sha256
 * of its compressed blob), STORE/images/KEY.json (an image: its name, its
 * manifest's digest, its layers bottom first, its config's defaults),
 * STORE/tmp (imports in progress), STORE/empty (overlayfs's bottom layer).
 * Guarantees: a record is written whole (tmp file, rename) and only after
 * its layers are in place (import.c, in the zonebox-image helper, checks
 * and unpacks them), so the store is unchanged by a failed import; imports,
 * removals and prunes hold STORE/lock exclusively, readers shared. One
 * store per user (paths: img_store_path); layers are shared by every image
 * and every run. A run on a stored image reads its record here, in
 * process; only an import runs the helper. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <json-c/json.h>
/* SHA-256 as cow_digest.c takes it: SHA256_Init/Update/Final link the
 * digest alone; EVP, and the one-shot SHA256() that OpenSSL 3 builds on
 * EVP_Q_digest, would bring the providers' tables into the static binary. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/fs.h"
#include "store_int.h"

void img_store_close(struct img_store *s)
{
        if (s->lock_fd >= 0)
                close(s->lock_fd);
        if (s->fd >= 0)
                close(s->fd);
        s->fd = s->lock_fd = -1;
}

int img_store_path(char *buf, size_t n, struct zb_error *err)
{
        const char *env = getenv("ZONEBOX_IMAGE_DIR"), *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
        struct stat st;
        int len;
        if (env && env[0] == '/')
                len = snprintf(buf, n, "%s", env);
        else if (geteuid() == 0)
                len = snprintf(buf, n, "/var/lib/zonebox/images");
        else if (xdg && xdg[0] == '/')
                len = snprintf(buf, n, "%s/zonebox/images", xdg);
        else if (home && home[0] == '/' && stat(home, &st) == 0 && st.st_uid == geteuid())
                len = snprintf(buf, n, "%s/.local/share/zonebox/images", home);
        else
                len = snprintf(buf, n, "/var/tmp/zonebox-%u/images", (unsigned)geteuid());
        if (len < 0 || (size_t)len >= n)
                return err_set(err, ENAMETOOLONG, "image: store path too long");
        return 0;
}

static int mkdir_p(const char *path, mode_t mode)
{
        char buf[4096];
        snprintf(buf, sizeof(buf), "%s", path);
        for (char *s = buf + 1;; s++) {
                s = strchr(s, '/');
                if (s)
                        *s = '\0';
                if (mkdir(buf, mode) < 0 && errno != EEXIST)
                        return -errno;
                if (!s)
                        return 0;
                *s = '/';
        }
}

/* Open (and with CREATE make) the store, locked shared or exclusive. */
int img_store_open(struct img_store *s, bool create, int lock, struct zb_error *err)
{
        static const char *const subdirs[] = { "layers", "images", "tmp", "empty" };
        s->fd = s->lock_fd = -1;
        int r = img_store_path(s->path, sizeof(s->path), err);
        if (r < 0)
                return r;
        if (create && (r = mkdir_p(s->path, 0700)) < 0)
                return err_errno(err, -r, "image: store %s", s->path);
        s->fd = open(s->path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (s->fd < 0)
                return err_errno(err, errno, "image: store %s", s->path);
        for (size_t i = 0; create && i < ARRAY_SIZE(subdirs); i++)
                if (mkdirat(s->fd, subdirs[i], 0755) < 0 && errno != EEXIST)
                        return err_errno(err, errno, "image: store %s/%s", s->path, subdirs[i]);
        s->lock_fd = openat(s->fd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (s->lock_fd < 0 || flock(s->lock_fd, lock) < 0)
                return err_errno(err, errno, "image: lock the store %s", s->path);
        return 0;
}


struct json_object *img_read_json_fd(int fd, const char *what, struct zb_error *err)
{
        struct stat st;
        if (fstat(fd, &st) < 0 || st.st_size > (off_t)IMG_JSON_MAX_BYTES) {
                err_set(err, EFBIG, "image: %s: unreadable or larger than %u bytes", what, IMG_JSON_MAX_BYTES);
                return NULL;
        }
        _cleanup_(freep) char *buf = calloc(1, (size_t)st.st_size + 1);
        if (!buf || pread(fd, buf, (size_t)st.st_size, 0) != st.st_size) {
                err_set(err, EIO, "image: %s: read", what);
                return NULL;
        }
        struct json_object *j = json_tokener_parse(buf);
        if (!j || !json_object_is_type(j, json_type_object)) {
                json_object_put(j);
                err_set(err, EINVAL, "image: %s: not a JSON object", what);
                return NULL;
        }
        return j;
}

const char *img_jstr(struct json_object *o, const char *key)
{
        struct json_object *v;
        return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
                       ? json_object_get_string(v)
                       : NULL;
}

struct json_object *img_jarr(struct json_object *o, const char *key)
{
        struct json_object *v;
        return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_array) ? v : NULL;
}


/* ---------- the config and the record ---------- */

static char **str_array(struct json_object *a)
{
        if (!a)
                return NULL;
        size_t n = json_object_array_length(a);
        char **v = calloc(n + 1, sizeof(*v));
        for (size_t i = 0; v && i < n; i++) {
                const char *s = json_object_get_string(json_object_array_get_idx(a, i));
                v[i] = util_strdup(s ? s : "");
        }
        return v;
}

static void str_array_free(char **v)
{
        for (size_t i = 0; v && v[i]; i++)
                free(v[i]);
        free(v);
}

void img_image_free_fields(struct img_image *im)
{
        struct img_config *c = &im->config;
        str_array_free(c->env);
        str_array_free(c->entrypoint);
        str_array_free(c->cmd);
        free(c->workdir);
        free(c->user);
        memset(c, 0, sizeof(*c));
}

/* OCI config.config (Env, Entrypoint, Cmd, WorkingDir, User). */
void img_config_from_json(struct img_config *c, struct json_object *cfg)
{
        const char *s;
        if (!cfg)
                return;
        c->env = str_array(img_jarr(cfg, "Env"));
        c->entrypoint = str_array(img_jarr(cfg, "Entrypoint"));
        c->cmd = str_array(img_jarr(cfg, "Cmd"));
        if ((s = img_jstr(cfg, "WorkingDir")) && s[0])
                c->workdir = util_strdup(s);
        if ((s = img_jstr(cfg, "User")) && s[0])
                c->user = util_strdup(s);
}

static struct json_object *json_strs(char **v)
{
        struct json_object *a = json_object_new_array();
        for (size_t i = 0; v && v[i]; i++)
                json_object_array_add(a, json_object_new_string(v[i]));
        return a;
}

static struct json_object *record_json(const struct img_image *im)
{
        struct json_object *o = json_object_new_object(), *cfg = json_object_new_object();
        struct json_object *layers = json_object_new_array();
        json_object_object_add(o, "name", json_object_new_string(im->name));
        json_object_object_add(o, "manifest", json_object_new_string(im->manifest));
        for (size_t i = 0; i < im->n_layers; i++)
                json_object_array_add(layers, json_object_new_string(im->layers[i]));
        json_object_object_add(o, "layers", layers);
        const struct img_config *c = &im->config;
        if (c->env)
                json_object_object_add(cfg, "Env", json_strs(c->env));
        if (c->entrypoint)
                json_object_object_add(cfg, "Entrypoint", json_strs(c->entrypoint));
        if (c->cmd)
                json_object_object_add(cfg, "Cmd", json_strs(c->cmd));
        if (c->workdir)
                json_object_object_add(cfg, "WorkingDir", json_object_new_string(c->workdir));
        if (c->user)
                json_object_object_add(cfg, "User", json_object_new_string(c->user));
        json_object_object_add(o, "config", cfg);
        return o;
}

static int record_from_json(struct json_object *o, struct img_image *im, const char *what, struct zb_error *err)
{
        const char *name = img_jstr(o, "name"), *man = img_jstr(o, "manifest");
        struct json_object *layers = img_jarr(o, "layers"), *cfg;
        memset(im, 0, sizeof(*im));
        if (!name || !img_name_valid(name) || !man || strlen(man) != IMG_HEX_LEN || !layers ||
            json_object_array_length(layers) > IMG_MAX_LAYERS)
                return err_set(err, EINVAL, "image: the store's record %s is damaged", what);
        snprintf(im->name, sizeof(im->name), "%s", name);
        snprintf(im->manifest, sizeof(im->manifest), "%s", man);
        im->n_layers = json_object_array_length(layers);
        for (size_t i = 0; i < im->n_layers; i++) {
                char dg[80];
                const char *h = json_object_get_string(json_object_array_get_idx(layers, i));
                snprintf(dg, sizeof(dg), "sha256:%s", h ? h : "");
                if (!img_digest_hex(dg, im->layers[i]))
                        return err_set(err, EINVAL, "image: the store's record %s is damaged", what);
        }
        img_config_from_json(&im->config, json_object_object_get_ex(o, "config", &cfg) ? cfg : NULL);
        return 0;
}

/* images/KEY.json: KEY is the sha256 of the name (any name is a safe file name). */
static void record_key(const char *name, char out[IMG_HEX_LEN + 6])
{
        unsigned char md[SHA256_DIGEST_LENGTH];
        SHA256_CTX h;
        SHA256_Init(&h);
        SHA256_Update(&h, name, strlen(name));
        SHA256_Final(md, &h);
        for (size_t i = 0; i < sizeof(md); i++)
                snprintf(out + 2 * i, 3, "%02x", md[i]);
        memcpy(out + IMG_HEX_LEN, ".json", 6);
}

static int record_read(const struct img_store *s, const char *name, struct img_image *im, struct zb_error *err)
{
        char key[IMG_HEX_LEN + 6], path[IMG_HEX_LEN + 16];
        memset(im, 0, sizeof(*im));
        record_key(name, key);
        snprintf(path, sizeof(path), "images/%s", key);
        _cleanup_(closep) int fd = fs_open_beneath(s->fd, path, O_RDONLY);
        if (fd < 0)
                return err_set(err, ENOENT, "image: '%s' is not in the image store %s (zonebox image import oci:DIR[:TAG] or docker-archive:FILE; zonebox image list)",
                               name, s->path);
        struct json_object *j = img_read_json_fd(fd, name, err);
        if (!j)
                return -EINVAL;
        int r = record_from_json(j, im, name, err);
        json_object_put(j);
        return r;
}

int img_record_write(const struct img_store *s, const struct img_image *im, struct zb_error *err)
{
        char key[IMG_HEX_LEN + 6], path[IMG_HEX_LEN + 16], tmp[IMG_HEX_LEN + 32];
        record_key(im->name, key);
        snprintf(path, sizeof(path), "images/%s", key);
        snprintf(tmp, sizeof(tmp), "tmp/record-%d.json", (int)getpid());
        struct json_object *j = record_json(im);
        const char *text = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
        int fd = openat(s->fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
        int r = fd < 0 || util_write_all(fd, text, strlen(text)) < 0 || fsync(fd) < 0 ? -errno : 0;
        if (fd >= 0)
                close(fd);
        json_object_put(j);
        if (r == 0 && renameat(s->fd, tmp, s->fd, path) < 0)
                r = -errno;
        if (r < 0) {
                unlinkat(s->fd, tmp, 0);
                return err_errno(err, -r, "image: write the record of '%s'", im->name);
        }
        return 0;
}

/* ---------- reading, importing, removing ---------- */

/* The record of NAME, under the shared lock. */
static int stored_image(const char *name, struct img_image *out, struct zb_error *err)
{
        struct img_store s;
        int r = img_store_open(&s, false, LOCK_SH, err);
        if (r == -ENOENT || (r < 0 && s.fd < 0))
                r = err_set(err, ENOENT, "image: '%s' is not in the image store %s (zonebox image import oci:DIR[:TAG] or docker-archive:FILE)",
                            name, s.path);
        if (r == 0)
                r = record_read(&s, name, out, err);
        img_store_close(&s);
        return r;
}

/* The import itself is the helper's: libarchive, which unpacking needs,
 * would cost every run of this static-pie binary its relocations
 * (bench/README.md). The store's record is what the helper leaves. */
int img_import(const char *ref, const char *name, struct img_image *out, struct zb_error *err)
{
        struct img_ref rf;
        memset(out, 0, sizeof(*out));
        int r = img_import_ref(ref, name, &rf, err);
        if (r == 0)
                r = img_import_helper(ref, name, err);
        return r < 0 ? r : stored_image(rf.name, out, err);
}

int img_resolve(const char *ref, struct img_image *out, struct zb_error *err)
{
        struct img_ref rf;
        memset(out, 0, sizeof(*out));
        int r = img_ref_parse(ref, &rf, err);
        if (r < 0)
                return r;
        return rf.kind == IMG_REF_STORE ? stored_image(rf.name, out, err) : img_import(ref, NULL, out, err);
}

int img_layer_path(const char *hex, char *buf, size_t n, struct zb_error *err)
{
        char store[4096];
        int r = img_store_path(store, sizeof(store), err);
        if (r < 0)
                return r;
        int len = snprintf(buf, n, "%s/%s%s", store, hex ? "layers/" : "empty", hex ? hex : "");
        return len < 0 || (size_t)len >= n ? err_set(err, ENAMETOOLONG, "image: layer path too long") : 0;
}

/* Every record, parsed, into ARRAY (may be NULL: count only). */
static int each_record(const struct img_store *s, struct json_object *array, struct zb_error *err)
{
        _cleanup_(closep) int dfd = fs_open_beneath(s->fd, "images", O_RDONLY | O_DIRECTORY);
        if (dfd < 0)
                return 0;
        DIR *d = fdopendir(dfd);
        if (!d)
                return err_errno(err, errno, "image: read the store");
        dfd = -1; // NOLINT(clang-analyzer-deadcode.DeadStores): the DIR owns it now, not the cleanup
        for (struct dirent *e; (e = readdir(d));) {
                if (!strstr(e->d_name, ".json"))
                        continue;
                _cleanup_(closep) int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                struct zb_error ignored = { 0 };
                struct json_object *j = fd >= 0 ? img_read_json_fd(fd, e->d_name, &ignored) : NULL;
                if (j)
                        json_object_array_add(array, j);
        }
        closedir(d);
        return 0;
}

int img_list_json(char **json, struct zb_error *err)
{
        struct img_store s;
        *json = NULL;
        int r = img_store_open(&s, false, LOCK_SH, err);
        struct json_object *a = json_object_new_array();
        if (r < 0 && s.fd < 0)
                r = 0; /* no store yet: no images */
        else if (r == 0)
                r = each_record(&s, a, err);
        img_store_close(&s);
        if (r == 0)
                *json = util_strdup(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED));
        json_object_put(a);
        return r < 0 ? r : *json ? 0 : err_set(err, ENOMEM, "out of memory");
}

int img_inspect_json(const char *name, char **json, struct zb_error *err)
{
        struct img_image im;
        *json = NULL;
        if (!img_name_valid(name))
                return err_set(err, EINVAL, "image: '%s' is not a valid image name", name);
        int r = img_resolve(name, &im, err);
        if (r < 0)
                return r;
        struct json_object *o = record_json(&im), *paths = json_object_new_array();
        for (size_t i = 0; i < im.n_layers; i++) {
                char p[4200];
                if (img_layer_path(im.layers[i], p, sizeof(p), err) == 0)
                        json_object_array_add(paths, json_object_new_string(p));
        }
        json_object_object_add(o, "layer_dirs", paths);
        *json = util_strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED));
        json_object_put(o);
        img_image_free_fields(&im);
        return *json ? 0 : err_set(err, ENOMEM, "out of memory");
}

int img_remove(const char *name, struct zb_error *err)
{
        struct img_store s;
        struct img_image im;
        if (!img_name_valid(name))
                return err_set(err, EINVAL, "image rm: '%s' is not a valid image name", name);
        int r = img_store_open(&s, false, LOCK_EX, err);
        if (r == 0)
                r = record_read(&s, name, &im, err);
        if (r == 0) {
                char key[IMG_HEX_LEN + 6], path[IMG_HEX_LEN + 16];
                img_image_free_fields(&im);
                record_key(name, key);
                snprintf(path, sizeof(path), "images/%s", key);
                if (unlinkat(s.fd, path, 0) < 0)
                        r = err_errno(err, errno, "image rm: %s", name);
        }
        if (r < 0 && s.fd < 0)
                r = err_set(err, ENOENT, "image rm: '%s' is not in the image store %s", name, s.path);
        img_store_close(&s);
        return r;
}

static bool referenced(struct json_object *records, const char *hex)
{
        for (size_t i = 0; i < json_object_array_length(records); i++) {
                struct json_object *layers = img_jarr(json_object_array_get_idx(records, i), "layers");
                for (size_t k = 0; layers && k < json_object_array_length(layers); k++)
                        if (strcmp(json_object_get_string(json_object_array_get_idx(layers, k)), hex) == 0)
                                return true;
        }
        return false;
}

/* Everything in SUB (layers/ or tmp/) that KEEP does not want goes. */
static int prune_dir(const struct img_store *s, const char *sub, struct json_object *records, unsigned *removed)
{
        _cleanup_(closep) int dfd = fs_open_beneath(s->fd, sub, O_RDONLY | O_DIRECTORY);
        DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
        if (!d)
                return 0;
        dfd = -1; // NOLINT(clang-analyzer-deadcode.DeadStores): the DIR owns it now, not the cleanup
        for (struct dirent *e; (e = readdir(d));) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                        continue;
                if (records && referenced(records, e->d_name))
                        continue;
                if (fs_remove_tree(dirfd(d), e->d_name, 0) == 0)
                        (*removed)++;
        }
        closedir(d);
        return 0;
}

int img_prune(unsigned *removed, struct zb_error *err)
{
        struct img_store s;
        *removed = 0;
        int r = img_store_open(&s, false, LOCK_EX, err);
        if (r < 0 && s.fd < 0) {
                img_store_close(&s);
                return 0; /* no store: nothing to prune */
        }
        struct json_object *records = json_object_new_array();
        if (r == 0)
                r = each_record(&s, records, err);
        if (r == 0)
                r = prune_dir(&s, "layers", records, removed);
        if (r == 0) /* imports hold the lock: what is in tmp/ now was left by a killed one */
                r = prune_dir(&s, "tmp", NULL, removed);
        json_object_put(records);
        img_store_close(&s);
        return r;
}
