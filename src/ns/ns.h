/* The namespace backend's internal interface. supervise.c runs outside and
 * owns the run; child.c runs inside, in order: ids → mounts → net → init.
 * Everything the child needs is prepared in the supervisor before clone, so
 * the child does not allocate (it may be cloned from a multi-threaded
 * caller) and only performs the privileged steps. */
#ifndef ZB_NS_H
#define ZB_NS_H

#include <linux/filter.h>
#include <signal.h>
#include <sys/types.h>

#include "../core/policy.h"
#include "../core/result.h"

/* Written by the child to the setup pipe when a step fails; at most
 * PIPE_BUF bytes so the write is atomic. */
struct ns_report {
        int32_t kind; /* enum pol_setup_kind */
        int32_t err;  /* errno of the failed call, 0 if none */
        char msg[400];
};

/* Written by the sandbox's init when the command ends. */
struct ns_status {
        int32_t exited;   /* 1: exited with code, 0: killed by signal */
        int32_t code;     /* exit code or signal number */
};

/* One bind of a host path (system dir, /etc entry) into the new root. */
#define NS_MAX_IMAGE_LAYERS 130 /* IMG_MAX_LAYERS and the empty bottom dir */

#define NS_BIND_SRC_MAX 1024 /* bytes of src and target, with the NUL */
#define NS_BIND_DST_MAX 256

/* The strings live packed in the ns_ctx's bind_strs (ns_bind_str): ~30
 * binds touch a few pages of it, not the ~17 that 2.3 KB entries did (a
 * fresh page is a fault, ~11 us on the VMs of bench/README.md). */
struct ns_bind {
        const char *src;
        const char *dst;    /* inside the new root, absolute */
        const char *target; /* is_link: what the symlink says, else "" */
        bool is_link;       /* recreate as a symlink to 'target' instead */
        bool is_file;       /* copy the small file instead of binding */
        bool optional;      /* skip silently when the source is missing */
        bool in_image;      /* src is a top-level name of the image's root (image.c) */
        int fd;             /* in_image: opened by the supervisor (root), else -1 */
};

/* The user namespace's map (userns.c). */
#define ZB_ID_COUNT 65536u
#define ZB_SUBID_USER "zonebox" /* root's range: this name's /etc/subuid, /etc/subgid entries */
/* Else this range: unallocated by systemd (between its container range,
 * which ends at 1879048191, and its foreign range at 2147352576), above
 * useradd's SUB_UID_MAX default, below 2^31. */
#define ZB_DEFAULT_SUBID_START 2130706432u
enum ns_id_map { NS_IDS_SINGLE, NS_IDS_RANGE, NS_IDS_HELPER };
struct ns_ids {
        enum ns_id_map map;
        uint32_t uid_base, gid_base; /* RANGE, HELPER: the subordinate ranges */
        const char *source;          /* where the range came from, or why there is none */
};

/* A host zone's source, opened by the supervisor (zones.c). */
enum ns_zone_ids {
        NS_ZONE_DIRECT,   /* the user namespace maps the sandbox user to the invoker: no idmap needed */
        NS_ZONE_IDMAPPED, /* an idmapped mount: host owner <-> sandbox user */
        NS_ZONE_UNMAPPED, /* ro only: the filesystem cannot idmap; host ids show as nobody */
};
struct ns_zone_src {
        int tree_fd;   /* root: the detached (idmapped) mount; -1: the child clones path_fd's dir */
        dev_t dev;     /* of the dir the invoker opened: the child checks its own open against it */
        ino_t ino;
        uid_t owner;   /* the dir's host owner and group */
        gid_t group;
        int userns_fd; /* the idmap's user namespace (shared between zones of one owner), -1 */
        enum ns_zone_ids ids;
        const char *why; /* NS_ZONE_UNMAPPED: the reason (a literal) */
};

#define NS_MAX_BINDS 64
#define NS_MAX_LL_PATHS (NS_MAX_BINDS + ZB_MAX_ZONES + 16)

#include "landlock.h"
#include "resolver.h"

struct ns_cgroup;
struct ns_proxy;

