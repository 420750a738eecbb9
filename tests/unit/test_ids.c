/* The id pieces that need no sandbox: /etc/subuid parsing (src/ns/userns.c),
 * derived zone names that would collide (src/core/flags.c), and the tmp
 * keys and flags (src/core/keys.c). */
#include <stdio.h>

#include "zonebox.h"
#include "core/keys.h"
#include "ns/ns.h"
#include "test.h"

TEST(ids_subid_parse)
{
        static const char text[] = "alice:100000:65536\n"
                                   "zonebox:200000:1000\n" /* too short */
                                   "zonebox:0:65536\n"     /* host root: never */
                                   "zonebox:300000:65536\n"
                                   "1001:400000:70000\n"
                                   "garbage line\n";
        uint32_t s = 0;
        CHECK(ns_subid_parse(text, "zonebox", (unsigned long)-1, 65536, &s) == 0 && s == 300000);
        CHECK(ns_subid_parse(text, "alice", 1000, 65535, &s) == 0 && s == 100000);
        CHECK(ns_subid_parse(text, "bob", 1001, 65535, &s) == 0 && s == 400000); /* by uid */
        CHECK(ns_subid_parse(text, "bob", 1002, 65535, &s) == -ENOENT);
        CHECK(ns_subid_parse("zonebox:4294967000:65536\n", "zonebox", 0, 65536, &s) == -ENOENT);
        CHECK(ns_subid_parse("", "zonebox", 0, 65536, &s) == -ENOENT);
}

TEST(ids_zone_names_do_not_collide)
{
        struct zb_policy *p = zb_policy_new();
        struct zb_error err = { 0 };
        CHECK(zb_policy_apply_flag(p, "-v", "/tmp:/a-b", &err) == 0);
        CHECK(zb_policy_apply_flag(p, "-v", "/tmp:/a/b:ro", &err) == 0);
        CHECK(zb_policy_apply_flag(p, "--tmpfs", "/a/b/c", &err) == 0);
        CHECK(zb_policy_apply_flag(p, "--tmpfs", "/a-b-2", &err) == 0);
        CHECK(p->n_zones == 4);
        CHECK(strcmp(p->zones[0].name, "a-b") == 0 && strcmp(p->zones[1].name, "a-b-2") == 0);
        CHECK(strcmp(p->zones[2].name, "a-b-c") == 0 && strcmp(p->zones[3].name, "a-b-2-2") == 0);
        zb_policy_free(p);
}

TEST(ids_tmp_keys)
{
        struct zb_policy *p = zb_policy_new();
        struct zb_error err = { 0 };
        CHECK(p->tmp_size == DEFAULT_TMP_BYTES);
        CHECK(zb_policy_apply_flag(p, "--tmpfs", "/tmp:size=1g", &err) == 0);
        CHECK(p->tmp_size == 1ull << 30 && p->n_zones == 0); /* a resize, not a zone */
        CHECK(zb_policy_apply_flag(p, "--no-tmp", NULL, &err) == 0 && p->tmp_size == 0);
        CHECK(pol_set_key(p, "tmp", "16m", "tmp", NULL, &err) == 0 && p->tmp_size == 16ull << 20);
        CHECK(pol_set_key(p, "tmp", "none", "tmp", NULL, &err) == 0 && p->tmp_size == 0);
        CHECK(pol_set_key(p, "tmp", "true", "tmp", NULL, &err) == 0 && p->tmp_size == DEFAULT_TMP_BYTES);
        CHECK(pol_set_key(p, "tmp", "lots", "tmp", NULL, &err) == -EINVAL);
        CHECK_STR_CONTAINS(err.message, "tmp: invalid value 'lots'");
        zb_policy_free(p);
}
