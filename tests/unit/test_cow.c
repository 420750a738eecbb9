/* cow zones, the pure parts (src/ns/cow_set.c, src/core/paths.c, and the
 * policy, flag and result pieces that carry them): ids, the default store,
 * how a host entry's change is told, the manifest's JSON round trip (and
 * what it refuses), the result's change lists, the zone mode and the run's
 * options. */
#include <json-c/json.h>
#include <sys/stat.h>

#include "core/keys.h"
#include "core/paths.h"
#include "core/policy.h"
#include "core/result.h"
#include "ns/cow.h"
#include "test.h"

TEST(cow_id_valid)
{
        static const struct {
                const char *id;
                bool ok;
        } t[] = {
                { "20250101-120000-0a1b2c3d", true },
                { "a", true },
                { "A_b-9", true },
                { "", false },
                { "-rf", false },
                { ".", false },
                { "..", false },
                { "../x", false },
                { "a/b", false },
                { "a b", false },
                { ".new-x", false },
                { "0123456789012345678901234567890123456789012345678", false }, /* too long */
        };
        for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
                if (cow_id_valid(t[i].id) != t[i].ok)
                        fprintf(stderr, "  id '%s'\n", t[i].id);
                CHECK(cow_id_valid(t[i].id) == t[i].ok);
        }
        CHECK(!cow_id_valid(NULL));
}

TEST(cow_store_default)
{
        char buf[256];
        CHECK(cow_store_default(0, "/run/user/0", buf, sizeof(buf)) == 0);
        CHECK(strcmp(buf, "/run/zonebox/cow") == 0);
        CHECK(cow_store_default(1000, "/run/user/1000", buf, sizeof(buf)) == 0);
        CHECK(strcmp(buf, "/run/user/1000/zonebox/cow") == 0);
        CHECK(cow_store_default(1000, NULL, buf, sizeof(buf)) == 0);
        CHECK(strcmp(buf, "/tmp/zonebox-1000/cow") == 0);
        CHECK(cow_store_default(1000, "relative", buf, sizeof(buf)) == 0);
        CHECK(strcmp(buf, "/tmp/zonebox-1000/cow") == 0);
        CHECK(cow_store_default(1000, "/run/user/1000", buf, 8) == -ENAMETOOLONG);
}

/* The store in force: the override, else $ZONEBOX_COW_DIR, both made
 * absolute; one too long for the buffer is refused with a message. */
TEST(cow_store_path)
{
        char buf[256];
        struct zb_error err = { 0 };
        const char *saved = getenv("ZONEBOX_COW_DIR");
        _cleanup_(freep) char *keep = saved ? strdup(saved) : NULL;

        setenv("ZONEBOX_COW_DIR", "/srv/from-env", 1);
        CHECK(cow_store_path("/srv/override", buf, sizeof(buf), NULL) == 0);
        CHECK(strcmp(buf, "/srv/override") == 0);
        CHECK(cow_store_path(NULL, buf, sizeof(buf), NULL) == 0);
        CHECK(strcmp(buf, "/srv/from-env") == 0);
        CHECK(cow_store_path("", buf, sizeof(buf), NULL) == 0);
        CHECK(strcmp(buf, "/srv/from-env") == 0);
        CHECK(cow_store_path("rel/store", buf, sizeof(buf), NULL) == 0);
        CHECK(buf[0] == '/' && strstr(buf, "/rel/store") != NULL);
        CHECK(cow_store_path("/srv/override", buf, 8, &err) == -ENAMETOOLONG);
        CHECK(strstr(err.message, "/srv/override") != NULL);
        if (keep)
                setenv("ZONEBOX_COW_DIR", keep, 1);
        else
                unsetenv("ZONEBOX_COW_DIR");
}

TEST(cow_type_of)
{
        CHECK(cow_type_of(S_IFREG | 0644) == ZB_COW_FILE);
        CHECK(cow_type_of(S_IFDIR | 0755) == ZB_COW_DIR);
        CHECK(cow_type_of(S_IFLNK | 0777) == ZB_COW_LINK);
        CHECK(cow_type_of(S_IFIFO | 0600) == ZB_COW_FIFO);
        CHECK(cow_type_of(S_IFSOCK | 0600) == ZB_COW_OTHER);
        CHECK(strcmp(cow_type_name(ZB_COW_LINK), "symlink") == 0);
        CHECK(strcmp(cow_change_name(ZB_COW_DELETED), "deleted") == 0);
}

