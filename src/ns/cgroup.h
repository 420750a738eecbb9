/* The resources layer: one cgroup per sandbox, on cgroup v2 where the host
 * offers a controller there, on v1 otherwise (hybrid hosts mix both).
 *
 * Lifetime, all in the supervisor:
 *   ns_cgroup_setup   before clone: detect, create, write the limits; open
 *                     the v2 dir for CLONE_INTO_CGROUP and each v1 cgroup's
 *                     tasks file
 *   ns_cgroup_enter   the child's first step after clone: v1 placement
 *   ns_cgroup_after_clone  the supervisor drops its copies of those fds
 *   ns_cgroup_sweep   after the sandbox is released, while it builds its
 *                     root: collect stale cgroups beside ours
 *   ns_cgroup_cpu     while running: CPU usage for the cpu_time limit
 *   ns_cgroup_finish  after init is gone: kill what is left, read the
 *                     accounting into the result, remove every directory
 *
 * Names are "zonebox-<supervisor pid>-<its start time>-<seq>", so a cgroup
 * whose supervisor is gone is recognisable and removed by the next run
 * (and by `zonebox gc`). The parsers below are pure and unit-tested.
 *
 * Files: cgroup_parse.c the pure parsers, cgroup_fs.c control files,
 * layout, teardown and gc, cgroup.c placement, limits and the run's
 * lifetime; cgroup_int.h what they share. */
#ifndef ZB_NS_CGROUP_H
#define ZB_NS_CGROUP_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../core/policy.h"
#include "../core/result.h"

enum cg_ctrl { ZB_CG_MEMORY, ZB_CG_CPU, ZB_CG_CPUACCT, ZB_CG_PIDS, ZB_CG_IO, ZB_CG_N };
enum cg_where { ZB_CG_NONE, ZB_CG_V1, ZB_CG_V2 };

#define ZB_CG_MAX_MOUNTS 32

/* What the host offers, from /proc/self/mountinfo and /proc/self/cgroup. */
/* The strings live packed in STRS (each < PATH_MAX): a run touches two or
 * three pages of this struct, not one or two per mount (each fresh page
 * is a fault, ~11 us on the VMs measured in bench/README.md). Not to be
 * copied by value: the pointers point into it. */
struct cg_layout {
        /* Mounts: cgroup2, and every v1 hierarchy with its controllers. */
        struct cg_mount {
                char *dir;      /* mount point */
                char *root;     /* the cgroup the mount shows as its root */
                bool v2;
                unsigned ctrls; /* v1: bit per enum cg_ctrl */
        } mounts[ZB_CG_MAX_MOUNTS];
        int n_mounts;
        int v2;                  /* index of the cgroup2 mount, -1 */
        int v1[ZB_CG_N];         /* index of the v1 hierarchy holding the controller, -1 */
        char *v2_self;           /* our v2 cgroup ("/..."), "" if unknown */
        char *v1_self[ZB_CG_N];  /* our cgroup in that hierarchy, "" if unknown */
        size_t strs_used;
        char strs[(2 * ZB_CG_MAX_MOUNTS + 2 + ZB_CG_N) * PATH_MAX];
};

void cg_layout_init(struct cg_layout *l);
/* Text of /proc/self/mountinfo: fills mounts, v2, v1. */
int cg_parse_mountinfo(struct cg_layout *l, const char *text);
/* Text of /proc/self/cgroup: fills v2_self, v1_self. */
int cg_parse_self(struct cg_layout *l, const char *text);
/* The directory of cgroup PATH ("/a/b") in mount M: mount dir + PATH minus
 * the mount's root. -1 when PATH is not visible through that mount. */
int cg_dir(const struct cg_layout *l, int m, const char *path, char *out, size_t size);
/* "zonebox-<pid>-<start>-<seq>": true and the supervisor's identity. */
bool cg_name_parse(const char *name, pid_t *pid, unsigned long long *start);
/* A "key value" line in a flat keyed file (cpu.stat, memory.events,
 * memory.oom_control). -1 when the key is absent. */
int cg_keyed(const char *text, const char *key, uint64_t *out);
/* Whether CTRL ("memory", "cpu", "pids") is a word of a controllers list. */
bool cg_has_word(const char *list, const char *word);

/* The two large members come last and hold their strings packed:
 * ns_cgroup_init clears only what precedes them, so a run touches two or
 * three pages of this struct, not one per PATH_MAX array (each fresh page
 * is a fault, ~11 us on the VMs of bench/README.md). Not to be copied by
 * value: v1_dir points into v1_strs. */
