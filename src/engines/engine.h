/* Engines: the same policy translated for Docker/Podman, OCI runtimes
 * (runc, crun, runsc) and Kubernetes. Each translator is pure (policy in,
 * argv / config.json / manifest out) and fills an eng_notes with what the
 * engine cannot express, so nothing is ever dropped silently; the runners
 * (docker.c, oci.c) start the engine and map its outcome into the same
 * struct zb_result as the namespace backend. */
#ifndef ZB_ENGINES_ENGINE_H
#define ZB_ENGINES_ENGINE_H

#include <json-c/json.h>
#include <linux/filter.h>

#include "../core/policy.h"
#include "../core/result.h"

/* ---- notes: what an engine applies, skips and degrades ---- */

#define ENG_MAX_NOTES 48

struct eng_notes {
        const char *applied[ZB_MAX_LAYERS]; /* layer names, string literals */
        size_t n_applied;
        const char *skipped[ZB_MAX_LAYERS];
        size_t n_skipped;
        char *warn[ENG_MAX_NOTES]; /* "layer: why", each a layer not (fully) expressed */
        size_t n_warn;
        char *info[ENG_MAX_NOTES]; /* equivalent protection by other means; not an error under strict */
        size_t n_info;
        bool run; /* zonebox run's own start (not an export): the default's gaps are notes */
};

void eng_notes_free(struct eng_notes *n);
void eng_apply(struct eng_notes *n, const char *layer);
/* LAYER is not applied at all: listed as skipped, and a warning says why. */
void eng_skip(struct eng_notes *n, const char *layer, const char *fmt, ...) ZB_PRINTF(3, 4);
/* Applied, but weaker or different than the namespace backend's: a warning. */
void eng_warn(struct eng_notes *n, const char *fmt, ...) ZB_PRINTF(2, 3);
void eng_info(struct eng_notes *n, const char *fmt, ...) ZB_PRINTF(2, 3);
/* eng_warn of one whole line, as pol_unused_each's callback (NOTES: struct eng_notes *). */
void eng_warn_line(void *notes, const char *line);
/* Under strict (or landlock: required), warnings are errors: the first one
 * goes into err. ENGINE names the backend in the message. */
int eng_notes_check(const struct eng_notes *n, const struct zb_policy *p, const char *engine,
                    struct zb_error *err);
/* Copy applied and skipped layers into a result. */
void eng_notes_to_result(const struct eng_notes *n, struct zb_result *r);
/* All warnings and infos as lines "warning: ...\n", "note: ...\n" (malloc'd; NULL if none). */
char *eng_notes_text(const struct eng_notes *n);

/* Layers every engine handles the same way: landlock (no engine has it). */
void eng_common_layers(const struct zb_policy *p, struct eng_notes *n);
/* The namespace backend's /tmp and home dir as tmpfs zones for an engine
 * to mount after the policy's (0-2 in OUT; the strings are literals). */
size_t eng_scratch_zones(const struct zb_policy *p, struct pol_zone out[2]);

/* ---- shared helpers (util.c) ---- */

/* "100m", "1g", "1536k" or plain bytes: Docker's binary units. */
void eng_format_size(uint64_t bytes, char *buf, size_t n);
/* "0.5", "2", "1.25". */
void eng_format_cpus(uint64_t milli, char *buf, size_t n);
/* The environment the command gets: PATH, HOME, LANG, then the policy's
 * (no TERM: an engine's container has no terminal of the caller's).
 * NULL-terminated, malloc'd. */
char **eng_build_env(const struct zb_policy *p);
/* A unique container name: zonebox-<pid>-<start time>-<counter>. */
void eng_container_name(char *buf, size_t n);
/* Is the supervisor named in a container name gone (name from
 * eng_container_name)? 1 gone, 0 alive, -1 not one of ours. */
int eng_container_orphaned(const char *name);
/* A run's dir, /tmp/zonebox-KIND-NAME-XXXXXX (mkdtemp; -1 with errno). */
#define ENG_RUN_DIR_MAX 160
int eng_run_dir(char buf[ENG_RUN_DIR_MAX], const char *kind, const char *name);
/* Find NAME on PATH (or take it as a path); malloc'd absolute path, NULL if absent. */
char *eng_which(const char *name);
/* Shell-quote ARGV into one line (malloc'd). */
char *eng_shell_join(char *const *argv);
/* Append to a NULL-terminated malloc'd argv; -ENOMEM on failure. */
struct eng_argv {
        char **v;
        size_t n, cap;
        bool oom;
};
void eng_argv_add(struct eng_argv *a, const char *s);
void eng_argv_addf(struct eng_argv *a, const char *fmt, ...) ZB_PRINTF(2, 3);
void eng_argv_free(struct eng_argv *a);
/* rm -rf without following symlinks (bundle and skeleton dirs zonebox made). */
int eng_remove_tree(const char *path);
/* Write DATA to PATH (mode 0644), replacing it. */
int eng_write_file(const char *path, const char *data, struct zb_error *err);

