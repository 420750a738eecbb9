/* The seccomp layer for OCI runtimes and Docker/Podman: the policy's filter
 * written as an OCI linux.seccomp object (which is also a Docker profile).
 *
 * The namespace backend's filter stays the single source of truth. For the
 * default profile the rules are read off the compiled filter itself: every
 * syscall libseccomp names on this arch is evaluated with a set of probe
 * arguments; one whose verdict does not depend on its arguments becomes a
 * plain rule, and the few the default profile filters by argument (clone,
 * unshare, ioctl, socket, personality, seccomp) get their argument rules written out
 * here. A Docker JSON profile file is translated as Docker applies it to a
 * container without capabilities (includes/excludes resolved, archMap
 * flattened). Either way the result is compiled back with libseccomp and
 * checked against the policy's own filter on every syscall and probe before
 * it is used: a difference fails closed, naming the syscall. */
#define _GNU_SOURCE
#include <linux/netlink.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "../core/seccomp_names.h"
#include "../ns/seccomp.h"
#include "engine.h"

#define MAX_NR 1024
#define ACT_EPERM (SECCOMP_RET_ERRNO | EPERM)

/* ---- a classic BPF interpreter for seccomp programs ---- */

static uint32_t load_word(uint32_t arch, int nr, const uint64_t args[6], uint32_t off, bool *bad)
{
        if (off == 0)
                return (uint32_t)nr;
        if (off == 4)
                return arch;
        if (off >= 16 && off < 64 && off % 4 == 0) {
                uint64_t a = args[(off - 16) / 8];
                /* struct seccomp_data is in native byte order: little endian here. */
                return (off % 8) ? (uint32_t)(a >> 32) : (uint32_t)a;
        }
        if (off == 8 || off == 12)
                return 0; /* instruction pointer */
        *bad = true;
        return 0;
}

uint32_t eng_bpf_eval(const struct sock_fprog *prog, uint32_t arch, int nr, const uint64_t args[6])
{
        uint32_t A = 0, X = 0, M[16] = { 0 };
        bool bad = false;

        for (size_t pc = 0; pc < prog->len && !bad; pc++) {
                const struct sock_filter *f = &prog->filter[pc];
                uint32_t k = f->k;
                switch (BPF_CLASS(f->code)) {
                case BPF_LD:
                        if (BPF_MODE(f->code) == BPF_ABS)
                                A = load_word(arch, nr, args, k, &bad);
                        else if (BPF_MODE(f->code) == BPF_IMM)
                                A = k;
                        else if (BPF_MODE(f->code) == BPF_MEM && k < 16)
                                A = M[k];
                        else if (BPF_MODE(f->code) == BPF_LEN)
                                A = 64;
                        else
                                bad = true;
                        break;
                case BPF_LDX:
                        if (BPF_MODE(f->code) == BPF_IMM)
                                X = k;
                        else if (BPF_MODE(f->code) == BPF_MEM && k < 16)
                                X = M[k];
                        else if (BPF_MODE(f->code) == BPF_LEN)
                                X = 64;
                        else
                                bad = true;
                        break;
                case BPF_ST:
                        if (k < 16)
                                M[k] = A;
                        else
                                bad = true;
                        break;
                case BPF_STX:
                        if (k < 16)
                                M[k] = X;
                        else
                                bad = true;
                        break;
                case BPF_ALU: {
                        uint32_t v = BPF_SRC(f->code) == BPF_X ? X : k;
                        switch (BPF_OP(f->code)) {
                        case BPF_ADD: A += v; break;
                        case BPF_SUB: A -= v; break;
                        case BPF_MUL: A *= v; break;
                        case BPF_DIV: if (!v) return SECCOMP_RET_KILL_PROCESS; A /= v; break;
                        case BPF_MOD: if (!v) return SECCOMP_RET_KILL_PROCESS; A %= v; break;
                        case BPF_OR: A |= v; break;
                        case BPF_AND: A &= v; break;
                        case BPF_XOR: A ^= v; break;
                        case BPF_LSH: A = v < 32 ? A << v : 0; break;
                        case BPF_RSH: A = v < 32 ? A >> v : 0; break;
                        case BPF_NEG: A = -A; break;
                        default: bad = true;
                        }
                        break;
                }
                case BPF_JMP: {
                        if (BPF_OP(f->code) == BPF_JA) {
                                pc += k;
                                break;
                        }
                        uint32_t v = BPF_SRC(f->code) == BPF_X ? X : k;
                        bool t;
                        switch (BPF_OP(f->code)) {
                        case BPF_JEQ: t = A == v; break;
                        case BPF_JGT: t = A > v; break;
                        case BPF_JGE: t = A >= v; break;
                        case BPF_JSET: t = (A & v) != 0; break;
                        default: t = false; bad = true;
                        }
                        pc += t ? f->jt : f->jf;
                        break;
                }
                case BPF_RET:
                        return BPF_RVAL(f->code) == BPF_A ? A : k;
                case BPF_MISC:
                        if (BPF_MISCOP(f->code) == BPF_TAX)
                                X = A;
                        else
                                A = X;
                        break;
                default:
                        bad = true;
                }
        }
        return SECCOMP_RET_KILL_PROCESS; /* the kernel refuses such a program */
}

