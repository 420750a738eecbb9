/* Images' pure rules (src/image/ref.c): references, store names, digests,
 * and a layer entry's path (escapes refused, whiteouts recognised). */
#include <errno.h>

#include "image/image.h"
#include "test.h"

struct entry_case {
        const char *name;
        int rc;
        const char *parent, *base;
        enum img_entry_kind kind;
};

static const struct entry_case entries[] = {
        { "bin/sh", 0, "bin", "sh", IMG_ENTRY_PLAIN },
        { "./bin/sh", 0, "bin", "sh", IMG_ENTRY_PLAIN },
        { "./././etc/", 0, "", "etc", IMG_ENTRY_PLAIN },
        { "usr/lib/x/", 0, "usr/lib", "x", IMG_ENTRY_PLAIN },
        { "a/.wh.gone", 0, "a", "gone", IMG_ENTRY_WHITEOUT },
        { ".wh.b", 0, "", "b", IMG_ENTRY_WHITEOUT },
        { "o/.wh..wh..opq", 0, "o", "", IMG_ENTRY_OPAQUE },
        { ".", 1, NULL, NULL, IMG_ENTRY_PLAIN },
        { "./", 1, NULL, NULL, IMG_ENTRY_PLAIN },
        { "", 1, NULL, NULL, IMG_ENTRY_PLAIN },
        { "/etc/passwd", -EINVAL, NULL, NULL, IMG_ENTRY_PLAIN },
        { "../x", -EINVAL, NULL, NULL, IMG_ENTRY_PLAIN },
        { "a/../../x", -EINVAL, NULL, NULL, IMG_ENTRY_PLAIN },
        { "a/..", -EINVAL, NULL, NULL, IMG_ENTRY_PLAIN },
        { "a//b", -EINVAL, NULL, NULL, IMG_ENTRY_PLAIN },
        { "a/./b", -EINVAL, NULL, NULL, IMG_ENTRY_PLAIN },
        { "a/.wh...", -EINVAL, NULL, NULL, IMG_ENTRY_PLAIN },
        { "a/.wh..", -EINVAL, NULL, NULL, IMG_ENTRY_PLAIN },
        { "a/.wh.", -EINVAL, NULL, NULL, IMG_ENTRY_PLAIN },
};

TEST(image_entry_path)
{
        for (size_t i = 0; i < sizeof(entries) / sizeof(entries[0]); i++) {
                const struct entry_case *e = &entries[i];
                char parent[64] = "?", base[64] = "?";
                enum img_entry_kind kind = IMG_ENTRY_PLAIN;
                const char *why = NULL;
                int rc = img_entry_path(e->name, parent, sizeof(parent), base, sizeof(base), &kind, &why);
                if (rc != e->rc)
                        fprintf(stderr, "  entry '%s': rc %d, want %d\n", e->name, rc, e->rc);
                CHECK(rc == e->rc);
                if (rc < 0)
                        CHECK(why && why[0]);
                if (rc != 0)
                        continue;
                CHECK(strcmp(parent, e->parent) == 0);
                CHECK(strcmp(base, e->base) == 0);
                CHECK(kind == e->kind);
        }
}

TEST(image_entry_path_too_long)
{
        char parent[4], base[4];
        enum img_entry_kind kind;
        const char *why = NULL;
        CHECK(img_entry_path("abcdef/x", parent, sizeof(parent), base, sizeof(base), &kind, &why) == -EINVAL);
        CHECK(img_entry_path("a/abcdef", parent, sizeof(parent), base, sizeof(base), &kind, &why) == -EINVAL);
}

TEST(image_ref_parse)
{
        struct img_ref r;
        struct zb_error err = { 0 };
        CHECK(img_ref_parse("oci:/srv/img:t", &r, &err) == 0);
        CHECK(r.kind == IMG_REF_OCI && strcmp(r.path, "/srv/img") == 0 && strcmp(r.tag, "t") == 0);
        CHECK(strcmp(r.name, "img:t") == 0);
        CHECK(img_ref_parse("oci:/srv/my.img", &r, &err) == 0);
        CHECK(strcmp(r.path, "/srv/my.img") == 0 && r.tag[0] == '\0' && strcmp(r.name, "my.img") == 0);
        CHECK(img_ref_parse("oci:rel/x:1.0", &r, &err) == 0);
        CHECK(strcmp(r.path, "rel/x") == 0 && strcmp(r.tag, "1.0") == 0);
        CHECK(img_ref_parse("docker-archive:/tmp/alpine.tar", &r, &err) == 0);
        CHECK(r.kind == IMG_REF_ARCHIVE && strcmp(r.name, "alpine") == 0);
        CHECK(img_ref_parse("bookworm", &r, &err) == 0);
        CHECK(r.kind == IMG_REF_STORE && strcmp(r.name, "bookworm") == 0);
        CHECK(img_ref_parse("library/alpine:3.19", &r, &err) == 0);
        CHECK(img_ref_parse("oci:", &r, &err) == -EINVAL);
        CHECK(img_ref_parse("oci:/x:bad tag", &r, &err) == -EINVAL);
        CHECK(img_ref_parse("../etc", &r, &err) == -EINVAL);
        CHECK_STR_CONTAINS(err.message, "image:");
        CHECK(img_ref_parse("a b", &r, &err) == -EINVAL);
        /* a default name is always a valid one (found by fuzz_image): ".." and a
         * tag that would make it invalid are not carried into it */
        CHECK(img_ref_parse("oci::i:/sr..", &r, &err) == 0);
        CHECK(img_name_valid(r.name) && strcmp(r.name, "sr._") == 0);
        CHECK(img_ref_parse("oci:/x/..a..:t", &r, &err) == 0);
        CHECK(img_name_valid(r.name));
}

/* What zonebox checks before it runs the zonebox-image helper, and the
 * helper again (one function): a store name is no import, --name must be
 * valid, and the name given wins over the ref's default. */
TEST(image_import_ref)
{
        struct img_ref r;
        struct zb_error err = { 0 };
        CHECK(img_import_ref("oci:/srv/img:t", NULL, &r, &err) == 0);
        CHECK(strcmp(r.name, "img:t") == 0);
        CHECK(img_import_ref("oci:/srv/img:t", "mine", &r, &err) == 0);
        CHECK(strcmp(r.name, "mine") == 0 && strcmp(r.tag, "t") == 0);
        CHECK(img_import_ref("bookworm", NULL, &r, &err) == -EINVAL);
        CHECK_STR_CONTAINS(err.message, "is a name");
        CHECK(img_import_ref("oci:/srv/img", "-x", &r, &err) == -EINVAL);
        CHECK_STR_CONTAINS(err.message, "--name '-x'");
        CHECK(img_import_ref("oci:", NULL, &r, &err) == -EINVAL);
}

TEST(image_name_and_digest)
{
        char hex[IMG_HEX_LEN + 1];
        CHECK(img_name_valid("a"));
        CHECK(img_name_valid("docker.io/library/alpine:latest"));
        CHECK(!img_name_valid(""));
        CHECK(!img_name_valid("-x"));
        CHECK(!img_name_valid("a/../b"));
        CHECK(!img_name_valid("a\nb"));
        CHECK(img_digest_hex("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", hex));
        CHECK(strcmp(hex, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef") == 0);
        CHECK(!img_digest_hex("sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", hex));
        CHECK(!img_digest_hex("sha256:../../etc/passwd", hex));
        CHECK(!img_digest_hex("sha512:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", hex));
}