/* OOM kills from the kernel's log: open /dev/kmsg at its end before a
 * run (-1 and errno when it cannot be read), then after it: did the
 * kernel OOM-kill in a memory cgroup named after ID (a container id, or
 * the whole cgroup name), as the cgroup that ran out or the victim's?
 * Reads the records up to the log's end. */
int eng_kmsg_open_at_end(void);
bool eng_kmsg_oom_in(int fd, const char *id);

/* ---- processes (proc.c) ---- */

struct eng_exec {
        char *const *argv;
        int in_fd;                 /* -1: /dev/null */
        bool capture;              /* stdout/stderr through pipes (capped), else inherited */
        bool pass;                 /* with capture: copied to our stdout/stderr, not kept */
        const char *join_procs;    /* a cgroup.procs the child writes itself into before exec, NULL */
        uint64_t wall_ms;          /* 0: none; on expiry on_timeout is called once */
        uint64_t output_limit;     /* with capture: bytes kept of out+err */
        bool output_kill;          /* past the limit: on_output_limit */
        bool forward_signals;      /* the caller's blocked termination signals go to on_signal */
        int (*on_timeout)(void *ctx);
        int (*on_signal)(void *ctx, int sig); /* a blocked termination signal arrived */
        int (*on_output_limit)(void *ctx);
        void *ctx;
};

struct eng_exit {
        int status;         /* waitpid status */
        bool timed_out;
        bool output_killed;
        int forwarded_signal; /* last signal forwarded, 0 none */
        double wall_ms;
};

/* Run ARGV to completion: pump output, enforce wall time, forward the
 * termination signals the caller blocked (SIGINT, SIGTERM, SIGHUP,
 * SIGQUIT). OUT and ERR are filled when capture is set. */
int eng_exec_wait(const struct eng_exec *x, struct outbuf *out, struct outbuf *err_buf,
                  struct eng_exit *res, struct zb_error *err);
/* eng_exec_wait for an engine's run of policy P: its wall time, output
 * capture and limit (past it, ON_TIMEOUT stops the container, as at the
 * wall time), the caller's termination signals to ON_SIGNAL. Fills R's
 * captured output, captured flag and wall_ms. */
int eng_exec_policy(const struct zb_policy *p, char **argv, int (*on_timeout)(void *ctx),
                    int (*on_signal)(void *ctx, int sig), void *ctx, struct zb_result *r,
                    struct eng_exit *ex, struct zb_error *err);
/* What some runtimes need beyond eng_exec_policy. */
struct eng_exec_opts {
        /* stdout and stderr through pipes even when not captured (copied
         * to ours, no cap unless one was asked for): runsc's sentry writes
         * a host file at its own offset, from 0, overwriting what it held. */
        bool pipe_always;
        const char *join_procs; /* the CLI starts in this cgroup (its cgroup.procs), NULL: ours */
};
int eng_exec_policy_opts(const struct zb_policy *p, char **argv, const struct eng_exec_opts *o,
                         int (*on_timeout)(void *ctx), int (*on_signal)(void *ctx, int sig), void *ctx,
                         struct zb_result *r, struct eng_exit *ex, struct zb_error *err);
/* How an engine's CLI reports its own failures in its exit status. */
struct eng_exit_rules {
        const char *backend;    /* "docker", "oci": names the backend in the result's error */
        bool oom_any_exit;      /* r->oom_killed came from the engine itself (docker inspect's
                                 * OOMKilled): the run is OOM whatever its exit; else (a
                                 * cgroup's oom_kill count) only a SIGKILL death is */
        bool exit_125_engine;   /* 125: the engine could not start the container (docker run) */
};
/* The verdict of an engine's run from its CLI's exit EX, in R: timeout,
 * output limit, OOM (R->oom_killed is set before), setup error (126: the
 * command cannot be invoked, 127: not found, 125 where RULES say so;
 * ENGINE_ERROR, if any, is the engine's message), a signal (128+N, the
 * convention of docker run and runc, which cannot tell an exit(137) from a
 * SIGKILL: read as a signal, as Docker users do), or the exit code. */
void eng_exit_status(const struct eng_exit *ex, const struct eng_exit_rules *rules,
                     const char *engine_error, struct zb_result *r);
/* Run a short helper command (inspect, rm, kill), stdout captured (up to
 * 64 KiB, NULL if not wanted), stderr to *errout if not NULL; returns its exit code, or -errno. */
int eng_exec_simple(char *const *argv, char **out, char **errout);

/* ---- seccomp in OCI / Docker JSON (seccomp.c) ---- */

/* The policy's seccomp layer as an OCI linux.seccomp object; *out NULL when
 * the policy says unconfined. Checked against the namespace backend's own
 * filter before it is returned. */
