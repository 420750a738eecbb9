/* The pure part of images: what a reference, a store name, a digest and a
 * layer entry's path may be. Nothing here touches a file, so each rule is
 * unit-tested (tests/unit/test_image.c) and fuzzed on its own. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "image.h"

#define OCI_PREFIX "oci:"
#define ARCHIVE_PREFIX "docker-archive:"
#define WHITEOUT_PREFIX ".wh."
#define OPAQUE_NAME ".wh..wh..opq"

static bool name_char(char ch)
{
        return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
               strchr("._:/@-", ch) != NULL;
}

bool img_name_valid(const char *name)
{
        size_t n = strlen(name);
        if (n == 0 || n >= IMG_NAME_MAX || !name_char(name[0]) || strchr("._:/@-", name[0]))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!name_char(name[i]))
                        return false;
        return strstr(name, "..") == NULL;
}

bool img_digest_hex(const char *digest, char out[IMG_HEX_LEN + 1])
{
        if (strncmp(digest, "sha256:", 7) != 0 || strlen(digest + 7) != IMG_HEX_LEN)
                return false;
        for (const char *c = digest + 7; *c; c++)
                if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f')))
                        return false;
        memcpy(out, digest + 7, IMG_HEX_LEN + 1);
        return true;
}

/* The default name: the path's last component, then ":TAG" if any. */
static void default_name(struct img_ref *r)
{
        char base[IMG_NAME_MAX] = "";
        const char *slash = strrchr(r->path, '/');
        const char *last = slash && slash[1] ? slash + 1 : r->path;
        size_t i = 0;
        for (; last[i] && i + 1 < sizeof(base); i++)
                base[i] = (char)(name_char(last[i]) && last[i] != '/' ? last[i] : '_');
        base[i] = '\0';
        for (size_t j = 1; j < i; j++) /* no ".." in a name: "a..b" becomes "a._b" */
                if (base[j] == '.' && base[j - 1] == '.')
                        base[j] = '_';
        if (r->kind == IMG_REF_ARCHIVE) {
                char *dot = strrchr(base, '.');
                if (dot && dot != base)
                        *dot = '\0';
        }
        if (!base[0] || !name_char(base[0]) || strchr("._:/@-", base[0]))
                snprintf(base, sizeof(base), "image");
        char full[2 * IMG_NAME_MAX + 2];
        snprintf(full, sizeof(full), "%s%s%s", base, r->tag[0] ? ":" : "", r->tag);
        const char *pick = strlen(full) < sizeof(r->name) && img_name_valid(full) ? full
                           : img_name_valid(base)                                ? base
                                                                                 : "image";
        memcpy(r->name, pick, strlen(pick) + 1);
}

int img_ref_parse(const char *ref, struct img_ref *out, struct zb_error *err)
{
        memset(out, 0, sizeof(*out));
        const char *path = NULL;
        if (strncmp(ref, OCI_PREFIX, strlen(OCI_PREFIX)) == 0) {
                out->kind = IMG_REF_OCI;
                path = ref + strlen(OCI_PREFIX);
        } else if (strncmp(ref, ARCHIVE_PREFIX, strlen(ARCHIVE_PREFIX)) == 0) {
                out->kind = IMG_REF_ARCHIVE;
                path = ref + strlen(ARCHIVE_PREFIX);
        } else {
                if (!img_name_valid(ref))
                        return err_set(err, EINVAL,
                                       "image: '%s' is neither oci:DIR[:TAG], docker-archive:FILE nor an image name (letters, digits, ._:/@-)",
                                       ref);
                out->kind = IMG_REF_STORE;
                snprintf(out->name, sizeof(out->name), "%s", ref);
                return 0;
        }
        if (strlen(path) >= sizeof(out->path))
                return err_set(err, ENAMETOOLONG, "image: '%s': path too long", ref);
        snprintf(out->path, sizeof(out->path), "%s", path);
        /* oci:DIR:TAG — a tag has no '/', so the last ':' after the last '/' ends DIR. */
        char *colon = out->kind == IMG_REF_OCI ? strrchr(out->path, ':') : NULL;
        if (colon && !strchr(colon, '/')) {
                *colon = '\0';
                if (!img_name_valid(colon + 1))
                        return err_set(err, EINVAL, "image: '%s': the tag '%s' is not a valid name", ref,
                                       colon + 1);
                snprintf(out->tag, sizeof(out->tag), "%s", colon + 1);
        }
        if (!out->path[0])
                return err_set(err, EINVAL, "image: '%s': no path", ref);
        default_name(out);
        return 0;
}

