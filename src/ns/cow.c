/* Copy-on-write zones: one run (see cow.h for the store's layout).
 *
 * While the command runs, the host dir is only ever the overlay's lower
 * layer: a write, a timeout, an OOM kill or a SIGKILL of zonebox itself
 * cannot change it. When the run ends the upper dir is read back into a
 * list of changes, compared with the host dir, and kept with the host's
 * state of every touched path, so that commit can refuse when the host
 * changed in between (a conflict) instead of overwriting.
 *
 * Commit writes every new file, link or directory tree under a temporary
 * name beside its target first and renames them into place only when all
 * of them are ready, so a failure while copying (a full disk, say) leaves
 * the host dir as it was. Paths in the host dir are resolved with openat2
 * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV from the zone's
 * root, and the last component is never followed: a symlink (planted by the
 * command, or swapped in on the host) is copied as a symlink or refused,
 * never written through.
 *
 * This file is one run: the store dirs made before clone, the overlay
 * mounted in the child, and the changes read back and kept (or committed,
 * or discarded) when the sandbox is gone. cow_int.h maps the other files. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>

#include "cow_int.h"

#define COW_STAGE ".zonebox-cow"       /* in the sandbox's new root, during setup only */

static inline int sys_fsopen(const char *fs, unsigned flags)
{
        return (int)syscall(SYS_fsopen, fs, flags);
}
static inline int sys_fsconfig(int fd, unsigned cmd, const char *key, const void *value, int aux)
{
        return (int)syscall(SYS_fsconfig, fd, cmd, key, value, aux);
}
static inline int sys_fsmount(int fd, unsigned flags, unsigned attrs)
{
        return (int)syscall(SYS_fsmount, fd, flags, attrs);
}

static int64_t realtime_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---------- supervisor side: before the run ---------- */

/* STORE/ID/zone-I/{upper,work}. The overlay is mounted in the sandbox's
 * user namespace and works on both as the sandbox's ids outside, so they
 * (and zone-I, which the sandbox's setup walks through) belong to them. */
