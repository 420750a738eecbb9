/* The policy: the single source of truth for one sandbox. Parsers (YAML,
 * flags) only fill it; zb_policy_validate() checks it once; backends read it
 * and never change it. */
#ifndef ZB_POLICY_H
#define ZB_POLICY_H

#include <sys/types.h>

#include "util.h"

enum pol_zone_mode { ZB_ZONE_RO, ZB_ZONE_RW, ZB_ZONE_TMPFS, ZB_ZONE_COW };
enum pol_network { ZB_NET_NONE, ZB_NET_LOOPBACK, ZB_NET_HOST };
enum pol_backend { ZB_BACKEND_NAMESPACE, ZB_BACKEND_DOCKER, ZB_BACKEND_OCI, ZB_BACKEND_KUBERNETES, ZB_BACKEND_WASM };
enum pol_landlock { ZB_LANDLOCK_OFF, ZB_LANDLOCK_BEST_EFFORT, ZB_LANDLOCK_REQUIRED };

#define ZB_UNLIMITED UINT64_MAX

/* Defaults, in one place with their units. */
#define ZB_MAX_ZONES 64
#define DEFAULT_TMPFS_ZONE_BYTES (64ull << 20)
#define DEFAULT_OPEN_FILES 1024ull
/* Safe for untrusted code: a memory bomb or a fork bomb stays inside. */
#define DEFAULT_MEMORY_BYTES (512ull << 20)
#define DEFAULT_PIDS 256ull
#define ZB_MIN_MEMORY (4ull << 20)
#define DEFAULT_OUTPUT_BYTES (1ull << 20)
/* RLIMIT_FSIZE when none is given: no single file past 1 GiB (lowered to
 * the caller's own hard limit when that is smaller). */
#define DEFAULT_FILE_SIZE_BYTES (1ull << 30)
#define DEFAULT_UID 1000u
#define DEFAULT_GID 1000u
/* The uid/gid outside that a sandbox started by root runs as: never host
 * root. 65534 ("nobody") exists on every distribution. The native backend
 * maps a whole subordinate range instead (src/ns/userns.c); the proxy and
 * the engines' single-id maps still use this. */
#define DEFAULT_HOST_ID_FOR_ROOT 65534u
/* The writable /tmp and home dir (src/ns/mounts.c): one tmpfs, its pages
 * counted in the memory limit like any the command touches. */
#define DEFAULT_TMP_BYTES (64ull << 20)
#define ZB_HOME_DIR "/home/sandbox"
#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"
#define DEFAULT_HOSTNAME "zonebox"

struct pol_zone {
        char *name;
        enum pol_zone_mode mode;
        char *host_path; /* absolute; NULL for tmpfs */
        char *path;      /* mount point inside the sandbox */
        uint64_t size;   /* tmpfs size cap in bytes */
        bool from_config; /* a flag on the same mount point replaces it */
};

/* cow zones (src/ns/cow.c): where their change sets are kept, and what a run
 * does with its own when it ends (commit only after exit code 0). */
enum cow_action { ZB_COW_KEEP, ZB_COW_COMMIT, ZB_COW_DISCARD };

struct cow_opts {
        char *dir; /* the change-set store; NULL: the default (docs/config.md) */
        enum cow_action action;
};

/* Block-I/O throttling (src/ns/blkio.c): Docker's --device-read-bps,
 * --device-write-bps, --device-read-iops, --device-write-iops (a device
 * path) and zonebox's --zone-read-bps/--zone-write-bps (a zone's name: the
 * device its host dir is on), and --blkio-weight. Resolved to MAJ:MIN when
 * the run starts. */
enum pol_io_kind { ZB_IO_READ_BPS, ZB_IO_WRITE_BPS, ZB_IO_READ_IOPS, ZB_IO_WRITE_IOPS };
#define ZB_MAX_IO_LIMITS 32
#define ZB_IO_TARGET_MAX 256

struct pol_io_limit {
        enum pol_io_kind kind;
        bool zone;                      /* target is a zone's name */
        char target[ZB_IO_TARGET_MAX];  /* a block device's path, or a zone's name */
        uint64_t rate;                  /* bytes or operations per second, > 0 */
};

struct pol_io {
        struct pol_io_limit limits[ZB_MAX_IO_LIMITS];
        size_t n;
        uint64_t weight; /* 10-1000, 0: unset */
};

struct pol_limits {
        uint64_t wall_time_ms; /* 0: none */
        uint64_t cpu_time_ms;  /* 0: none */
        uint64_t memory;       /* bytes, 0: none */
        uint64_t swap;         /* bytes of swap on top of memory; 0: none */
        uint64_t memory_swap_total; /* Docker's --memory-swap; 0: unset */
        uint64_t cpus_milli;   /* 0: none */
        uint64_t pids;         /* 0: none */
        uint64_t file_size;    /* bytes, ZB_UNLIMITED: none */
        bool file_size_set;    /* given, not the default: above the hard limit is an error */
        uint64_t open_files;
        uint64_t output;       /* captured stdout+stderr bytes */
        bool output_kill;      /* stop the command when output passes the cap */
        bool output_set;       /* limits.output given: pass-through output is capped too */
        char *cgroup_parent;
        bool allow_unenforced;
        struct pol_io io;
};