TEST(cow_stat_changed)
{
        const struct cow_stat file = { .type = ZB_COW_FILE, .mode = 0644, .ino = 7, .size = 3,
                                          .mtime_ns = 100, .ctime_ns = 100 };
        const struct cow_stat none = { 0 };
        static const struct {
                const char *what;
                struct cow_stat now;
                const char *reason; /* NULL: no change */
        } t[] = {
                { "same", { .type = ZB_COW_FILE, .mode = 0644, .ino = 7, .size = 3, .mtime_ns = 100, .ctime_ns = 100 }, NULL },
                { "gone", { 0 }, "deleted on the host" },
                { "dir", { .type = ZB_COW_DIR, .mode = 0644, .ino = 7, .size = 3, .mtime_ns = 100, .ctime_ns = 100 }, "was a file, now a dir" },
                { "inode", { .type = ZB_COW_FILE, .mode = 0644, .ino = 8, .size = 3, .mtime_ns = 100, .ctime_ns = 100 }, "another inode" },
                { "size", { .type = ZB_COW_FILE, .mode = 0644, .ino = 7, .size = 5, .mtime_ns = 100, .ctime_ns = 100 }, "size 3 -> 5" },
                { "mtime", { .type = ZB_COW_FILE, .mode = 0644, .ino = 7, .size = 3, .mtime_ns = 101, .ctime_ns = 101 }, "(mtime)" },
                { "mode", { .type = ZB_COW_FILE, .mode = 0600, .ino = 7, .size = 3, .mtime_ns = 100, .ctime_ns = 101 }, "644 -> 600" },
                { "ctime", { .type = ZB_COW_FILE, .mode = 0644, .ino = 7, .size = 3, .mtime_ns = 100, .ctime_ns = 101 }, "(ctime)" },
        };
        char why[128];
        for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
                why[0] = '\0';
                bool changed = cow_stat_changed(&file, &t[i].now, why, sizeof(why));
                if (changed != (t[i].reason != NULL))
                        fprintf(stderr, "  case %s: %s\n", t[i].what, why);
                CHECK(changed == (t[i].reason != NULL));
                if (t[i].reason)
                        CHECK_STR_CONTAINS(why, t[i].reason);
        }
        CHECK(!cow_stat_changed(&none, &none, why, sizeof(why)));
        CHECK(cow_stat_changed(&none, &file, why, sizeof(why)));
        CHECK_STR_CONTAINS(why, "created on the host");
}

static void sample_set(struct cow_set *set)
{
        memset(set, 0, sizeof(*set));
        snprintf(set->id, sizeof(set->id), "20250101-120000-0a1b2c3d");
        set->created = 1735732800;
        set->run_start_ns = 1735732800123456789;
        set->status = strdup("timeout");
        set->exit_code = 124;
        set->n_zones = 1;
        set->zones = calloc(1, sizeof(*set->zones));
        struct cow_zone *z = &set->zones[0];
        z->name = strdup("data");
        z->path = strdup("/data");
        z->host_path = strdup("/home/u/data");
        z->index = 2;
        z->dev = 2049;
        z->ino = 1234567;
        struct cow_entry *e = cow_zone_add(z, "sub/new.txt", ZB_COW_ADDED, ZB_COW_FILE);
        e->apply = true;
        e->upper = (struct cow_stat){ .type = ZB_COW_FILE, .mode = 0640, .uid = 65534, .gid = 65534,
                                         .ino = 99, .size = 5, .mtime_ns = 5, .ctime_ns = 6 };
        e = cow_zone_add(z, "old", ZB_COW_DELETED, ZB_COW_DIR);
        e->apply = true;
        e->host = (struct cow_stat){ .type = ZB_COW_DIR, .mode = 0755, .ino = 42, .size = 4096,
                                        .mtime_ns = -1, .ctime_ns = 9000000000000000000 };
        e->conflict = strdup("changed on the host while the command ran");
        e = cow_zone_add(z, "d", ZB_COW_MODIFIED, ZB_COW_DIR);
        e->apply = true;
        e->meta_only = true;
        e = cow_zone_add(z, "repl/in", ZB_COW_ADDED, ZB_COW_LINK);
        e->apply = false;
}

