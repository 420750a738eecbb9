/* Copy-on-write zones: change sets as data. Pure code, no system calls:
 * the names of types and changes, how a host entry's change is told, the
 * sets in memory, their manifest JSON (and what reading one refuses: a
 * manifest names host dirs commit writes to, so every path in it must be
 * a plain relative path), and the result's change lists. */
#define _GNU_SOURCE
#include <json-c/json.h>
#include <stdio.h>
#include <sys/stat.h>

#include "cow_int.h"

/* ---------- names, types, stats ---------- */

bool cow_id_valid(const char *id)
{
        size_t n = id ? strlen(id) : 0;
        if (n == 0 || n >= ZB_COW_ID_MAX || id[0] == '-')
                return false;
        for (size_t i = 0; i < n; i++) {
                char ch = id[i];
                if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                      ch == '-' || ch == '_'))
                        return false;
        }
        return true;
}

static const char *const type_names[] = {
        [ZB_COW_NONE] = "none", [ZB_COW_FILE] = "file", [ZB_COW_DIR] = "dir",
        [ZB_COW_LINK] = "symlink", [ZB_COW_FIFO] = "fifo", [ZB_COW_OTHER] = "other",
};
static const char *const change_names[] = {
        [ZB_COW_ADDED] = "added", [ZB_COW_MODIFIED] = "modified", [ZB_COW_DELETED] = "deleted",
};

const char *cow_type_name(enum cow_type t)
{
        return (unsigned)t < ARRAY_SIZE(type_names) ? type_names[t] : "other";
}

const char *cow_change_name(enum cow_change c)
{
        return (unsigned)c < ARRAY_SIZE(change_names) ? change_names[c] : "modified";
}

enum cow_type cow_type_of(mode_t mode)
{
        if (S_ISREG(mode))
                return ZB_COW_FILE;
        if (S_ISDIR(mode))
                return ZB_COW_DIR;
        if (S_ISLNK(mode))
                return ZB_COW_LINK;
        if (S_ISFIFO(mode))
                return ZB_COW_FIFO;
        return ZB_COW_OTHER;
}


void cow_stat_fill(struct cow_stat *o, const struct stat *st)
{
        o->type = cow_type_of(st->st_mode);
        o->mode = st->st_mode & 07777;
        o->uid = st->st_uid;
        o->gid = st->st_gid;
        o->ino = st->st_ino;
        o->size = (uint64_t)st->st_size;
        o->mtime_ns = fs_ts_ns(&st->st_mtim);
        o->ctime_ns = fs_ts_ns(&st->st_ctim);
}

bool cow_stat_changed(const struct cow_stat *then, const struct cow_stat *now, char *reason,
                         size_t n)
{
        if (then->type == ZB_COW_NONE && now->type == ZB_COW_NONE)
                return false;
        if (then->type == ZB_COW_NONE)
                snprintf(reason, n, "created on the host since the run");
        else if (now->type == ZB_COW_NONE)
                snprintf(reason, n, "deleted on the host since the run");
        else if (then->type != now->type)
                snprintf(reason, n, "replaced on the host (was a %s, now a %s)", cow_type_name(then->type),
                         cow_type_name(now->type));
        else if (then->ino != now->ino)
                snprintf(reason, n, "replaced on the host (another inode)");
        else if (then->size != now->size)
                snprintf(reason, n, "modified on the host (size %llu -> %llu)",
                         (unsigned long long)then->size, (unsigned long long)now->size);
        else if (then->mtime_ns != now->mtime_ns)
                snprintf(reason, n, "modified on the host (mtime)");
        else if (then->mode != now->mode)
                snprintf(reason, n, "mode changed on the host (%o -> %o)", (unsigned)then->mode,
                         (unsigned)now->mode);
        else if (then->ctime_ns != now->ctime_ns)
                snprintf(reason, n, "changed on the host (ctime)");
        else
                return false;
        return true;
}

/* ---------- change sets in memory ---------- */

struct cow_entry *cow_zone_add(struct cow_zone *z, const char *path, enum cow_change change,
                                     enum cow_type type)
{
        if (z->n == z->cap) {
                size_t cap = z->cap ? z->cap * 2 : 32;
                struct cow_entry *e = realloc(z->e, cap * sizeof(*e));
                if (!e)
                        return NULL;
                z->e = e;
                z->cap = cap;
        }
        struct cow_entry *e = &z->e[z->n];
        memset(e, 0, sizeof(*e));
        if (!(e->path = strdup(path)))
                return NULL;
        e->change = change;
        e->type = type;
        z->n++;
        return e;
}