/* limits.device_*_bps/iops, limits.zone_*_bps, limits.blkio_weight
 * (src/core/io_keys.c); -ENOENT when SUB is none of them. */
int pol_io_set_key(struct pol_io *io, const char *sub, const char *value, const char *label,
                  struct zb_error *err);
static inline bool pol_io_wanted(const struct pol_io *io)
{
        return io->n || io->weight;
}

struct pol_security {
        char *seccomp; /* NULL or "default", "unconfined", or a profile path */
        char **seccomp_allow; /* syscalls allowed on top of the profile */
        size_t n_seccomp_allow;
        char **seccomp_deny;  /* syscalls denied whatever the profile says */
        size_t n_seccomp_deny;
        enum pol_landlock landlock;
        bool no_new_privileges;
        bool user_set;
        uid_t uid; /* inside the sandbox */
        gid_t gid;
};

/* What the docker, oci and kubernetes backends need beyond the layers
 * (src/engines/). Fixed-size strings: the policy frees nothing extra. */
enum eng_k8s_kind { ZB_K8S_POD, ZB_K8S_JOB };
enum eng_k8s_volumes { ZB_K8S_VOL_PVC, ZB_K8S_VOL_HOSTPATH, ZB_K8S_VOL_EMPTYDIR };
#define ZB_ENGINE_NAME_MAX 256

struct pol_engine {
        char runtime[ZB_ENGINE_NAME_MAX]; /* "": the engine's default; runc, crun, runsc, gvisor (runsc), or a path */
        char cli[ZB_ENGINE_NAME_MAX];     /* docker backend: "": $ZONEBOX_DOCKER or docker; podman; or a path */
        bool strict;                      /* a layer the engine cannot express is an error */
        char runsc_platform[16];          /* engine.runsc.platform: "", runsc's default; ptrace, kvm, systrap */
        enum eng_k8s_kind k8s_kind;
        enum eng_k8s_volumes k8s_host_zones; /* volume source for ro/rw zones */
};

/* The wasm backend (src/wasm/): which WASI runtime runs the module, inside
 * the namespace sandbox. AUTO: the first found of wasmtime, wasmer,
 * wasmedge, node. Names and checks in src/core/backend.c. */
enum pol_wasm_runtime { ZB_WASM_AUTO, ZB_WASM_WASMTIME, ZB_WASM_WASMER, ZB_WASM_WASMEDGE, ZB_WASM_NODE };

struct pol_wasm {
        enum pol_wasm_runtime runtime;
        bool runtime_set; /* wasm.runtime given; else runtime: (the seed's spelling) may name it */
};

/* Command approval (src/core/approval.c). Any approval key or flag turns it
 * on; the default is then ask. Rules are kept as written, in order. */
enum appr_default { ZB_APPROVAL_UNSET, ZB_APPROVAL_ALLOW, ZB_APPROVAL_DENY, ZB_APPROVAL_ASK };

struct appr_policy {
        bool configured;
        enum appr_default def;
        char **allow;
        size_t n_allow;
        char **deny;
        size_t n_deny;
        char **command; /* the approver's argv, NULL-terminated; NULL: none */
        size_t n_command;
        uint64_t timeout_ms; /* approver answer time; 0: DEFAULT_APPROVER_TIMEOUT_MS */
        zb_ask_fn ask;       /* asks a person (the CLI: the terminal); NULL: nobody */
        void *ask_data;
};

/* The audit log (src/core/audit.c). */
struct audit_log {
        char *log; /* absolute path; NULL: no log */
        bool fsync;
        char *events; /* the live event stream (events.h): an absolute path or "fd:N"; NULL: none */
};

/* network.allow (src/ns/proxy.c): the sandbox keeps its loopback-only
 * network namespace and reaches the allowed host:port pairs through a proxy
 * outside. Entries are kept as written; keys.c checks each when it is set,
 * zb_policy_validate() all of them again. */
#define DEFAULT_PROXY_PORT 3128
#define ZB_MAX_NET_RULES 256

struct pol_net {
        char **allow; /* HOST[:PORT], *.DOMAIN[:PORT], IP literals */
        size_t n_allow;
        char **hosts; /* "NAME:IP": names pinned to an address, no DNS */
        size_t n_hosts;
        uint64_t proxy_port; /* inside the sandbox, on 127.0.0.1; 0: DEFAULT_PROXY_PORT */
};