TEST(cow_manifest_round_trip)
{
        struct cow_set a, b;
        struct zb_error err = { 0 };
        sample_set(&a);
        char *text = cow_set_to_json(&a);
        CHECK(text != NULL);
        CHECK(cow_set_from_json(text, &b, &err) == 0);
        CHECK(strcmp(b.id, a.id) == 0);
        CHECK(b.created == a.created && b.run_start_ns == a.run_start_ns);
        CHECK(strcmp(b.status, "timeout") == 0 && b.exit_code == 124);
        CHECK(b.n_zones == 1);
        const struct cow_zone *za = &a.zones[0], *zb = &b.zones[0];
        CHECK(strcmp(zb->name, "data") == 0 && strcmp(zb->path, "/data") == 0);
        CHECK(strcmp(zb->host_path, "/home/u/data") == 0);
        CHECK(zb->index == 2 && zb->dev == 2049 && zb->ino == 1234567);
        CHECK(zb->n == za->n);
        for (size_t i = 0; i < za->n && i < zb->n; i++) {
                const struct cow_entry *x = &za->e[i], *y = &zb->e[i];
                CHECK(strcmp(x->path, y->path) == 0);
                CHECK(x->change == y->change && x->type == y->type);
                CHECK(x->apply == y->apply && x->meta_only == y->meta_only);
                CHECK(memcmp(&x->host, &y->host, sizeof(x->host)) == 0);
                CHECK(memcmp(&x->upper, &y->upper, sizeof(x->upper)) == 0);
                CHECK((x->conflict == NULL) == (y->conflict == NULL));
                if (x->conflict && y->conflict)
                        CHECK(strcmp(x->conflict, y->conflict) == 0);
        }
        free(text);
        cow_set_free(&a);
        cow_set_free(&b);
}

/* A manifest is read back by commit, which writes where it says: paths
 * that could leave the zone, and broken ones, are refused. */
TEST(cow_manifest_refuses_bad_input)
{
        static const char *const bad_paths[] = { "../x", "/etc/passwd", "a/../../b", "a//b", ".", "", "a/./b", "a/" };
        struct cow_set a, b;
        struct zb_error err = { 0 };

        for (size_t i = 0; i < ARRAY_SIZE(bad_paths); i++) {
                sample_set(&a);
                free(a.zones[0].e[0].path);
                a.zones[0].e[0].path = strdup(bad_paths[i]);
                char *text = cow_set_to_json(&a);
                memset(&err, 0, sizeof(err));
                int r = cow_set_from_json(text, &b, &err);
                if (r == 0)
                        fprintf(stderr, "  accepted path '%s'\n", bad_paths[i]);
                CHECK(r == -EINVAL);
                CHECK_STR_CONTAINS(err.message, "manifest is not valid");
                free(text);
                cow_set_free(&a);
        }
        static const char *const bad_docs[] = {
                "", "[]", "{}", "not json",
                "{\"id\":\"../x\",\"zones\":[]}",
                "{\"id\":\"ok\",\"zones\":[{\"name\":\"z\",\"path\":\"/z\",\"host_path\":\"relative\",\"entries\":[]}]}",
                "{\"id\":\"ok\",\"zones\":[{\"name\":\"z\",\"path\":\"/z\",\"host_path\":\"/h\",\"index\":64,\"entries\":[]}]}",
                "{\"id\":\"ok\",\"zones\":[{\"name\":\"z\",\"path\":\"/z\",\"host_path\":\"/h\",\"entries\":[{\"path\":\"a\",\"change\":\"renamed\",\"type\":\"file\"}]}]}",
                "{\"id\":\"ok\",\"zones\":[{\"name\":\"z\",\"path\":\"/z\",\"host_path\":\"/h\",\"entries\":[{\"path\":\"a\",\"change\":\"added\",\"type\":\"none\"}]}]}",
                "{\"id\":\"ok\",\"zones\":[{\"name\":\"z\",\"path\":\"/z\",\"host_path\":\"/h\",\"entries\":[{\"path\":\"a\",\"change\":\"added\",\"type\":\"file\",\"host\":{\"type\":\"bogus\"}}]}]}",
        };
        for (size_t i = 0; i < ARRAY_SIZE(bad_docs); i++) {
                memset(&err, 0, sizeof(err));
                int r = cow_set_from_json(bad_docs[i], &b, &err);
                if (r == 0)
                        fprintf(stderr, "  accepted '%s'\n", bad_docs[i]);
                CHECK(r < 0);
        }
        /* The smallest good one. */
        CHECK(cow_set_from_json("{\"id\":\"ok\",\"zones\":[]}", &b, &err) == 0);
        cow_set_free(&b);
}