static int make_zone_dir(struct ns_cow *cow, struct ns_ctx *c, size_t i, struct zb_error *err)
{
        const struct pol_zone *z = &c->p->zones[i];
        char name[32];
        struct stat st;

        snprintf(name, sizeof(name), "zone-%zu", i);
        _cleanup_(closep) int host = open(z->host_path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (host < 0 || fstat(host, &st) < 0)
                return err_errno(err, errno, "zone '%s': open %s", z->name, z->host_path);
        cow->dev[i] = st.st_dev;
        cow->ino[i] = st.st_ino;
        if (mkdirat(cow->run_fd, name, 0700) < 0)
                return err_errno(err, errno, "zone '%s': make its change-set dir", z->name);
        _cleanup_(closep) int zfd = openat(cow->run_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (zfd < 0 || mkdirat(zfd, "upper", 0700) < 0 || mkdirat(zfd, "work", 0700) < 0)
                return err_errno(err, errno, "zone '%s': make its change-set dir", z->name);
        _cleanup_(closep) int upper = openat(zfd, "upper", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (upper < 0)
                return err_errno(err, errno, "zone '%s': open its upper dir", z->name);
        /* overlayfs keeps opaque directories in user.overlay.* xattrs. */
        if (fsetxattr(upper, "user.zonebox", "1", 1, 0) < 0)
                return err_errno(err, errno,
                                      "zone '%s': the change-set store %s cannot hold user xattrs, which overlayfs needs (use --cow-dir on ext4, xfs, btrfs, or tmpfs from Linux 6.6)",
                                      z->name, cow->store);
        fremovexattr(upper, "user.zonebox");
        /* An idmapped zone (zones.c): the dir's owner is the sandbox user,
         * through the same idmap on the store's clone, so what the command
         * writes is kept, and committed, owned by the zone's owner. */
        const struct ns_zone_src *src = &c->zone_src[i];
        bool idmapped = src->ids == NS_ZONE_IDMAPPED;
        uid_t uid = idmapped ? src->owner : c->host_uid;
        gid_t gid = idmapped ? src->group : c->host_gid;
        if (c->invoker_is_root && (fchown(zfd, uid, gid) < 0 || fchown(upper, uid, gid) < 0 ||
                                   fchownat(zfd, "work", uid, gid, AT_SYMLINK_NOFOLLOW) < 0))
                return err_errno(err, errno, "zone '%s': hand its change-set dir to uid %u", z->name,
                                      (unsigned)uid);
        /* The merged root takes the upper root's attributes: the host dir's mode. */
        if (fchmod(upper, st.st_mode & 01777) < 0)
                return err_errno(err, errno, "zone '%s': chmod its upper dir", z->name);
        cow->zone_dir[i] = util_asprintf("%s/%s/%s", cow->store, cow->id, name);
        if (!cow->zone_dir[i])
                return err_set(err, ENOMEM, "out of memory");
        c->cow_dir[i] = cow->zone_dir[i];
        return idmapped ? ns_zones_idmap_dir(c, i, zfd, &c->cow_fd[i], err) : 0;
}

int ns_cow_prepare(struct ns_cow *cow, struct ns_ctx *c, struct zb_error *err)
{
        const struct zb_policy *p = c->p;
        char path[PATH_MAX];
        int r;

        cow->store_fd = cow->run_fd = -1;
        c->cow_host_fd[0] = c->cow_host_fd[1] = -1;
        for (size_t i = 0; i < ZB_MAX_ZONES; i++)
                c->cow_fd[i] = -1;
        for (size_t i = 0; i < p->n_zones; i++)
                cow->n += p->zones[i].mode == ZB_ZONE_COW;
        if (!cow->n)
                return 0;
        r = cow_store_open(p->cow.dir, true, path, sizeof(path), &cow->store_fd, err);
        if (r < 0)
                return r;
        if (!(cow->store = strdup(path)))
                return err_set(err, ENOMEM, "out of memory");
        cow_store_gc(cow->store_fd);
        r = cow_make_run_dir(cow, err);
        c->cow_host_fd[0] = cow->store_fd;
        c->cow_host_fd[1] = cow->run_fd;
        for (size_t i = 0; r == 0 && i < p->n_zones; i++)
                if (p->zones[i].mode == ZB_ZONE_COW)
                        r = make_zone_dir(cow, c, i, err);
        cow->start_ns = realtime_ns();
        return r;
}

void ns_cow_release(struct ns_cow *cow)
{
        if (cow->run_fd >= 0 && !cow->kept && cow->store_fd >= 0)
                fs_remove_tree(cow->store_fd, cow->id, 0);
        if (cow->run_fd >= 0)
                close(cow->run_fd);
        if (cow->store_fd >= 0)
                close(cow->store_fd);
        cow->run_fd = cow->store_fd = -1;
        for (size_t i = 0; i < ZB_MAX_ZONES; i++) {
                free(cow->zone_dir[i]);
                cow->zone_dir[i] = NULL;
        }
        free(cow->store);
        cow->store = NULL;
}

/* ---------- child side: the overlay ---------- */

void ns_cow_open_layers(struct ns_ctx *c)
{
        for (size_t i = 0; i < c->p->n_zones; i++) {
                if (!c->cow_dir[i] || c->cow_fd[i] >= 0) /* idmapped by the supervisor */
                        continue;
                /* Still the invoker's credentials: this walks a 0700 store. */
                int fd = sys_open_tree(AT_FDCWD, c->cow_dir[i],
                                       OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_SYMLINK_NOFOLLOW);
                c->cow_fd[i] = fd >= 0 ? fd : -errno;
        }
        /* No directory of the host's stays open in the sandbox (the run's
         * flock lives on in the supervisor's copy). */
        for (size_t i = 0; i < ARRAY_SIZE(c->cow_host_fd); i++)
                if (c->cow_host_fd[i] >= 0)
                        close(c->cow_host_fd[i]);
}

/* The kernel may have said more in the filesystem context's log. */
_Noreturn static void overlay_fail(struct ns_ctx *c, int fs, const struct pol_zone *z, const char *what, int e)
{
        char log[160] = "";
        ssize_t n = read(fs, log, sizeof(log) - 1);
        log[n > 0 ? n : 0] = '\0';
        if (log[0] && log[strlen(log) - 1] == '\n')
                log[strlen(log) - 1] = '\0';
        ns_fail(c, 0, e, "zone '%s': overlayfs %s (cow zones need overlayfs in a user namespace, Linux 5.11+)%s%s",
                z->name, what, log[0] ? ": " : "", log);
}

static void overlay_param(struct ns_ctx *c, int fs, const struct pol_zone *z, const char *key,
                          const char *value)
{
        unsigned cmd = value ? FSCONFIG_SET_STRING : FSCONFIG_SET_FLAG;
        if (sys_fsconfig(fs, cmd, key, value, 0) == 0)
                return;
        int e = errno;
        char what[64];
        snprintf(what, sizeof(what), "%s%s%s", key, value ? "=" : "", value && strlen(value) < 24 ? value : "");
        overlay_fail(c, fs, z, what, e);
}

static void stage_mkdir(struct ns_ctx *c, int root_fd, const char *dir)
{
        if (mkdirat(root_fd, dir, 0700) < 0 && errno != EEXIST)
                ns_fail(c, 0, errno, "layer mount: mkdir /%s", dir);
}

static void stage_attach(struct ns_ctx *c, const struct pol_zone *z, int fd, int root_fd, const char *dir,
                         const char *what)
{
        if (sys_move_mount(fd, "", root_fd, dir, MOVE_MOUNT_F_EMPTY_PATH) < 0)
                ns_fail(c, 0, errno, "zone '%s': stage %s", z->name, what);
        close(fd);
}

int ns_cow_overlay(struct ns_ctx *c, size_t i, int lower_fd, int root_fd, const char *root)
{
        const struct pol_zone *z = &c->p->zones[i];
        char lower[256], upper[256], work[256];

        if (c->cow_fd[i] < 0)
                ns_fail(c, 0, -c->cow_fd[i], "zone '%s': open its change-set dir %s", z->name, c->cow_dir[i]);
        /* The layers are given to overlayfs as paths, and paths must be in
         * this mount namespace: stage both clones under the new root (still
         * this process's own tmpfs), mount, and take them away again. */
        stage_mkdir(c, root_fd, COW_STAGE);
        stage_mkdir(c, root_fd, COW_STAGE "/lower");
        stage_mkdir(c, root_fd, COW_STAGE "/store");
        stage_attach(c, z, lower_fd, root_fd, COW_STAGE "/lower", z->host_path);
        stage_attach(c, z, c->cow_fd[i], root_fd, COW_STAGE "/store", c->cow_dir[i]);
        c->cow_fd[i] = -1;
        snprintf(lower, sizeof(lower), "%s/" COW_STAGE "/lower", root);
        snprintf(upper, sizeof(upper), "%s/" COW_STAGE "/store/upper", root);
        snprintf(work, sizeof(work), "%s/" COW_STAGE "/store/work", root);

        int fs = sys_fsopen("overlay", FSOPEN_CLOEXEC);
        if (fs < 0)
                ns_fail(c, 0, errno, "zone '%s': overlayfs (fsopen)", z->name);
        overlay_param(c, fs, z, "lowerdir", lower);
        overlay_param(c, fs, z, "upperdir", upper);
        overlay_param(c, fs, z, "workdir", work);
        /* Its own xattrs under user.overlay.*: trusted.* needs root in the
         * initial user namespace. No index, no metacopy, no redirects:
         * every changed file is a whole copy in the upper dir, and a moved
         * directory a copy plus a whiteout, so that the upper dir alone
         * says what changed and commit never follows a pointer into the
         * lower layer. */
        overlay_param(c, fs, z, "userxattr", NULL);
        overlay_param(c, fs, z, "index", "off");
        overlay_param(c, fs, z, "metacopy", "off");
        overlay_param(c, fs, z, "redirect_dir", "nofollow");
        if (sys_fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                overlay_fail(c, fs, z, "mount", errno);
        int mnt = sys_fsmount(fs, FSMOUNT_CLOEXEC, 0);
        if (mnt < 0)
                ns_fail(c, 0, errno, "zone '%s': overlayfs (fsmount)", z->name);
        close(fs);

        /* overlayfs holds private clones of its layers: the staged ones go. */
        char p[512];
        snprintf(p, sizeof(p), "%s/" COW_STAGE "/lower", root);
        if (umount2(p, MNT_DETACH) < 0)
                ns_fail(c, 0, errno, "zone '%s': unstage the host dir", z->name);
        snprintf(p, sizeof(p), "%s/" COW_STAGE "/store", root);
        if (umount2(p, MNT_DETACH) < 0)
                ns_fail(c, 0, errno, "zone '%s': unstage the change-set dir", z->name);
        if (unlinkat(root_fd, COW_STAGE "/lower", AT_REMOVEDIR) < 0 ||
            unlinkat(root_fd, COW_STAGE "/store", AT_REMOVEDIR) < 0 ||
            unlinkat(root_fd, COW_STAGE, AT_REMOVEDIR) < 0)
                ns_fail(c, 0, errno, "zone '%s': remove the staging dir", z->name);
        return mnt;
}

/* ---------- supervisor side: the end of a run ---------- */

/* Read zone I's changes. The work dir goes; zone-I goes back to the
 * invoker (only root and it may reach the upper dir from now on). */
static int finish_zone(struct ns_cow *cow, const struct zb_policy *p, size_t i, struct cow_zone *z,
                       char *msg, size_t n)
{
        const struct pol_zone *pz = &p->zones[i];
        char name[32];
        struct stat st;

        z->index = i;
        z->dev = cow->dev[i];
        z->ino = cow->ino[i];
        if (!(z->name = strdup(pz->name)) || !(z->path = strdup(pz->path)) ||
            !(z->host_path = strdup(pz->host_path)))
                return -ENOMEM;
        snprintf(name, sizeof(name), "zone-%zu", i);
        _cleanup_(closep) int zfd = openat(cow->run_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (zfd < 0) {
                snprintf(msg, n, "zone '%s': open its change-set dir: %s", pz->name, strerror(errno));
                return -errno;
        }
        fs_remove_tree(zfd, "work", 0);
        if (geteuid() == 0 && (fchown(zfd, 0, 0) < 0 || fchmod(zfd, 0700) < 0)) {
                snprintf(msg, n, "zone '%s': take back its change-set dir: %s", pz->name, strerror(errno));
                return -errno;
        }
        _cleanup_(closep) int upper = openat(zfd, "upper", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        _cleanup_(closep) int host = open(pz->host_path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (upper < 0 || host < 0) {
                snprintf(msg, n, "zone '%s': open %s: %s", pz->name, upper < 0 ? "its upper dir" : pz->host_path,
                         strerror(errno));
                return -EIO;
        }
        if (fstat(host, &st) < 0 || st.st_dev != cow->dev[i] || st.st_ino != cow->ino[i]) {
                snprintf(msg, n, "zone '%s': the host dir %s was replaced while the command ran", pz->name,
                         pz->host_path);
                return -ESTALE;
        }
        int r = cow_scan_zone(z, upper, host, cow->start_ns, msg, n);
        if (r == 0 && (r = cow_zone_host_trees(z, host, cow->start_ns)) < 0)
                snprintf(msg, n, "zone '%s': out of memory", z->name);
        return r < 0 ? r : cow_zone_digests(z, upper, msg, n);
}

/* The change set leaves the store: ACTION says why ("committed", "discarded"). */
static void drop_set(struct ns_cow *cow, struct zb_result *r, const char *action)
{
        fs_remove_tree(cow->store_fd, cow->id, 0);
        cow->kept = false;
        free(r->cow_id);
        r->cow_id = NULL;
        r->cow_action = action;
}

static void finish_commit(struct ns_cow *cow, struct cow_set *set, struct zb_result *r)
{
        struct zb_error err = { 0 };
        json_object *conflicts = json_object_new_array();
        if (cow_apply_set(set, cow->run_fd, conflicts, &err) == 0) {
                drop_set(cow, r, "committed");
        } else {
                size_t n = json_object_array_length(conflicts);
                const char *first = n ? json_object_to_json_string_ext(json_object_array_get_idx(conflicts, 0),
                                                                       JSON_C_TO_STRING_PLAIN)
                                      : "";
                r->cow_error = util_asprintf("%s%s%s; kept as %s (zonebox diff %s)", err.message, n ? ": " : "",
                                           first, cow->id, cow->id);
        }
        json_object_put(conflicts);
}

void ns_cow_finish(struct ns_cow *cow, const struct zb_policy *p, struct zb_result *r)
{
        struct cow_set set = { 0 };
        char msg[PATH_MAX + 128] = "";
        int ret = 0;

        if (!cow->n || cow->run_fd < 0)
                return;
        r->has_cow = true;
        r->cow_action = "none";
        snprintf(set.id, sizeof(set.id), "%s", cow->id);
        set.created = time(NULL);
        set.run_start_ns = cow->start_ns;
        set.status = util_strdup(res_status_name(r->status));
        set.exit_code = r->status == ZB_STATUS_EXITED ? r->exit_code : zb_result_exit_code(r);
        set.zones = calloc(cow->n, sizeof(*set.zones));
        if (!set.zones || !set.status) {
                r->cow_error = util_strdup("cow: out of memory");
                goto out;
        }
        for (size_t i = 0; i < p->n_zones; i++) {
                if (p->zones[i].mode != ZB_ZONE_COW)
                        continue;
                struct cow_zone *z = &set.zones[set.n_zones++];
                if (ret == 0)
                        ret = finish_zone(cow, p, i, z, msg, sizeof(msg));
                else if (!(z->name = strdup(p->zones[i].name)) || !(z->path = strdup(p->zones[i].path)) ||
                         !(z->host_path = strdup(p->zones[i].host_path)))
                        ret = -ENOMEM;
                z->index = i;
        }
        if (ret < 0) {
                /* Keep what there is for a person to look at; commit refuses it. */
                for (size_t i = 0; i < set.n_zones; i++) {
                        for (size_t j = 0; j < set.zones[i].n; j++)
                                free(set.zones[i].e[j].path), free(set.zones[i].e[j].conflict);
                        set.zones[i].n = 0;
                }
                set.error = util_strdup(msg[0] ? msg : strerror(-ret));
                r->cow_error = util_asprintf("cow: the changes could not be read: %s", set.error);
        }
        if (cow_fill_result(&set, r) < 0) {
                r->cow_error = util_strdup("cow: out of memory");
                goto out;
        }
        if (!set.error && cow_set_count(&set) == 0)
                goto out; /* nothing changed: nothing to keep */
        if (cow_write_manifest(cow->run_fd, &set) < 0) {
                free(r->cow_error);
                r->cow_error = util_asprintf("cow: cannot keep the changes in %s/%s", cow->store, cow->id);
                goto out;
        }
        cow->kept = true;
        r->cow_id = util_strdup(cow->id);
        r->cow_action = "kept";
        if (set.error)
                goto out;
        if (p->cow.action == ZB_COW_DISCARD) {
                drop_set(cow, r, "discarded");
        } else if (p->cow.action == ZB_COW_COMMIT && r->status == ZB_STATUS_EXITED && r->exit_code == 0) {
                finish_commit(cow, &set, r);
        }
out:
        cow_set_free(&set);
}