int eng_seccomp_oci(const struct zb_policy *p, struct json_object **out, struct eng_notes *n,
                    struct zb_error *err);
/* Evaluate a classic-BPF seccomp program on one syscall (for checks and tests). */
uint32_t eng_bpf_eval(const struct sock_fprog *prog, uint32_t arch, int nr, const uint64_t args[6]);
/* 1 when PROG and the program built from JSON agree on every syscall and
 * probe argument; 0 and *bad_nr set when not; -errno on error. */
int eng_seccomp_equivalent(const struct sock_fprog *prog, const char *json, int *bad_nr,
                           struct zb_error *err);

/* ---- root filesystem skeleton (rootfs.c) ---- */

struct eng_bind {
        char *src; /* host path */
        char *dst; /* inside */
};

struct eng_rootfs {
        struct eng_bind *binds; /* read-only binds of directories */
        size_t n_binds;
};

/* Make DIR the sandbox's root skeleton: the host's top-level symlinks, a
 * minimal /etc (generated passwd, group, hosts, hostname, and copies of
 * the small files the namespace backend copies), and empty mount points
 * for the system dirs, /proc, /dev and the zones. With rootfs: DIR in the
 * policy, the image's top-level entries instead. */
int eng_rootfs_build(const struct zb_policy *p, const char *dir, struct eng_rootfs *fs,
                     struct zb_error *err);
/* Only the list of binds (for export of a command line without writing). */
int eng_rootfs_binds(const struct zb_policy *p, struct eng_rootfs *fs, struct zb_error *err);
void eng_rootfs_free(struct eng_rootfs *fs);
/* image.c: an image's layers as a read-only overlay at SKEL.image (ROOT,
 * malloc'd), in zonebox's own mount namespace; and its removal from a bundle. */
int eng_image_mount(const struct zb_policy *p, const char *skel, char **root, struct zb_error *err);
void eng_image_unmount(const char *bundle);

/* ---- docker / podman (docker.c) ---- */

struct eng_docker_opts {
        const char *cli;          /* argv[0]: docker, podman or a path */
        bool podman;              /* the CLI is Podman's: --uidmap, --rootfs, bind options */
        const char *name;         /* --name, NULL: none */
        const char *seccomp_file; /* a profile file to pass, NULL: see notes */
        const char *rootfs_dir;   /* podman --rootfs skeleton, NULL: the image */
        const struct eng_rootfs *binds; /* host system dirs over rootfs_dir */
        bool run;                 /* for zonebox run: no --rm (zonebox inspects, then removes) */
        const char *cidfile;      /* --cidfile (the container's id, for the kernel's OOM record), NULL: none */
        uint64_t nproc_limit;     /* --ulimit nproc (0: none) */
};

int eng_docker_argv(const struct zb_policy *p, const struct eng_docker_opts *o,
                    struct eng_argv *argv, struct eng_notes *n, struct zb_error *err);
/* The CLI the policy names: engine_cli, else $ZONEBOX_DOCKER, else docker. */
const char *eng_docker_cli(const struct zb_policy *p);
int eng_docker_run(const struct zb_policy *p, struct zb_result *r, struct zb_error *err);
/* Remove containers left by supervisors that are gone. */
int eng_docker_gc(const char *cli, unsigned *removed);

/* ---- OCI runtime bundle (oci.c) ---- */

struct eng_oci_opts {
        const char *cgroups_path; /* linux.cgroupsPath, NULL: none */
        bool invoker_is_root;
        uid_t host_uid, host_gid; /* used when not root */
        const struct eng_rootfs *fs;
        const char *init; /* host path of a static init bound as ENG_OCI_INIT_PATH; NULL: none */
};

#define ENG_OCI_INIT_PATH "/.zonebox-init"

int eng_oci_config(const struct zb_policy *p, const struct eng_oci_opts *o,
                   struct json_object **out, struct eng_notes *n, struct zb_error *err);
/* Write DIR/config.json and DIR/rootfs. */
int eng_oci_write_bundle(const struct zb_policy *p, const char *dir, struct eng_notes *n,
                         struct zb_error *err);
int eng_oci_run(const struct zb_policy *p, struct zb_result *r, struct zb_error *err);
/* The runtime binary the policy names (runc when unset); malloc'd path. */
char *eng_oci_runtime(const struct zb_policy *p, struct zb_error *err);
int eng_oci_gc(const char *runtime, unsigned *removed);

/* The host ids a root-started sandbox's container root and user map to. */
#define ENG_OCI_ROOT_HOST_ID 65533u

/* ---- Kubernetes (kubernetes.c) ---- */

/* A List of the Pod (or Job) and its NetworkPolicy, as JSON. LOCALHOST:
 * the seccomp profile file to name as a Localhost profile, or NULL for
 * RuntimeDefault. */
int eng_k8s_manifest(const struct zb_policy *p, const char *localhost, struct json_object **out,
                     struct eng_notes *n, struct zb_error *err);

#endif