struct ns_cgroup {
        bool active;      /* a cgroup exists for this run */
        bool fallback;    /* resources skipped: use rlimit fallbacks */
        char name[96];
        enum cg_where where[ZB_CG_N];
        int v2_fd;                      /* its directory, for CLONE_INTO_CGROUP; -1 */
        bool v2_required;               /* a limit lives there: placement must work */
        char *v1_dir[ZB_CG_N];          /* created v1 cgroups; "" if none (comounted: the same string) */
        int v1_tasks_fd[ZB_CG_N];       /* their tasks files, for ns_cgroup_enter; -1 */
        int cpu_fd;                     /* cpu.stat (v2) or cpuacct.usage (v1); -1 */
        bool cpu_v2;
        uint64_t cpu_base_usec;         /* usage when the command was exec'd */
        size_t v1_strs_used;
        /* ---- large, not cleared: keep them last ---- */
        char v2_dir[PATH_MAX];          /* created v2 cgroup, "" if none */
        char v1_strs[(ZB_CG_N + 1) * PATH_MAX];
};

/* No cgroup, every fd -1: what ns_cgroup_finish may safely see. */
void ns_cgroup_init(struct ns_cgroup *cg);
int ns_cgroup_setup(struct ns_cgroup *cg, const struct zb_policy *p, struct zb_error *err);
/* In the sandbox's first process, before anything else: move this (single
 * threaded) process into the v1 cgroups by writing "0" to their tasks
 * files. The kernel lets a thread that moves itself skip the global
 * threadgroup lock, whose writer waits for an RCU grace period (~10 ms
 * here) when no other writer passed recently; a write of a pid to
 * cgroup.procs always takes it. Closes the fds. 0, or -errno with *FAILED
 * naming the cgroup directory. */
int ns_cgroup_enter(struct ns_cgroup *cg, const char **failed);
void ns_cgroup_after_clone(struct ns_cgroup *cg);
/* Remove the stale zonebox-* cgroups (supervisor gone) beside each of ours.
 * Called once the sandbox runs its own setup, so that reading the parents
 * and a /proc/PID/stat per sibling (every concurrent run has one) is off
 * the path to the command's execve on a machine with a second CPU. */
void ns_cgroup_sweep(const struct ns_cgroup *cg);
/* CPU time used by everything in the cgroup, in µs; 0 when unknown. */
uint64_t ns_cgroup_cpu(struct ns_cgroup *cg);
/* Field 22 of /proc/PID/stat, the start time in clock ticks since boot,
 * which tells a process from a later one with its pid; -1 when PID is gone
 * or a zombie. */
int ns_proc_start_time(pid_t pid, unsigned long long *out);
/* The memory controller's count of OOM kills so far; 0 when unknown. */
uint64_t ns_cgroup_oom_kills(const struct ns_cgroup *cg);
/* Forks the pids limit refused so far (pids.events "max"; 0: unknown). */
uint64_t ns_cgroup_pids_max_events(const struct ns_cgroup *cg);
/* Kill what is left, fill cpu/peak/oom into R (when R is not NULL), remove. */
void ns_cgroup_finish(struct ns_cgroup *cg, struct zb_result *r);
/* Our cgroup layout; with MOUNTINFO, also the text it was parsed from
 * (malloc'd). 0 or -errno. */
int ns_cgroup_layout_load(struct cg_layout *l, char **mountinfo);

/* cgroup_cost.c: one measured migration each way, for `zonebox doctor`. */
struct ns_cg_cost {
        char dir[PATH_MAX + 64]; /* the throwaway cgroup it was measured in */
        bool v2;                 /* ... on cgroup v2 (no self move measured) */
        double by_pid_ms;        /* a pid written to cgroup.procs; -1 unknown */
        double self_ms;          /* a thread writing "0" to v1 tasks; -1 unknown */
        bool favordynmods_mount; /* some cgroup mount has favordynmods */
        char cmdline[64];        /* "cgroup_favordynmods=..." from /proc/cmdline, "" */
};
int ns_cgroup_migration_cost(struct ns_cg_cost *c, struct zb_error *err);

/* Remove stale zonebox cgroups under our cgroups (and PARENT if given). */
int ns_cgroup_gc(const char *parent, unsigned *removed, struct zb_error *err);

/* Reaping what dead supervisors left (cgroup_fs.c): each dir under DIR whose
 * name PARSE reads as (supervisor pid, start time), that supervisor gone, is
 * handed to REAP(path, v2); REMOVED (may be NULL) counts REAP's successes.
 * The cgroup gc removes zonebox-* cgroups, systemd.c kills stale scopes. */
typedef bool (*cg_name_parse_fn)(const char *name, pid_t *pid, unsigned long long *start);
typedef int (*cg_reap_fn)(const char *path, bool v2);
void cg_gc_stale(const char *dir, bool v2, cg_name_parse_fn parse, cg_reap_fn reap, unsigned *removed);

#endif