struct ns_ctx {
        const struct zb_policy *p;
        uint64_t exec_ns; /* the command's exec (supervise.c): violations' first_ms count from it */
        char **envp;
        const char *path_env; /* PATH inside, for command lookup */
        /* ids */
        bool invoker_is_root;
        uid_t host_uid; /* the sandbox user's id outside */
        gid_t host_gid;
        struct ns_ids ids;
        struct ns_zone_src zone_src[ZB_MAX_ZONES]; /* per zone index (host zones only) */
        /* pipes: child ends */
        int go_fd;     /* read: one byte when maps are written; HUP if supervisor died */
        int setup_fd;  /* write: struct ns_report on failure; EOF on exec */
        int status_fd; /* write: struct ns_status from init */
        int out_fd, err_fd; /* write ends for captured output, -1: inherit */
        /* prepared root */
        struct ns_bind binds[NS_MAX_BINDS];
        size_t n_binds;
        size_t bind_strs_used;
        char bind_strs[NS_MAX_BINDS * (2 * NS_BIND_SRC_MAX + NS_BIND_DST_MAX)];
        uint64_t root_bytes; /* what the root's tmpfs holds besides /tmp and home */
        char passwd[1024];
        char group[512];
        char hosts[256];
        const char *hostname;
        sigset_t forward_mask; /* signals blocked by the caller, restored in the child */
        int last_cap;          /* /proc/sys/kernel/cap_last_cap, read once before clone */
        bool cg_active;        /* the resources layer has a cgroup for this run */
        struct ns_cgroup *cg;  /* the child enters its v1 cgroups first thing */
        struct sock_fprog seccomp; /* built before clone; len 0: no filter */
        /* notify.c: the same program with USER_NOTIF for EPERM, and the
         * child's end of the socket its listener goes back on; -1, len 0: none */
        struct sock_fprog seccomp_notify;
        int notify_fd;
        bool landlock;             /* apply the Landlock layer */
        struct ns_ll_path ll_paths[NS_MAX_LL_PATHS]; /* what the command may reach */
        size_t n_ll_paths;
        int ll_fd;                 /* the ruleset, made by init, enforced by the command */
        bool rlimit_fallback;  /* resources skipped (allow_unenforced): rlimits stand in */
        /* cow zones (cow.c): per zone index, the store dir holding upper/
         * and work/ (NULL unless cow), and its clone, opened by the child
         * before it takes the sandbox's ids. */
        const char *cow_dir[ZB_MAX_ZONES];
        int cow_fd[ZB_MAX_ZONES];
        int cow_host_fd[2]; /* the supervisor's store fds: the child closes its copies */
        /* network.allow (proxy.c): the proxy that runs outside, and the
         * child's end of the socket the in-sandbox listener is sent on. */
        struct ns_proxy *proxy;
        int proxy_fd; /* -1 unless network.allow */
        /* network none (resolver.c): the loopback resolver's socket. */
        struct ns_resolver dns;
        /* image: (image.c): the layer dirs opened before the id change, then
         * the read-only overlay of them that the root's entries come from. */
        int image_layer_fd[NS_MAX_IMAGE_LAYERS];
        size_t n_image_layers;
        int image_fd;
        /* sessions (session_daemon.c): init serves execs on this socket (wire.h), -1 in a run */
        int session_fd;
        /* init emptied the capability sets before forking the command (caps.c) */
        bool caps_dropped;
};