/* ---- probes ---- */

static const uint64_t probe_values[] = {
        1, 2, 3, 8, 10, 16, 17, 38, 0x20000, 0x20008, 0xffffffffull, TIOCSTI, TIOCLINUX,
        BTRFS_IOC_SUBVOL_CREATE, BTRFS_IOC_SUBVOL_CREATE_V2, BTRFS_IOC_SNAP_CREATE, BTRFS_IOC_SNAP_CREATE_V2,
        CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWNET, CLONE_NEWPID, 0x80, 0x100000000ull,
        0xffffffff00005412ull, ~0ull,
};

#define N_PROBES (2 + 6 * ARRAY_SIZE(probe_values) + 2)

static void probe_args(size_t i, uint64_t args[6])
{
        memset(args, 0, 6 * sizeof(uint64_t));
        if (i == 0)
                return;
        if (i == 1) {
                for (int j = 0; j < 6; j++)
                        args[j] = ~0ull;
                return;
        }
        i -= 2;
        if (i < 6 * ARRAY_SIZE(probe_values)) {
                args[i / ARRAY_SIZE(probe_values)] = probe_values[i % ARRAY_SIZE(probe_values)];
                return;
        }
        /* netlink sockets: route allowed, other protocols not */
        args[0] = AF_NETLINK;
        args[2] = i == 6 * ARRAY_SIZE(probe_values) ? NETLINK_ROUTE : 9;
}

static bool arg_dependent(const struct sock_fprog *prog, uint32_t arch, int nr, uint32_t *action)
{
        uint64_t args[6];
        probe_args(0, args);
        *action = eng_bpf_eval(prog, arch, nr, args);
        for (size_t i = 1; i < N_PROBES; i++) {
                probe_args(i, args);
                if (eng_bpf_eval(prog, arch, nr, args) != *action)
                        return true;
        }
        return false;
}

/* ---- OCI JSON pieces ---- */

/* libseccomp's name for this machine's arch ("SCMP_ARCH_X86_64"). */
static const char *native_arch_name(void)
{
        const struct sc_arch *a = sc_arch_of(seccomp_arch_native());
        return a ? a->scmp : NULL;
}

static void action_to_json(json_object *o, uint32_t action)
{
        uint32_t kind = action & SECCOMP_RET_ACTION_FULL, data = action & SECCOMP_RET_DATA;
        const char *name = sc_action_name(action);
        json_object_object_add(o, "action", json_object_new_string(name ? name : "SCMP_ACT_KILL_PROCESS"));
        if (kind == SECCOMP_RET_ERRNO || kind == SECCOMP_RET_TRACE)
                json_object_object_add(o, "errnoRet", json_object_new_int((int)data));
}

static json_object *arg_json(unsigned index, uint64_t value, uint64_t two, enum scmp_compare op)
{
        json_object *a = json_object_new_object();
        json_object_object_add(a, "index", json_object_new_int((int)index));
        json_object_object_add(a, "value", json_object_new_uint64(value));
        json_object_object_add(a, "valueTwo", json_object_new_uint64(two));
        json_object_object_add(a, "op", json_object_new_string(sc_op_name(op)));
        return a;
}

