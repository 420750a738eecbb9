/* Copy-on-write zones: the change-set commands of the public API
 * (zb_cow_list, zb_cow_diff, zb_cow_commit, zb_cow_discard), over the
 * store (cow_store.c) and commit (cow_commit.c). A set is changed only
 * under its flock: never while its run goes on, nor by two commands. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "cow_int.h"

/* ---------- the change-set commands ---------- */

static int cmp_json_str(const void *a, const void *b)
{
        return strcmp(json_object_get_string(*(json_object *const *)a),
                      json_object_get_string(*(json_object *const *)b));
}

static json_object *zone_lists(const struct cow_zone *z, bool counts)
{
        json_object *o = json_object_new_object();
        json_object *l[3] = { json_object_new_array(), json_object_new_array(), json_object_new_array() };
        size_t n[3] = { 0 };
        json_object_object_add(o, "name", json_object_new_string(z->name));
        json_object_object_add(o, "path", json_object_new_string(z->path));
        json_object_object_add(o, "host_path", json_object_new_string(z->host_path));
        for (size_t j = 0; j < z->n; j++) {
                const struct cow_entry *e = &z->e[j];
                n[e->change]++;
                if (!counts) {
                        char *s = util_asprintf("%s%s", e->path, e->type == ZB_COW_DIR ? "/" : "");
                        json_object_array_add(l[e->change], json_object_new_string(s ? s : e->path));
                        free(s);
                }
        }
        for (int c = 0; c < 3; c++) {
                if (counts) {
                        json_object_put(l[c]);
                        json_object_object_add(o, cow_change_name((enum cow_change)c), json_object_new_uint64(n[c]));
                } else {
                        json_object_array_sort(l[c], cmp_json_str);
                        json_object_object_add(o, cow_change_name((enum cow_change)c), l[c]);
                }
        }
        return o;
}

/* A change set a command works on: its store, its run dir (held, and with
 * LOCK locked) and its manifest. */
struct opened_set {
        char store[PATH_MAX];
        int store_fd, run_fd;
        struct cow_set set;
};

static int opened_set_open(struct opened_set *os, const char *store, const char *id, bool lock,
                           struct zb_error *err)
{
        int r = cow_store_open(store, false, os->store, sizeof(os->store), &os->store_fd, err);
        return r < 0 ? r : cow_set_open(os->store_fd, os->store, id, lock, &os->run_fd, &os->set, err);
}

static void opened_set_close(struct opened_set *os)
{
        cow_set_free(&os->set);
        if (os->run_fd >= 0)
                close(os->run_fd);
        if (os->store_fd >= 0)
                close(os->store_fd);
}

/* The set's zones, each with its counts of changes. */
static json_object *zones_counted(const struct cow_set *set)
{
        json_object *zs = json_object_new_array();
        for (size_t i = 0; i < set->n_zones; i++)
                json_object_array_add(zs, zone_lists(&set->zones[i], true));
        return zs;
}

int zb_cow_list(const char *store, char **json, struct zb_error *err)
{
        char path[PATH_MAX];
        int store_fd = -1;
        struct stat st;

        *json = NULL;
        int r = cow_store_path(store, path, sizeof(path), err);
        if (r < 0)
                return r;
        if (stat(path, &st) < 0 && errno == ENOENT) {
                *json = util_strdup("[]");
                return *json ? 0 : err_set(err, ENOMEM, "out of memory");
        }
        r = cow_store_open(store, false, path, sizeof(path), &store_fd, err);
        if (r < 0)
                return r;
        cow_store_gc(store_fd);
        json_object *a = json_object_new_array();
        size_t n = 0;
        char **names = fs_dir_names(store_fd, &n);
        for (size_t i = 0; names && i < n; i++) {
                struct cow_set set = { 0 };
                struct zb_error e2 = { 0 };
                int run_fd = -1;
                if (!cow_id_valid(names[i]))
                        continue;
                int sr = cow_set_open(store_fd, path, names[i], false, &run_fd, &set, &e2);
                if (run_fd >= 0)
                        close(run_fd);
                json_object *o;
                if (sr < 0) {
                        o = json_object_new_object();
                        json_object_object_add(o, "id", json_object_new_string(names[i]));
                        json_object_object_add(o, "status", json_object_new_string(sr == -EBUSY ? "running" : "unreadable"));
                } else {
                        o = cow_set_header(&set);
                        json_object_object_add(o, "zones", zones_counted(&set));
                }
                json_object_array_add(a, o);
                cow_set_free(&set);
        }
        fs_names_free(names, n);
        close(store_fd);
        *json = cow_json_text(a);
        return *json ? 0 : err_set(err, ENOMEM, "out of memory");
}