static void zone_free(struct cow_zone *z)
{
        for (size_t i = 0; i < z->n; i++) {
                free(z->e[i].path);
                free(z->e[i].conflict);
                free(z->e[i].host_tree);
        }
        free(z->e);
        json_object_put(z->tree);
        free(z->name);
        free(z->path);
        free(z->host_path);
        memset(z, 0, sizeof(*z));
}

void cow_set_free(struct cow_set *set)
{
        for (size_t i = 0; i < set->n_zones; i++)
                zone_free(&set->zones[i]);
        free(set->zones);
        free(set->status);
        free(set->error);
        memset(set, 0, sizeof(*set));
}

size_t cow_set_count(const struct cow_set *set)
{
        size_t n = 0;
        for (size_t i = 0; i < set->n_zones; i++)
                n += set->zones[i].n;
        return n;
}

/* ---------- the manifest (JSON) ---------- */

static json_object *stat_to_json(const struct cow_stat *s)
{
        if (s->type == ZB_COW_NONE)
                return NULL;
        json_object *o = json_object_new_object();
        json_object_object_add(o, "type", json_object_new_string(cow_type_name(s->type)));
        json_object_object_add(o, "mode", json_object_new_int((int)s->mode));
        json_object_object_add(o, "uid", json_object_new_int64(s->uid));
        json_object_object_add(o, "gid", json_object_new_int64(s->gid));
        json_object_object_add(o, "ino", json_object_new_uint64(s->ino));
        json_object_object_add(o, "size", json_object_new_uint64(s->size));
        json_object_object_add(o, "mtime_ns", json_object_new_int64(s->mtime_ns));
        json_object_object_add(o, "ctime_ns", json_object_new_int64(s->ctime_ns));
        return o;
}

/* The fields a change set is known by: in its manifest, in diff and list. */
json_object *cow_set_header(const struct cow_set *set)
{
        json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        json_object_object_add(o, "id", json_object_new_string(set->id));
        json_object_object_add(o, "created", json_object_new_int64(set->created));
        json_object_object_add(o, "status", json_object_new_string(set->status ? set->status : "?"));
        json_object_object_add(o, "exit_code", json_object_new_int(set->exit_code));
        if (set->error)
                json_object_object_add(o, "error", json_object_new_string(set->error));
        return o;
}

char *cow_json_text(json_object *o)
{
        char *s = util_strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                                      JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        return s;
}

char *cow_set_to_json(const struct cow_set *set)
{
        json_object *o = cow_set_header(set);
        json_object *zones = json_object_new_array();

        if (!o || !zones)
                goto out;
        json_object_object_add(o, "version", json_object_new_int(1));
        json_object_object_add(o, "run_start_ns", json_object_new_int64(set->run_start_ns));
        for (size_t i = 0; i < set->n_zones; i++) {
                const struct cow_zone *z = &set->zones[i];
                json_object *zo = json_object_new_object(), *entries = json_object_new_array();
                json_object_object_add(zo, "name", json_object_new_string(z->name ? z->name : ""));
                json_object_object_add(zo, "path", json_object_new_string(z->path ? z->path : ""));
                json_object_object_add(zo, "host_path", json_object_new_string(z->host_path ? z->host_path : ""));
                json_object_object_add(zo, "index", json_object_new_uint64(z->index));
                json_object_object_add(zo, "dev", json_object_new_uint64(z->dev));
                json_object_object_add(zo, "ino", json_object_new_uint64(z->ino));
                for (size_t j = 0; j < z->n; j++) {
                        const struct cow_entry *e = &z->e[j];
                        json_object *eo = json_object_new_object();
                        json_object_object_add(eo, "path", json_object_new_string(e->path));
                        json_object_object_add(eo, "change", json_object_new_string(cow_change_name(e->change)));
                        json_object_object_add(eo, "type", json_object_new_string(cow_type_name(e->type)));
                        json_object_object_add(eo, "apply", json_object_new_boolean(e->apply));
                        json_object_object_add(eo, "meta_only", json_object_new_boolean(e->meta_only));
                        json_object_object_add(eo, "host", stat_to_json(&e->host));
                        json_object_object_add(eo, "upper", stat_to_json(&e->upper));
                        if (e->conflict)
                                json_object_object_add(eo, "conflict", json_object_new_string(e->conflict));
                        if (e->host_tree)
                                json_object_object_add(eo, "host_tree", json_object_new_string(e->host_tree));
                        json_object_array_add(entries, eo);
                }
                json_object_object_add(zo, "entries", entries);
                if (z->tree)
                        json_object_object_add(zo, "tree", json_object_get(z->tree));
                json_object_array_add(zones, zo);
        }
        json_object_object_add(o, "zones", zones);
        return cow_json_text(o);
out:
        json_object_put(zones);
        json_object_put(o);
        return NULL;
}