/* One rule: NAME with ACTION when every comparison in ARGS holds. */
static void add_rule(json_object *calls, const char *name, uint32_t action, json_object *args)
{
        json_object *r = json_object_new_object();
        json_object *names = json_object_new_array();
        json_object_array_add(names, json_object_new_string(name));
        json_object_object_add(r, "names", names);
        action_to_json(r, action);
        if (args)
                json_object_object_add(r, "args", args);
        json_object_array_add(calls, r);
}

static json_object *args1(unsigned index, uint64_t value, uint64_t two, enum scmp_compare op)
{
        json_object *a = json_object_new_array();
        json_object_array_add(a, arg_json(index, value, two, op));
        return a;
}

/* ---- the default profile's argument filters (see src/ns/seccomp.c) ---- */


/* ioctl: allowed unless the low 32 bits of the request are one of
 * NS_IOCTL_DENY, written as the allowed complement, rule by rule as the
 * namespace backend's filter has it (ns_low32_complement). */
static int ioctl_allow(void *calls, uint32_t mask, uint32_t prefix)
{
        add_rule(calls, "ioctl", SECCOMP_RET_ALLOW, mask ? args1(1, mask, prefix, SCMP_CMP_MASKED_EQ) : NULL);
        return 0;
}

static int argument_rules(json_object *calls, const char *name)
{
        if (strcmp(name, "clone") == 0) {
                add_rule(calls, name, SECCOMP_RET_ALLOW,
                         args1(CLONE_FLAGS_ARG, NS_FLAGS_CLONE, 0, SCMP_CMP_MASKED_EQ));
        } else if (strcmp(name, "unshare") == 0) {
                add_rule(calls, name, SECCOMP_RET_ALLOW,
                         args1(0, NS_FLAGS_UNSHARE, 0, SCMP_CMP_MASKED_EQ));
        } else if (strcmp(name, "ioctl") == 0) {
                static const uint32_t deny[] = NS_IOCTL_DENY;
                ns_low32_complement(deny, ARRAY_SIZE(deny), ioctl_allow, calls);
        } else if (strcmp(name, "socket") == 0) {
                for (uint64_t fam = 0; fam <= AF_NETLINK; fam++) {
                        if (fam == AF_UNIX || fam == AF_INET || fam == AF_INET6) {
                                add_rule(calls, name, SECCOMP_RET_ALLOW, args1(0, fam, 0, SCMP_CMP_EQ));
                        } else if (fam == AF_NETLINK) {
                                for (int ne = 0; ne < 2; ne++) {
                                        json_object *a = json_object_new_array();
                                        json_object_array_add(a, arg_json(0, fam, 0, SCMP_CMP_EQ));
                                        json_object_array_add(a, arg_json(2, NETLINK_ROUTE, 0,
                                                                          ne ? SCMP_CMP_NE : SCMP_CMP_EQ));
                                        add_rule(calls, name,
                                                 ne ? SECCOMP_RET_ERRNO | EPROTONOSUPPORT : SECCOMP_RET_ALLOW, a);
                                }
                        } else {
                                add_rule(calls, name, SECCOMP_RET_ERRNO | EAFNOSUPPORT,
                                         args1(0, fam, 0, SCMP_CMP_EQ));
                        }
                }
                add_rule(calls, name, SECCOMP_RET_ERRNO | EAFNOSUPPORT,
                         args1(0, AF_NETLINK, 0, SCMP_CMP_GT));
        } else if (ns_mode_call_arg(name) >= 0) {
                add_rule(calls, name, SECCOMP_RET_ALLOW,
                         args1((unsigned)ns_mode_call_arg(name), NS_SETID_MODE_BITS, 0, SCMP_CMP_MASKED_EQ));
        } else if (strcmp(name, "seccomp") == 0) {
                /* a filter of the command's own, without a listener (src/ns/notify.c) */
                add_rule(calls, name, SECCOMP_RET_ALLOW,
                         args1(1, SECCOMP_FILTER_FLAG_NEW_LISTENER, 0, SCMP_CMP_MASKED_EQ));
        } else if (strcmp(name, "personality") == 0) {
                static const uint64_t allowed[] = NS_PERSONALITY_ALLOW;
                for (size_t i = 0; i < ARRAY_SIZE(allowed); i++)
                        add_rule(calls, name, SECCOMP_RET_ALLOW, args1(0, allowed[i], 0, SCMP_CMP_EQ));
        } else {
                return -ENOENT;
        }
        return 0;
}