TEST(cow_fill_result)
{
        struct cow_set set;
        struct zb_result *r = res_new("namespace");
        sample_set(&set);
        cow_zone_add(&set.zones[0], "a-first", ZB_COW_ADDED, ZB_COW_FILE);
        CHECK(cow_fill_result(&set, r) == 0);
        CHECK(r->n_changes == 1);
        const struct pol_zone_changes *c = &r->changes[0];
        CHECK(strcmp(c->zone, "data") == 0);
        CHECK(c->n_added == 3 && c->n_modified == 1 && c->n_deleted == 1);
        /* Sorted; directories end in '/'. */
        CHECK(c->n_added == 3 && strcmp(c->added[0], "a-first") == 0 && strcmp(c->added[1], "repl/in") == 0 &&
              strcmp(c->added[2], "sub/new.txt") == 0);
        CHECK(c->n_modified == 1 && strcmp(c->modified[0], "d/") == 0);
        CHECK(c->n_deleted == 1 && strcmp(c->deleted[0], "old/") == 0);
        CHECK(!c->truncated);

        r->has_cow = true;
        r->cow_id = strdup(set.id);
        r->cow_action = "kept";
        char *json = zb_result_json(r);
        json_object *o = json_tokener_parse(json);
        json_object *v = NULL, *z = NULL, *l = NULL;
        CHECK(o && json_object_object_get_ex(o, "cow_id", &v) && strcmp(json_object_get_string(v), set.id) == 0);
        CHECK(o && json_object_object_get_ex(o, "cow_action", &v) && strcmp(json_object_get_string(v), "kept") == 0);
        CHECK(o && json_object_object_get_ex(o, "changes", &v) && json_object_object_get_ex(v, "data", &z));
        CHECK(z && json_object_object_get_ex(z, "deleted", &l) && json_object_array_length(l) == 1);
        CHECK(o && !json_object_object_get_ex(o, "cow_error", &v));
        json_object_put(o);
        free(json);
        cow_set_free(&set);
        zb_result_free(r);
}

TEST(cow_fill_result_truncates)
{
        struct cow_set set = { 0 };
        struct zb_result *r = res_new("namespace");
        set.n_zones = 1;
        set.zones = calloc(1, sizeof(*set.zones));
        set.zones[0].name = strdup("big");
        for (int i = 0; i < ZB_RESULT_MAX_CHANGES + 5; i++) {
                char p[32];
                snprintf(p, sizeof(p), "f%05d", i);
                cow_zone_add(&set.zones[0], p, ZB_COW_ADDED, ZB_COW_FILE);
        }
        CHECK(cow_fill_result(&set, r) == 0);
        CHECK(r->changes[0].n_added == ZB_RESULT_MAX_CHANGES);
        CHECK(r->changes[0].truncated);
        cow_set_free(&set);
        zb_result_free(r);
}

/* The result of a run whose commit (cow_action commit) did not happen must
 * not look like a success to a script. */
TEST(cow_result_exit_code)
{
        struct zb_result *r = res_new("namespace");
        r->status = ZB_STATUS_EXITED;
        r->exit_code = 0;
        r->has_cow = true;
        CHECK(zb_result_exit_code(r) == 0);
        r->cow_error = strdup("cow: 1 conflict");
        CHECK(zb_result_exit_code(r) == 125);
        r->exit_code = 3;
        CHECK(zb_result_exit_code(r) == 3);
        char *json = zb_result_json(r);
        CHECK_STR_CONTAINS(json, "\"cow_error\":\"cow: 1 conflict\"");
        CHECK_STR_CONTAINS(json, "\"cow_id\":null");
        free(json);
        zb_result_free(r);

        /* No cow zone: none of the keys. */
        r = res_new("namespace");
        json = zb_result_json(r);
        CHECK(json && !strstr(json, "cow_id") && !strstr(json, "changes"));
        free(json);
        zb_result_free(r);
}