static json_object *json_member(json_object *o, const char *key, json_type type)
{
        json_object *v = NULL;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, type))
                return NULL;
        return v;
}

/* KEY of O into OUT when it is an integer; OUT is left as it is if not. */
static void json_u64(json_object *o, const char *key, uint64_t *out)
{
        json_object *v = json_member(o, key, json_type_int);
        if (v)
                *out = json_object_get_uint64(v);
}

static void json_i64(json_object *o, const char *key, int64_t *out)
{
        json_object *v = json_member(o, key, json_type_int);
        if (v)
                *out = json_object_get_int64(v);
}

static int name_index(const char *s, const char *const *names, size_t n)
{
        for (size_t i = 0; s && i < n; i++)
                if (names[i] && strcmp(s, names[i]) == 0)
                        return (int)i;
        return -1;
}

static int stat_from_json(json_object *o, struct cow_stat *s)
{
        memset(s, 0, sizeof(*s));
        if (!o || json_object_is_type(o, json_type_null))
                return 0;
        json_object *t = json_member(o, "type", json_type_string);
        int ti = t ? name_index(json_object_get_string(t), type_names, ARRAY_SIZE(type_names)) : -1;
        if (ti <= 0)
                return -EINVAL;
        s->type = (enum cow_type)ti;
        json_object *v;
        if ((v = json_member(o, "mode", json_type_int)))
                s->mode = (uint32_t)json_object_get_int(v);
        if ((v = json_member(o, "uid", json_type_int)))
                s->uid = (uint32_t)json_object_get_int64(v);
        if ((v = json_member(o, "gid", json_type_int)))
                s->gid = (uint32_t)json_object_get_int64(v);
        json_u64(o, "ino", &s->ino);
        json_u64(o, "size", &s->size);
        json_i64(o, "mtime_ns", &s->mtime_ns);
        json_i64(o, "ctime_ns", &s->ctime_ns);
        return 0;
}

static int entry_from_json(json_object *eo, struct cow_zone *z)
{
        json_object *path = json_member(eo, "path", json_type_string);
        json_object *change = json_member(eo, "change", json_type_string);
        json_object *type = json_member(eo, "type", json_type_string);
        int ci = change ? name_index(json_object_get_string(change), change_names, ARRAY_SIZE(change_names)) : -1;
        int ti = type ? name_index(json_object_get_string(type), type_names, ARRAY_SIZE(type_names)) : -1;
        const char *p = path ? json_object_get_string(path) : NULL;

        /* A path from the manifest is used below the zone's root only, but
         * say no to anything that is not a plain relative path anyway. */
        if (!p || !p[0] || p[0] == '/' || p[strlen(p) - 1] == '/' || strstr(p, "//") || ci < 0 || ti <= 0)
                return -EINVAL;
        for (const char *s = p; *s; s = strchrnul(s, '/'), s += *s == '/') {
                size_t len = (size_t)(strchrnul(s, '/') - s);
                if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.') || len == 0)
                        return -EINVAL;
        }
        struct cow_entry *e = cow_zone_add(z, p, (enum cow_change)ci, (enum cow_type)ti);
        if (!e)
                return -ENOMEM;
        json_object *v = NULL;
        e->apply = (v = json_member(eo, "apply", json_type_boolean)) && json_object_get_boolean(v);
        e->meta_only = (v = json_member(eo, "meta_only", json_type_boolean)) && json_object_get_boolean(v);
        json_object_object_get_ex(eo, "host", &v);
        if (stat_from_json(v, &e->host) < 0)
                return -EINVAL;
        v = NULL;
        json_object_object_get_ex(eo, "upper", &v);
        if (stat_from_json(v, &e->upper) < 0)
                return -EINVAL;
        if ((v = json_member(eo, "conflict", json_type_string)) && !(e->conflict = strdup(json_object_get_string(v))))
                return -ENOMEM;
        if ((v = json_member(eo, "host_tree", json_type_string)) && !(e->host_tree = strdup(json_object_get_string(v))))
                return -ENOMEM;
        return 0;
}