/* Rules read off the compiled default filter (with the policy's allow and deny). */
static int derive_from_filter(const struct sock_fprog *prog, json_object *calls, struct eng_notes *n,
                              struct zb_error *err)
{
        uint32_t arch = seccomp_arch_native();
        /* Plain rules grouped by action, in first-seen order. */
        struct { uint32_t action; json_object *names; } groups[8];
        size_t n_groups = 0, unnamed = 0;
        int first_unnamed = -1;

        for (int nr = 0; nr < MAX_NR; nr++) {
                uint32_t action;
                bool dep = arg_dependent(prog, arch, nr, &action);
                char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
                if (!name) {
                        if (dep || action != ACT_EPERM) {
                                unnamed++;
                                if (first_unnamed < 0)
                                        first_unnamed = nr;
                        }
                        continue;
                }
                if (dep) {
                        int r = argument_rules(calls, name);
                        if (r < 0) {
                                r = err_set(err, ENOTSUP,
                                                 "layer seccomp: syscall '%s' is filtered by argument in a way the OCI translation does not know",
                                                 name);
                                free(name);
                                return r;
                        }
                } else if (action != ACT_EPERM) {
                        size_t g;
                        for (g = 0; g < n_groups && groups[g].action != action; g++)
                                ;
                        if (g == n_groups) {
                                if (n_groups == ARRAY_SIZE(groups)) {
                                        free(name);
                                        return err_set(err, E2BIG, "layer seccomp: too many distinct actions");
                                }
                                groups[g].action = action;
                                groups[g].names = json_object_new_array();
                                n_groups++;
                        }
                        json_object_array_add(groups[g].names, json_object_new_string(name));
                }
                free(name);
        }
        for (size_t g = 0; g < n_groups; g++) {
                json_object *r = json_object_new_object();
                json_object_object_add(r, "names", groups[g].names);
                action_to_json(r, groups[g].action);
                /* Plain rules first: runtimes add rules in order and the
                 * argument rules only refine a few names. */
                json_object_array_add(calls, r);
        }
        if (unnamed)
                eng_info(n, "seccomp: %zu syscalls from number %d on are newer than libseccomp's table: they get the runtime's answer for unknown syscalls (ENOSYS from runc, else EPERM) instead of zonebox's",
                         unnamed, first_unnamed);
        return 0;
}

/* ---- Docker JSON profile files ---- */

/* A (Docker's "amd64" or libseccomp's "SCMP_ARCH_X86_64") is this machine's arch. */
static bool is_native(const char *a)
{
        return sc_arch_named(a, seccomp_arch_native());
}

static bool any_native(json_object *arr)
{
        for (size_t i = 0; arr && i < json_object_array_length(arr); i++)
                if (is_native(json_object_get_string(json_object_array_get_idx(arr, i))))
                        return true;
        return false;
}

/* As Docker applies an entry to a container without capabilities. */
static bool entry_applies(json_object *e)
{
        json_object *inc, *exc, *v;
        if (json_object_object_get_ex(e, "includes", &inc) && json_object_is_type(inc, json_type_object)) {
                if (json_object_object_get_ex(inc, "caps", &v) && json_object_array_length(v) > 0)
                        return false;
                if (json_object_object_get_ex(inc, "arches", &v) && json_object_array_length(v) > 0 &&
                    !any_native(v))
                        return false;
        }
        if (json_object_object_get_ex(e, "excludes", &exc) && json_object_is_type(exc, json_type_object)) {
                if (json_object_object_get_ex(exc, "arches", &v) && any_native(v))
                        return false;
                if (json_object_object_get_ex(exc, "minKernel", &v) && *json_object_get_string(v))
                        return false;
        }
        return true;
}

static bool str_in(const char *s, char *const *v, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(v[i], s) == 0)
                        return true;
        return false;
}