int img_import_ref(const char *ref, const char *name, struct img_ref *out, struct zb_error *err)
{
        int r = img_ref_parse(ref, out, err);
        if (r < 0)
                return r;
        if (out->kind == IMG_REF_STORE)
                return err_set(err, EINVAL, "image import: '%s' is a name; import oci:DIR[:TAG] or docker-archive:FILE", ref);
        if (name && !img_name_valid(name))
                return err_set(err, EINVAL, "image import: --name '%s' is not a valid name (letters, digits, ._:/@-)", name);
        if (name)
                snprintf(out->name, sizeof(out->name), "%s", name);
        return 0;
}

static int copy_part(char *dst, size_t n, const char *src, size_t len)
{
        if (len >= n)
                return -ENAMETOOLONG;
        memcpy(dst, src, len);
        dst[len] = '\0';
        return 0;
}

/* Every component of P (len N) is a plain name: not empty, ".", or "..". */
static bool components_plain(const char *p, size_t n, const char **why)
{
        for (size_t start = 0; start < n;) {
                const char *slash = memchr(p + start, '/', n - start);
                size_t end = slash ? (size_t)(slash - p) : n;
                size_t len = end - start;
                if (len == 0 || (len == 1 && p[start] == '.')) {
                        *why = "an empty or '.' component";
                        return false;
                }
                if (len == 2 && p[start] == '.' && p[start + 1] == '.') {
                        *why = "a '..' component (it would leave the layer)";
                        return false;
                }
                start = end + 1;
        }
        return true;
}

int img_entry_path(const char *name, char *parent, size_t parent_n, char *base, size_t base_n,
                   enum img_entry_kind *kind, const char **why)
{
        *kind = IMG_ENTRY_PLAIN;
        if (name[0] == '/') {
                *why = "an absolute path";
                return -EINVAL;
        }
        while (name[0] == '.' && name[1] == '/')
                name += 2;
        size_t n = strlen(name);
        while (n > 0 && name[n - 1] == '/')
                n--;
        if (n == 0 || (n == 1 && name[0] == '.'))
                return 1;
        if (!components_plain(name, n, why))
                return -EINVAL;
        const char *slash = memrchr(name, '/', n);
        size_t plen = slash ? (size_t)(slash - name) : 0;
        const char *b = slash ? slash + 1 : name;
        size_t blen = n - (size_t)(b - name);
        if (copy_part(parent, parent_n, name, plen) < 0) {
                *why = "a path too long";
                return -EINVAL;
        }
        if (blen == strlen(OPAQUE_NAME) && memcmp(b, OPAQUE_NAME, blen) == 0) {
                *kind = IMG_ENTRY_OPAQUE;
                b += blen;
                blen = 0;
        } else if (blen > strlen(WHITEOUT_PREFIX) && memcmp(b, WHITEOUT_PREFIX, strlen(WHITEOUT_PREFIX)) == 0) {
                *kind = IMG_ENTRY_WHITEOUT;
                b += strlen(WHITEOUT_PREFIX);
                blen -= strlen(WHITEOUT_PREFIX);
                if ((blen == 1 && b[0] == '.') || (blen == 2 && b[0] == '.' && b[1] == '.')) {
                        *why = "a whiteout of '.' or '..'";
                        return -EINVAL;
                }
        } else if (blen >= strlen(WHITEOUT_PREFIX) && memcmp(b, WHITEOUT_PREFIX, strlen(WHITEOUT_PREFIX)) == 0) {
                *why = "an empty whiteout name";
                return -EINVAL;
        }
        if (copy_part(base, base_n, b, blen) < 0) {
                *why = "a name too long";
                return -EINVAL;
        }
        return 0;
}