static int zone_from_json(json_object *zo, struct cow_zone *z)
{
        json_object *name = json_member(zo, "name", json_type_string);
        json_object *path = json_member(zo, "path", json_type_string);
        json_object *host = json_member(zo, "host_path", json_type_string);
        json_object *entries = json_member(zo, "entries", json_type_array);
        json_object *v;

        if (!name || !path || !host || !entries || json_object_get_string(host)[0] != '/')
                return -EINVAL;
        z->name = strdup(json_object_get_string(name));
        z->path = strdup(json_object_get_string(path));
        z->host_path = strdup(json_object_get_string(host));
        if (!z->name || !z->path || !z->host_path)
                return -ENOMEM;
        if ((v = json_member(zo, "index", json_type_int)))
                z->index = (size_t)json_object_get_uint64(v);
        if (z->index >= ZB_MAX_ZONES)
                return -EINVAL;
        json_u64(zo, "dev", &z->dev);
        json_u64(zo, "ino", &z->ino);
        if ((v = json_member(zo, "tree", json_type_object)))
                z->tree = json_object_get(v);
        for (size_t j = 0; j < json_object_array_length(entries); j++) {
                int r = entry_from_json(json_object_array_get_idx(entries, j), z);
                if (r < 0)
                        return r;
        }
        return 0;
}

int cow_set_from_json(const char *text, struct cow_set *set, struct zb_error *err)
{
        memset(set, 0, sizeof(*set));
        json_object *o = json_tokener_parse(text);
        json_object *id = o ? json_member(o, "id", json_type_string) : NULL;
        json_object *zones = o ? json_member(o, "zones", json_type_array) : NULL;
        json_object *v;
        int r = 0;

        if (!id || !zones || !cow_id_valid(json_object_get_string(id))) {
                r = err_set(err, EINVAL, "cow: the change set's manifest is not valid");
                goto out;
        }
        snprintf(set->id, sizeof(set->id), "%s", json_object_get_string(id));
        json_i64(o, "created", &set->created);
        json_i64(o, "run_start_ns", &set->run_start_ns);
        if ((v = json_member(o, "exit_code", json_type_int)))
                set->exit_code = json_object_get_int(v);
        set->status = util_strdup((v = json_member(o, "status", json_type_string)) ? json_object_get_string(v) : "?");
        if ((v = json_member(o, "error", json_type_string)))
                set->error = util_strdup(json_object_get_string(v));
        size_t n = json_object_array_length(zones);
        set->zones = calloc(n ? n : 1, sizeof(*set->zones));
        if (!set->zones || !set->status) {
                r = err_set(err, ENOMEM, "out of memory");
                goto out;
        }
        for (size_t i = 0; i < n; i++) {
                set->n_zones++;
                int zr = zone_from_json(json_object_array_get_idx(zones, i), &set->zones[i]);
                if (zr < 0) {
                        r = err_set(err, -zr, "cow: the change set's manifest is not valid (zone %zu)", i);
                        goto out;
                }
        }
out:
        json_object_put(o);
        if (r < 0)
                cow_set_free(set);
        return r;
}

/* ---------- the result's lists ---------- */

static int list_push(char ***v, size_t *n, const char *path, bool dir)
{
        char **nv = realloc(*v, (*n + 1) * sizeof(char *));
        if (!nv)
                return -ENOMEM;
        *v = nv;
        if (!(nv[*n] = util_asprintf("%s%s", path, dir ? "/" : "")))
                return -ENOMEM;
        (*n)++;
        return 0;
}

int cow_fill_result(const struct cow_set *set, struct zb_result *r)
{
        r->changes = calloc(set->n_zones ? set->n_zones : 1, sizeof(*r->changes));
        if (!r->changes)
                return -ENOMEM;
        r->n_changes = set->n_zones;
        for (size_t i = 0; i < set->n_zones; i++) {
                const struct cow_zone *z = &set->zones[i];
                struct pol_zone_changes *c = &r->changes[i];
                if (!(c->zone = strdup(z->name)))
                        return -ENOMEM;
                for (size_t j = 0; j < z->n; j++) {
                        const struct cow_entry *e = &z->e[j];
                        char ***v = e->change == ZB_COW_ADDED      ? &c->added
                                    : e->change == ZB_COW_MODIFIED ? &c->modified
                                                                   : &c->deleted;
                        size_t *n = e->change == ZB_COW_ADDED      ? &c->n_added
                                    : e->change == ZB_COW_MODIFIED ? &c->n_modified
                                                                   : &c->n_deleted;
                        if (*n >= ZB_RESULT_MAX_CHANGES) {
                                c->truncated = true;
                                continue;
                        }
                        if (list_push(v, n, e->path, e->type == ZB_COW_DIR) < 0)
                                return -ENOMEM;
                }
                if (c->n_added)
                        qsort(c->added, c->n_added, sizeof(char *), fs_cmp_str);
                if (c->n_modified)
                        qsort(c->modified, c->n_modified, sizeof(char *), fs_cmp_str);
                if (c->n_deleted)
                        qsort(c->deleted, c->n_deleted, sizeof(char *), fs_cmp_str);
        }
        return 0;
}