static int translate_file(const struct zb_policy *p, json_object **out, struct zb_error *err)
{
        const struct pol_security *s = &p->security;
        json_object *root = json_object_from_file(s->seccomp);
        json_object *v;

        if (!root)
                return err_set(err, EINVAL, "layer seccomp: profile %s: cannot read it as JSON",
                                    s->seccomp);
        json_object *o = json_object_new_object();
        static const char *const copy[] = { "defaultAction", "defaultErrnoRet", "flags" };
        for (size_t i = 0; i < ARRAY_SIZE(copy); i++)
                if (json_object_object_get_ex(root, copy[i], &v) && !json_object_is_type(v, json_type_null))
                        json_object_object_add(o, copy[i], json_object_get(v));
        json_object *arches = json_object_new_array();
        if (native_arch_name())
                json_object_array_add(arches, json_object_new_string(native_arch_name()));
        if (json_object_object_get_ex(root, "architectures", &v))
                for (size_t i = 0; i < json_object_array_length(v); i++) {
                        const char *a = json_object_get_string(json_object_array_get_idx(v, i));
                        if (!native_arch_name() || strcmp(a, native_arch_name()) != 0)
                                json_object_array_add(arches, json_object_new_string(a));
                }
        if (json_object_object_get_ex(root, "archMap", &v))
                for (size_t i = 0; i < json_object_array_length(v); i++) {
                        json_object *e = json_object_array_get_idx(v, i), *a, *subs;
                        if (!json_object_object_get_ex(e, "architecture", &a) ||
                            !is_native(json_object_get_string(a)))
                                continue;
                        if (json_object_object_get_ex(e, "subArchitectures", &subs))
                                for (size_t j = 0; j < json_object_array_length(subs); j++)
                                        json_object_array_add(arches,
                                                              json_object_get(json_object_array_get_idx(subs, j)));
                }
        json_object_object_add(o, "architectures", arches);
        json_object *calls = json_object_new_array();
        json_object *in_calls = NULL;
        json_object_object_get_ex(root, "syscalls", &in_calls);
        for (size_t i = 0; in_calls && i < json_object_array_length(in_calls); i++) {
                json_object *e = json_object_array_get_idx(in_calls, i), *names = NULL, *name = NULL;
                if (!json_object_is_type(e, json_type_object) || !entry_applies(e))
                        continue;
                json_object *kept = json_object_new_array();
                json_object_object_get_ex(e, "names", &names);
                json_object_object_get_ex(e, "name", &name);
                for (size_t j = 0; names && j < json_object_array_length(names); j++) {
                        const char *nm = json_object_get_string(json_object_array_get_idx(names, j));
                        if (!str_in(nm, s->seccomp_allow, s->n_seccomp_allow) &&
                            !str_in(nm, s->seccomp_deny, s->n_seccomp_deny))
                                json_object_array_add(kept, json_object_new_string(nm));
                }
                if (name && !str_in(json_object_get_string(name), s->seccomp_allow, s->n_seccomp_allow) &&
                    !str_in(json_object_get_string(name), s->seccomp_deny, s->n_seccomp_deny))
                        json_object_array_add(kept, json_object_new_string(json_object_get_string(name)));
                if (json_object_array_length(kept) == 0) {
                        json_object_put(kept);
                        continue;
                }
                json_object *r = json_object_new_object();
                json_object_object_add(r, "names", kept);
                static const char *const keys[] = { "action", "errnoRet", "args" };
                for (size_t k = 0; k < ARRAY_SIZE(keys); k++)
                        if (json_object_object_get_ex(e, keys[k], &v) && !json_object_is_type(v, json_type_null))
                                json_object_object_add(r, keys[k], json_object_get(v));
                json_object_array_add(calls, r);
        }
        json_object_put(root);
        json_object_object_add(o, "syscalls", calls);
        *out = o;
        return 0;
}

/* The policy's allow and deny lists after the profile's rules (deny wins). */
static void append_lists(const struct pol_security *s, json_object *calls)
{
        json_object *allow = json_object_new_array(), *deny = json_object_new_array();
        for (size_t i = 0; i < s->n_seccomp_allow; i++)
                if (!str_in(s->seccomp_allow[i], s->seccomp_deny, s->n_seccomp_deny))
                        json_object_array_add(allow, json_object_new_string(s->seccomp_allow[i]));
        for (size_t i = 0; i < s->n_seccomp_deny; i++)
                json_object_array_add(deny, json_object_new_string(s->seccomp_deny[i]));
        json_object *lists[2] = { allow, deny };
        for (int i = 0; i < 2; i++) {
                if (json_object_array_length(lists[i]) == 0) {
                        json_object_put(lists[i]);
                        continue;
                }
                json_object *r = json_object_new_object();
                json_object_object_add(r, "names", lists[i]);
                action_to_json(r, i ? ACT_EPERM : SECCOMP_RET_ALLOW);
                json_object_array_add(calls, r);
        }
}

