/* Syscalls: the seccomp layer. The BPF program is built with libseccomp in
 * the supervisor, before clone, from the built-in "default" profile or a
 * Docker/OCI JSON profile; the command process installs it as its last step
 * before execve. See seccomp.c for what the default profile allows,
 * seccomp_json.c for how a JSON profile is read. */
#ifndef ZB_NS_SECCOMP_H
#define ZB_NS_SECCOMP_H

#include <linux/btrfs.h>
#include <linux/filter.h>
#include <sys/ioctl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct zb_error;

/* Largest JSON profile zonebox reads (Docker's own default is ~20 KiB). */
#define MAX_SECCOMP_PROFILE_BYTES (4u << 20)

/* The default profile's namespace argument filters, for the filter built
 * here and for the engines' JSON profile (src/engines/seccomp.c). clone's
 * flags are argument 0 everywhere but s390, where stack and flags swap
 * places. */
#if defined(__s390__) || defined(__s390x__)
#define CLONE_FLAGS_ARG 1
#else
#define CLONE_FLAGS_ARG 0
#endif
#define NS_FLAGS_CLONE                                                                   \
        (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |     \
         CLONE_NEWNET | CLONE_NEWCGROUP)
/* CLONE_NEWTIME (0x80) is a namespace only to unshare(2) and clone3; to
 * clone(2) the low byte is the exit signal. */
#define NS_FLAGS_UNSHARE (NS_FLAGS_CLONE | 0x80 /* CLONE_NEWTIME */)

/* ioctl requests the default filter refuses (compared on the low 32
 * bits), used by the filter and the engines' JSON profile. TIOCSTI fakes
 * terminal input to the terminal's owner outside (CVE-2017-5226), TIOCLINUX
 * the same on a virtual console. A btrfs subvolume or snapshot made inside a
 * zone is a qgroup of its own, outside the zone's size cap (quota.c): the
 * sandbox may not make one. */
#define NS_IOCTL_DENY                                                                        \
        {                                                                                    \
                TIOCSTI, TIOCLINUX, BTRFS_IOC_SUBVOL_CREATE, BTRFS_IOC_SUBVOL_CREATE_V2,     \
                        BTRFS_IOC_SNAP_CREATE, BTRFS_IOC_SNAP_CREATE_V2                      \
        }

/* The 32-bit values outside DENY[0..N) as MASKED_EQ comparisons: EMIT is
 * called, in order, for each largest subtree of the value space that holds
 * no denied value, with the top bits in MASK fixed to PREFIX (MASK 0: the
 * whole space), about 32 calls per denied value. Stops at EMIT's first
 * negative return, and returns it. The default filter's ioctl rules and
 * the engines' JSON profile are both written from this walk. */
typedef int ns_low32_emit(void *ctx, uint32_t mask, uint32_t prefix);
int ns_low32_complement(const uint32_t *deny, size_t n, ns_low32_emit *emit, void *ctx);

/* Set-user-id and set-group-id modes are refused (EPERM) in the mode
 * argument of the calls seccomp.c lists (chmod, open, mknod, ...): a file
 * the command creates in an idmapped zone belongs on the host to the zone's
 * owner (root, for a root-owned dir), so a set-id bit would make a set-id
 * file of that owner there. openat2 keeps its mode in a struct, out of a
 * filter's reach. */
#define NS_SETID_MODE_BITS 06000u
/* The index of NAME's mode argument if it is one of those calls, else -1. */
int ns_mode_call_arg(const char *name);

/* personality(2) values the default filter allows, Docker's: PER_LINUX,
 * PER_LINUX32, UNAME26, UNAME26|PER_LINUX32, and 0xffffffff (query).
 * Others (READ_IMPLIES_EXEC, ADDR_NO_RANDOMIZE) weaken the address-space
 * hardening. */
#define NS_PERSONALITY_ALLOW { 0x0, 0x0008, 0x20000, 0x20008, 0xffffffff }

/* allow and deny replace whatever the profile says about a name, argument
 * filters included: allow "clone" lifts the namespace-flag check. deny wins
 * over allow. Names must be syscalls libseccomp (or zonebox) knows on some
 * arch; names absent on this arch are skipped. "unconfined" is not a
 * profile: the caller skips the layer instead. */
struct ns_seccomp_spec {
        const char *profile; /* NULL or "default", or a path to a Docker/OCI JSON profile */
        const char *const *allow; /* extra syscalls allowed on top of the profile */
        size_t n_allow;
        const char *const *deny; /* syscalls denied (EPERM) even if the profile allows them */
        size_t n_deny;
};

/* Build the BPF program in the supervisor (before clone). On success *prog
 * holds the filter, to be read only (the default profile's is the program
 * compiled in) and freed with ns_seccomp_free. On failure err holds
 * one line starting "layer seccomp: " that names the offending syscall,
 * JSON key or file. */
int ns_seccomp_build(const struct ns_seccomp_spec *spec, struct sock_fprog *prog,
                     struct zb_error *err);
void ns_seccomp_free(struct sock_fprog *prog);

#define NS_WATCH_MAX 24 /* the calls issue 16's watch may name (notify_bpf.c) */

/* 1 when the build-time copy of the default program equals a fresh build,
 * 0 when not, -1 when this build has no precompiled program. */
int ns_seccomp_precompiled_matches(void);
/* When PLAIN is the compiled-in default program: OUT is its watch program
 * (notify_bpf.c, NET: connect() watched) as compiled in too, WATCH_NR
 * (NS_WATCH_MAX entries) its calls' numbers, and 1 is returned; else 0. */
int ns_seccomp_default_watch(const struct sock_fprog *plain, bool net, struct sock_fprog *out, int *watch_nr);

/* Install in the command process just before execve, after
 * PR_SET_NO_NEW_PRIVS: seccomp(SECCOMP_SET_MODE_FILTER, 0), falling back to
 * prctl(PR_SET_SECCOMP) on kernels without seccomp(2). Async-signal-safe,
 * no allocation. Returns 0 or -errno. */
int ns_seccomp_install(const struct sock_fprog *prog);

/* Seccomp user notification (notify.c): OUT is a malloc'd copy of PROG in
 * which every "return ERRNO(EPERM)" is "return USER_NOTIF", so the
 * supervisor hears of each denial and answers EPERM itself. Returns the
 * number of returns rewritten, or -ENOMEM. */
int ns_seccomp_notify_copy(const struct sock_fprog *prog, struct sock_fprog *out);
/* Install PROG with SECCOMP_FILTER_FLAG_NEW_LISTENER: the listener fd
 * (close-on-exec) or -errno (EINVAL: Linux < 5.0; EBUSY: an ancestor's
 * filter already has a listener). Async-signal-safe, no allocation. */
int ns_seccomp_install_listener(const struct sock_fprog *prog);

/* Parse-only entry for fuzzing and unit tests: Docker/OCI JSON text of len
 * bytes (need not be NUL-terminated) to a BPF program. */
int ns_seccomp_build_json(const char *json, size_t len, struct sock_fprog *prog,
                          struct zb_error *err);

#endif