/* Child side. Each returns 0 or reports through the setup pipe and _exit()s. */
_Noreturn void ns_child_main(struct ns_ctx *c);
_Noreturn void ns_fail(struct ns_ctx *c, int kind, int err, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

void ns_ids_enter(struct ns_ctx *c);            /* userns.c */
/* A copy of S in c->bind_strs; NULL when it is MAX bytes or longer, or
 * the space is full (mounts.c). */
const char *ns_bind_str(struct ns_ctx *c, const char *s, size_t max);
void ns_mounts_build(struct ns_ctx *c);         /* mounts.c */
void ns_image_open_layers(struct ns_ctx *c);    /* image.c: before the id change */
void ns_image_mount(struct ns_ctx *c);          /* image.c: the overlay, its entries as binds */
/* image.c, supervisor side: started by root, the overlay and its entries'
 * clones are made before clone (ns_image_release: the supervisor's copies). */
int ns_image_prepare(struct ns_ctx *c, struct zb_error *err);
void ns_image_release(struct ns_ctx *c);
void ns_net_setup(struct ns_ctx *c);            /* net.c */
void ns_caps_drop(struct ns_ctx *c, bool no_new_privs); /* caps.c */
int ns_caps_last_cap(void);                      /* caps.c, supervisor side */
void ns_rlimits_apply(struct ns_ctx *c);        /* limits.c */
_Noreturn void ns_init_run(struct ns_ctx *c);   /* init.c: fork the command, reap, report */
/* init.c, a session's init: serve EXEC and KILL records until the
 * supervisor hangs up. */
_Noreturn void ns_init_serve(struct ns_ctx *c, const sigset_t *set);

/* Supervisor side. */
/* net.c: what the network layer needs outside the sandbox (the allowlist's
 * proxy): prepared before clone, the child's copies closed after it,
 * finished (R: counts into the result; NULL after a failure) once the
 * sandbox is gone. No-ops unless the policy has network.allow. */
int ns_net_prepare(struct ns_ctx *c, struct zb_error *err);
void ns_net_after_clone(struct ns_ctx *c);
void ns_net_finish(struct ns_ctx *c, struct zb_result *r);
/* userns.c: decide the id map (before clone), write it, say which it was. */
int ns_ids_prepare(struct ns_ctx *c, struct zb_error *err);
int ns_ids_write_maps(const struct ns_ctx *c, pid_t pid, struct zb_error *err);
void ns_ids_record(const struct ns_ctx *c, struct zb_result *r);
/* The start of the first range of NEED ids for NAME (or numeric ID) in
 * subuid/subgid TEXT, never below 65536; -ENOENT if none. */
int ns_subid_parse(const char *text, const char *name, unsigned long id, uint32_t need, uint32_t *start);
/* zones.c: open every host zone as the invoker, before clone; idmap them
 * when root; record per zone in the result; release. The child's half:
 * ns_zones_open_child (an ordinary invoker's zones, before the id change)
 * and ns_zone_tree (the zone's detached mount, owned by the caller). */
int ns_zones_prepare(struct ns_ctx *c, struct zb_result *r, struct zb_error *err);
void ns_zones_release(struct ns_ctx *c);
void ns_zones_open_child(struct ns_ctx *c);
/* A clone of DIR_FD (a cow zone's store dir) with zone I's idmap, in *OUT. */
int ns_zones_idmap_dir(struct ns_ctx *c, size_t i, int dir_fd, int *out, struct zb_error *err);
int ns_mounts_prepare(struct ns_ctx *c, struct zb_error *err);                  /* mounts.c */
int ns_rlimits_check(const struct zb_policy *p, struct zb_error *err);          /* limits.c */
/* security.c: build the seccomp program and the Landlock path list, or fail
 * closed naming the layer; records applied and skipped layers. */
int ns_security_prepare(struct ns_ctx *c, struct zb_result *r, struct zb_error *err);
void ns_security_release(struct ns_ctx *c);
int ns_run_policy(const struct zb_policy *p, struct zb_result *r, struct zb_error *err); /* supervise.c */

/* What a session adds to the supervisor (session_daemon.c fills it; a run
 * has none). A session's sandbox runs no command of its own: its init
 * serves commands over a socket pair (ns_init_serve), the daemon's sockets
 * join the supervisor's poll set, each command's time limit is the
 * daemon's to watch, a forwarded signal stops the session, and the
 * session's own verdict, once stopped, is "exited 0". */
struct pollfd;
#define NS_HOOK_MAX_FDS (2 + 32 * 3 + 64) /* poll_fds adds at most this many */
struct ns_supervise_hooks {
        void *data;
        /* Before clone: the socket pair to init; *INIT_FD is init's end. */
        int (*prepare)(void *data, const struct ns_proxy *proxy, int *init_fd, struct zb_error *err);
        void (*close_in_child)(void *data); /* in the clone, before it becomes init */
        /* Init waits for commands (the setup pipe's EOF). */
        void (*ready)(void *data, struct ns_cgroup *cg, const struct zb_result *r);
        int (*poll_fds)(void *data, struct pollfd *pfd, int max);
        bool (*on_events)(void *data, const struct pollfd *pfd, int n, uint64_t now); /* true: stop */
        uint64_t (*deadline)(void *data); /* the next time limit, 0: none */
        bool (*on_deadline)(void *data, uint64_t now); /* true: stop */
};
/* supervise.c: the run, or (HOOKS not NULL) a session's whole life. */
int ns_run(const struct zb_policy *p, struct zb_result *r, const struct ns_supervise_hooks *hooks,
           struct zb_error *err);

#endif