int zb_cow_diff(const char *store, const char *id, char **json, struct zb_error *err)
{
        _cleanup_(opened_set_close) struct opened_set os = { .store_fd = -1, .run_fd = -1 };
        const struct cow_set *set = &os.set;

        *json = NULL;
        int r = opened_set_open(&os, store, id, false, err);
        if (r < 0)
                return r;
        json_object *o = cow_set_header(set);
        json_object *zs = json_object_new_array();
        json_object *conflicts = json_object_new_array();
        cow_find_conflicts(&os.set, conflicts);
        for (size_t i = 0; i < set->n_zones; i++) {
                json_object *zo = zone_lists(&set->zones[i], false);
                char *up = util_asprintf("%s/%s/zone-%zu/upper", os.store, set->id, set->zones[i].index);
                json_object_object_add(zo, "upper", up ? json_object_new_string(up) : NULL);
                free(up);
                json_object *zc = json_object_new_array();
                for (size_t k = 0; k < json_object_array_length(conflicts); k++) {
                        json_object *c = json_object_array_get_idx(conflicts, k), *zn = NULL;
                        json_object_object_get_ex(c, "zone", &zn);
                        if (zn && strcmp(json_object_get_string(zn), set->zones[i].name) == 0)
                                json_object_array_add(zc, json_object_get(c));
                }
                json_object_object_add(zo, "conflicts", zc);
                json_object_array_add(zs, zo);
        }
        json_object_put(conflicts);
        json_object_object_add(o, "zones", zs);
        *json = cow_json_text(o);
        return *json ? 0 : err_set(err, ENOMEM, "out of memory");
}

int zb_cow_commit(const char *store, const char *id, char **json, struct zb_error *err)
{
        _cleanup_(opened_set_close) struct opened_set os = { .store_fd = -1, .run_fd = -1 };
        json_object *conflicts = json_object_new_array();

        *json = NULL;
        int r = opened_set_open(&os, store, id, true, err);
        if (r == 0)
                r = cow_apply_set(&os.set, os.run_fd, conflicts, err);
        if (r == 0 || r == -ESTALE) {
                json_object *o = json_object_new_object();
                json_object_object_add(o, "id", json_object_new_string(os.set.id));
                json_object_object_add(o, "committed", json_object_new_boolean(r == 0));
                json_object_object_add(o, "zones", zones_counted(&os.set));
                json_object_object_add(o, "conflicts", json_object_get(conflicts));
                *json = cow_json_text(o);
        }
        if (r == 0) {
                int rr = fs_remove_tree(os.store_fd, id, 0);
                if (rr < 0)
                        r = err_errno(err, -rr, "cow: committed, but cannot remove change set %s", id);
        }
        json_object_put(conflicts);
        return r;
}

int zb_cow_discard(const char *store, const char *id, struct zb_error *err)
{
        char path[PATH_MAX];
        int store_fd = -1;

        if (!cow_id_valid(id))
                return err_set(err, EINVAL, "cow: '%s' is not a change-set id", id);
        int r = cow_store_open(store, false, path, sizeof(path), &store_fd, err);
        if (r < 0)
                return r;
        _cleanup_(closep) int fd = openat(store_fd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (fd < 0)
                r = errno == ENOENT ? err_set(err, ENOENT, "cow: no change set %s in %s (zonebox diff --list)", id, path)
                                    : err_errno(err, errno, "cow: change set %s", id);
        else if (fstat(fd, &st) < 0 || st.st_uid != geteuid())
                r = err_set(err, EPERM, "cow: change set %s is not yours", id);
        else if (flock(fd, LOCK_EX | LOCK_NB) < 0)
                r = err_set(err, EBUSY, "cow: change set %s is in use (its run is still going, or a commit)", id);
        else if ((r = fs_remove_tree(store_fd, id, 0)) < 0)
                r = err_errno(err, -r, "cow: remove change set %s", id);
        close(store_fd);
        return r;
}