TEST(cow_zone_mode_and_flags)
{
        enum pol_zone_mode m;
        struct zb_error err = { 0 };
        CHECK(pol_zone_mode_parse("cow", &m) == 0 && m == ZB_ZONE_COW);
        CHECK(strcmp(pol_zone_mode_name(ZB_ZONE_COW), "cow") == 0);

        struct zb_policy *p = zb_policy_new();
        CHECK(zb_policy_apply_flag(p, "-v", "/tmp:/data:cow", &err) == 0);
        CHECK(p->n_zones == 1 && p->zones[0].mode == ZB_ZONE_COW);
        CHECK(strcmp(p->zones[0].host_path, "/tmp") == 0 && strcmp(p->zones[0].path, "/data") == 0);
        CHECK(zb_policy_apply_flag(p, "--zone", "name=w,mode=cow,hostPath=/tmp,path=/w", &err) == 0);
        CHECK(p->n_zones == 2 && p->zones[1].mode == ZB_ZONE_COW);
        CHECK(zb_policy_apply_flag(p, "-v", "/tmp:/x:cow,ro", &err) == 0); /* the last option wins */
        CHECK(zb_policy_apply_flag(p, "-v", "/tmp:/y:cwo", &err) == -EINVAL);
        CHECK_STR_CONTAINS(err.message, "(ro, rw, cow, size=N)");

        CHECK(p->cow.action == ZB_COW_KEEP && p->cow.dir == NULL);
        CHECK(zb_policy_apply_flag(p, "--cow-action", "commit", &err) == 0 && p->cow.action == ZB_COW_COMMIT);
        CHECK(zb_policy_apply_flag(p, "--cow-action", "discard", &err) == 0 && p->cow.action == ZB_COW_DISCARD);
        CHECK(zb_policy_apply_flag(p, "--cow-action", "keep", &err) == 0 && p->cow.action == ZB_COW_KEEP);
        CHECK(zb_policy_apply_flag(p, "--cow-action", "apply", &err) == -EINVAL);
        CHECK_STR_CONTAINS(err.message, "keep, commit or discard");
        CHECK(zb_policy_apply_flag(p, "--cow-dir", "/var/tmp/./cow/", &err) == 0);
        CHECK(p->cow.dir && strcmp(p->cow.dir, "/var/tmp/cow") == 0);
        CHECK(pol_set_key(p, "cow_dir", "store", "sandbox.cow_dir", "/etc/zb", &err) == 0);
        CHECK(p->cow.dir && strcmp(p->cow.dir, "/etc/zb/store") == 0);
        zb_policy_free(p);
}

TEST(cow_validation)
{
        struct zb_error err = { 0 };
        struct zb_policy *p = zb_policy_new();
        char *argv[] = { "true", NULL };
        zb_policy_set_command(p, 1, argv, &err);
        CHECK(zb_policy_apply_flag(p, "-v", "/tmp:/data:cow", &err) == 0);
        CHECK(zb_policy_validate(p, &err) == 0);
        /* The engines would make it a read-write bind: refused. */
        CHECK(zb_policy_apply_flag(p, "--backend", "docker", &err) == 0);
        CHECK(zb_policy_validate(p, &err) == -ENOTSUP);
        CHECK_STR_CONTAINS(err.message, "zones mode: cow (--volume): not with backend docker");
        zb_policy_free(p);

        p = zb_policy_new();
        zb_policy_set_command(p, 1, argv, &err);
        CHECK(zb_policy_apply_flag(p, "--zone", "name=c,mode=cow", &err) == 0);
        CHECK(zb_policy_validate(p, &err) == -EINVAL);
        CHECK_STR_CONTAINS(err.message, "hostPath is required for mode cow");
        zb_policy_free(p);
}