struct zb_policy {
        enum pol_backend backend;
        char *image;
        char *rootfs; /* NULL: the host's system dirs */
        /* image: resolved by zb_policy_use_image (src/image/apply.c): the
         * store's layer dirs, top first, then the empty bottom dir. */
        char **image_layers;
        size_t n_image_layers;
        struct pol_zone *zones;
        size_t n_zones;
        enum pol_network network;
        struct pol_net net;
        struct pol_limits limits;
        struct pol_security security;
        char **env; /* "KEY=VALUE", later entries win */
        size_t n_env;
        char *workdir;
        char *hostname;
        uint64_t tmp_size; /* the /tmp and home tmpfs, bytes; 0: none (tmp: none) */
        struct cow_opts cow;
        char **argv;
        size_t argc;
        bool capture;
        struct pol_engine engine;
        struct pol_wasm wasm;
        bool check_canary; /* zonebox check: ZB_CHECK_LANDLOCK_CANARY in the root */
        struct appr_policy approval;
        struct audit_log audit;
        /* A session (zonebox session start): init waits for execs instead of
         * running ARGV, which may then be empty. */
        bool session;
        uint64_t idle_timeout_ms; /* session.idle_timeout; 0: the default */
};

/* The allowlist mode: network.allow has entries. */
static inline bool pol_net_allowlist(const struct zb_policy *p)
{
        return p->net.n_allow > 0;
}
static inline uint16_t pol_proxy_port(const struct zb_policy *p)
{
        return (uint16_t)(p->net.proxy_port ? p->net.proxy_port : DEFAULT_PROXY_PORT);
}

/* The wasm runtime names, one table (src/core/backend.c). */
const char *pol_wasm_runtime_name(enum pol_wasm_runtime rt);
/* The runtime the policy asks for: wasm.runtime, else runtime: when it names
 * a wasm runtime, else auto. -EINVAL naming the key otherwise. */
int pol_wasm_runtime_wanted(const struct zb_policy *p, enum pol_wasm_runtime *out, struct zb_error *err);
/* What backend: wasm cannot express: one line naming the key or flag. */
int pol_backend_validate(const struct zb_policy *p, struct zb_error *err);

void pol_zone_free_fields(struct pol_zone *z);
/* An image (image:) on the namespace or oci backend must have been
 * resolved (zb_policy_use_image) before a run: never the host's dirs in its
 * place. Called where a sandbox starts (zb_run, session start); an export
 * names the image instead. */
int pol_image_check_resolved(const struct zb_policy *p, struct zb_error *err);
/* Refuses (EPERM, naming both paths) a zone whose host path contains DIR or
 * lies inside it; WHAT names DIR ("session runtime dir"). Validation calls
 * it for every state dir it knows of; session start for its own. */
int pol_zones_avoid(const struct zb_policy *p, const char *dir, const char *what, struct zb_error *err);
int pol_add_zone(struct zb_policy *p, const struct pol_zone *z, struct zb_error *err);
/* Set or replace KEY in the environment list; "KEY=VALUE". */
int pol_set_env(struct zb_policy *p, const char *kv);
/* The environment the command gets: defaults (PATH, HOME, LANG, TERM) then
 * the policy's. NULL-terminated, newly allocated strings. */
char **pol_build_env(const struct zb_policy *p);
/* Look KEY up in an envp array; NULL if absent. */
const char *util_env_get(char *const *envp, const char *key);
void util_strv_free(char **v);

/* Output caps (src/core/output.c). True when the command's stdout and
 * stderr go through pipes to the supervisor: captured, or capped
 * pass-through (limits.output given explicitly). */
bool out_piped(const struct zb_policy *p);
#define ZB_OUTPUT_DROPPED 1 /* something went past the cap */
#define ZB_OUTPUT_CLOSED 2  /* pass-through: the caller's stream is closed */
/* N bytes of DATA from one stream: appended to OUT (PASS_FD < 0) or written
 * to PASS_FD, keeping OUT and OTHER together within LIMIT bytes. */
int out_take(struct outbuf *out, const struct outbuf *other, int pass_fd, const char *data,
                   size_t n, uint64_t limit);

/* Each setting of P that backend B does not use (keytab.c's warnings,
 * then a key given without the one it needs): FN(CTX, "KEY: why").
 * EXPORT: a docker/oci export, which also loses what only zonebox run
 * does (approval, audit, output caps); it has no dependency warnings. */
void pol_unused_each(const struct zb_policy *p, enum pol_backend b, bool export,
                     void (*fn)(void *ctx, const char *line), void *ctx);

/* One name per backend and per network mode, for config keys, results,
 * the audit log and the approval request: the tables live in policy.c. */
const char *pol_backend_name(enum pol_backend b);
int pol_backend_parse(const char *s, enum pol_backend *out);
const char *pol_network_mode_name(enum pol_network n);
int pol_network_mode_parse(const char *s, enum pol_network *out);
/* The network P's command gets: "allowlist" when network.allow has entries
 * (loopback plus the proxy to the listed hosts), else the mode's name. */
const char *pol_network_name(const struct zb_policy *p);

/* Zone helpers used by parsers. */
int pol_zone_mode_parse(const char *s, enum pol_zone_mode *out);
const char *pol_zone_mode_name(enum pol_zone_mode m);
/* Make an absolute, normalized path from PATH relative to BASE_DIR (NULL:
 * the working directory). Does not touch the filesystem. */
char *util_path_absolute(const char *base_dir, const char *path);

#endif