int eng_seccomp_equivalent(const struct sock_fprog *prog, const char *json, int *bad_nr,
                           struct zb_error *err)
{
        struct sock_fprog other = { 0 };
        uint32_t arch = seccomp_arch_native();
        int r = ns_seccomp_build_json(json, strlen(json), &other, err);
        if (r < 0)
                return r;
        int same = 1;
        for (int nr = 0; nr < MAX_NR && same; nr++) {
                char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
                if (!name)
                        continue; /* unnamed: not expressible by name (see the note) */
                free(name);
                for (size_t i = 0; i < N_PROBES; i++) {
                        uint64_t args[6];
                        probe_args(i, args);
                        if (eng_bpf_eval(prog, arch, nr, args) != eng_bpf_eval(&other, arch, nr, args)) {
                                same = 0;
                                *bad_nr = nr;
                                break;
                        }
                }
        }
        ns_seccomp_free(&other);
        return same;
}

int eng_seccomp_oci(const struct zb_policy *p, struct json_object **out, struct eng_notes *n,
                    struct zb_error *err)
{
        const struct pol_security *s = &p->security;
        bool is_default = !s->seccomp || strcmp(s->seccomp, "default") == 0;
        struct ns_seccomp_spec spec = {
                .profile = s->seccomp,
                .allow = (const char *const *)s->seccomp_allow, .n_allow = s->n_seccomp_allow,
                .deny = (const char *const *)s->seccomp_deny, .n_deny = s->n_seccomp_deny,
        };
        struct sock_fprog prog = { 0 };
        json_object *o = NULL;
        int r;

        *out = NULL;
        if (s->seccomp && strcmp(s->seccomp, "unconfined") == 0) {
                eng_skip(n, "seccomp", "seccomp: unconfined: no syscall filter");
                return 0;
        }
        if (!native_arch_name())
                return err_set(err, ENOTSUP, "layer seccomp: this architecture has no OCI name here");
        /* The policy's own filter: also validates the profile and the lists. */
        if ((r = ns_seccomp_build(&spec, &prog, err)) < 0)
                return r;
        if (is_default) {
                o = json_object_new_object();
                json_object_object_add(o, "defaultAction", json_object_new_string(sc_action_name(SCMP_ACT_ERRNO(0))));
                json_object_object_add(o, "defaultErrnoRet", json_object_new_int(EPERM));
                json_object *arches = json_object_new_array();
                json_object_array_add(arches, json_object_new_string(native_arch_name()));
                json_object_object_add(o, "architectures", arches);
                json_object *calls = json_object_new_array();
                json_object_object_add(o, "syscalls", calls);
                r = derive_from_filter(&prog, calls, n, err);
        } else {
                r = translate_file(p, &o, err);
                if (r == 0) {
                        json_object *calls;
                        json_object_object_get_ex(o, "syscalls", &calls);
                        append_lists(s, calls);
                }
        }
        if (r == 0) {
                int bad = -1;
                const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
                r = eng_seccomp_equivalent(&prog, text, &bad, err);
                if (r == 0) {
                        char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, bad);
                        r = err_set(err, EPROTO,
                                         "layer seccomp: the OCI profile would differ from zonebox's filter at syscall '%s'",
                                         name ? name : "?");
                        free(name);
                } else if (r > 0) {
                        r = 0;
                }
        }
        ns_seccomp_free(&prog);
        if (r < 0) {
                json_object_put(o);
                return r;
        }
        eng_info(n, "seccomp: syscalls of other ABIs (e.g. i386 on x86_64) get the runtime's bad-architecture action, not necessarily zonebox's kill");
        eng_apply(n, "seccomp");
        *out = o;
        return 0;
}
