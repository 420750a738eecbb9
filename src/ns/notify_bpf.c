/* The program behind the `filesystem` and `network` violation sources
 * (issue 16; notify_watch.c records what they report): the watched calls,
 * and the filter with its two watch tails. Kept apart from the recording so
 * that the build-time generator (tools/gen-seccomp-default.c) can link it
 * and compile the default profile's watch program in.
 *
 * The program the command installs is the filter itself with its ALLOW
 * and ERRNO(EPERM) returns turned into jumps to two short tails
 * (ns_watch_build): a call the filter allows returns USER_NOTIF if it is
 * watched (the table below; open/openat only with a write flag in the
 * flags argument, so read-only opens never notify), answered CONTINUE; a
 * call it refuses with EPERM returns USER_NOTIF if it is not watched
 * (notify.c, answered EPERM). CONTINUE is therefore only ever the answer
 * where the filter itself says ALLOW, and the supervisor tells the two
 * apart by the same predicate the tails compute (ns_watch_match). One copy
 * of the filter, not two: the kernel's cost to load a filter grows with
 * its length, and that load is on every run's path (bench/README.md). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdlib.h>

#include "notify.h"

#define WRITE_FLAGS (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC)

const struct ns_watch_call ns_watch_calls[NS_N_WATCH] = {
        { "open", "write", 0, -1, 1 },          { "openat", "write", 1, 0, 2 },
        { "creat", "write", 0, -1, -1 },        { "truncate", "write", 0, -1, -1 },
        { "mkdir", "mkdir", 0, -1, -1 },        { "mkdirat", "mkdir", 1, 0, -1 },
        { "unlink", "unlink", 0, -1, -1 },      { "unlinkat", "unlink", 1, 0, -1 },
        { "rmdir", "rmdir", 0, -1, -1 },        { "rename", "rename", 1, -1, -1 },
        { "renameat", "rename", 3, 2, -1 },     { "renameat2", "rename", 3, 2, -1 },
        { "link", "link", 1, -1, -1 },          { "linkat", "link", 3, 2, -1 },
        { "symlink", "symlink", 1, -1, -1 },    { "symlinkat", "symlink", 2, 1, -1 },
        { "mknod", "mknod", 0, -1, -1 },        { "mknodat", "mknod", 1, 0, -1 },
        { "connect", "connect", -1, -1, -1 },
};
_Static_assert(NS_N_WATCH <= NS_WATCH_MAX, "NS_WATCH_MAX: room for every watched call");
#define N_WATCH NS_N_WATCH
#define CONNECT_INDEX NS_WATCH_CONNECT
#define watch_calls ns_watch_calls

#define STMT(c, k) ((struct sock_filter)BPF_STMT((c), (k)))
#define JUMP(c, k, t, f) ((struct sock_filter)BPF_JUMP((c), (k), (t), (f)))

/* The watched calls' numbers on this arch, -1 where absent. */
static void watch_numbers(struct ns_notify *n, bool net)
{
        for (size_t i = 0; i < N_WATCH; i++) {
                int nr = seccomp_syscall_resolve_name(watch_calls[i].name);
                n->watch_nr[i] = nr >= 0 && (net || i != CONNECT_INDEX) ? nr : -1;
        }
}

/* A watched call, or a run of consecutive watched numbers without a
 * flags argument, for the test below. */
struct watch_group {
        uint32_t lo, hi;
        int flags_arg;
};

static int group_cmp(const void *a, const void *b)
{
        uint32_t x = ((const struct watch_group *)a)->lo, y = ((const struct watch_group *)b)->lo;
        return (x > y) - (x < y);
}

/* The watched numbers in ascending order, consecutive ones without a flags
 * argument merged (on x86_64, rename to symlink are 82..88): G, their
 * count returned. */
static size_t watch_groups(const struct ns_notify *n, struct watch_group *g)
{
        size_t ng = 0;
        for (size_t i = 0; i < N_WATCH; i++)
                if (n->watch_nr[i] >= 0)
                        g[ng++] = (struct watch_group){ (uint32_t)n->watch_nr[i], (uint32_t)n->watch_nr[i],
                                                        watch_calls[i].flags_arg };
        qsort(g, ng, sizeof(*g), group_cmp);
        size_t out = 0;
        for (size_t i = 0; i < ng; i++) {
                struct watch_group *last = out ? &g[out - 1] : NULL;
                if (last && last->flags_arg < 0 && g[i].flags_arg < 0 && g[i].lo == last->hi + 1)
                        last->hi = g[i].hi;
                else
                        g[out++] = g[i];
        }
        return out;
}

/* The watch predicate (is D a watched call?) as code: ends in two
 * returns, WATCHED and OTHER. The groups are tested in ascending order, so
 * a number below a group's first is below every later one: OTHER at once.
 * At most 5 + 3 * N_WATCH instructions. */
static size_t watch_tail(const struct ns_notify *n, struct sock_filter *t, uint32_t watched, uint32_t other)
{
        struct watch_group g[N_WATCH];
        size_t ng = watch_groups(n, g), nt = 0;
        /* RET_W and RET_O are fixed up below: 0xfe marks "to WATCHED",
         * 0xff "to OTHER". The filter before has checked the arch
         * already; checked again, so the tail stands on its own. */
        t[nt++] = STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
        t[nt++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, seccomp_arch_native(), 0, 0xff);
        t[nt++] = STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
        for (size_t i = 0; i < ng; i++) {
                /* where a miss goes: the next group, or OTHER after the last */
                uint8_t next = i + 1 < ng ? 0 : 0xff;
                if (g[i].flags_arg >= 0) {
                        t[nt++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, g[i].lo, 0, next ? 0xff : 2);
                        /* the flags' low word: the first on a little-endian machine */
                        t[nt++] = STMT(BPF_LD | BPF_W | BPF_ABS,
                                       (uint32_t)(offsetof(struct seccomp_data, args) + 8 * (size_t)g[i].flags_arg +
                                                  (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__ ? 4 : 0)));
                        t[nt++] = JUMP(BPF_JMP | BPF_JSET | BPF_K, WRITE_FLAGS, 0xfe, 0xff);
                } else if (g[i].lo == g[i].hi) {
                        t[nt++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, g[i].lo, 0xfe, next);
                } else {
                        t[nt++] = JUMP(BPF_JMP | BPF_JGT | BPF_K, g[i].hi, next ? 0xff : 1, 0);
                        t[nt++] = JUMP(BPF_JMP | BPF_JGE | BPF_K, g[i].lo, 0xfe, 0xff);
                }
        }
        size_t ret_o = nt;
        t[nt++] = STMT(BPF_RET | BPF_K, other);
        size_t ret_w = nt;
        t[nt++] = STMT(BPF_RET | BPF_K, watched);
        for (size_t i = 0; i < ret_o; i++) {
                if (BPF_CLASS(t[i].code) != BPF_JMP)
                        continue;
                uint8_t *j[2] = { &t[i].jt, &t[i].jf };
                for (int k = 0; k < 2; k++)
                        if (*j[k] == 0xfe || *j[k] == 0xff)
                                *j[k] = (uint8_t)((*j[k] == 0xfe ? ret_w : ret_o) - (i + 1));
        }
        return nt;
}

/* The program is the plain one with two returns rewritten, and two tails:
 * each "return ALLOW" jumps to a tail that returns USER_NOTIF for a watched
 * call (answered CONTINUE) and ALLOW for the rest; each "return
 * ERRNO(EPERM)" to one that returns ERRNO(EPERM) for a watched call and
 * USER_NOTIF for the rest (answered EPERM). So the filter decides as the
 * plain one does, and a notification's meaning follows from the predicate
 * alone, which the supervisor computes again (ns_watch_match). A return
 * becomes a jump of the same length: no jump of the plain program moves.
 * The kernel's cache of always-allowed calls still holds: the tail reads
 * only arch and nr for an unwatched call. */
int ns_watch_build(struct ns_notify *n, const struct sock_fprog *plain, bool net, struct sock_fprog *out)
{
        const size_t tail_max = 5 + 3 * N_WATCH; /* watch_tail's bound */
        /* The default profile's is compiled in (tools/gen-seccomp-default.c). */
        if (ns_seccomp_default_watch(plain, net, out, n->watch_nr))
                return 0;
        watch_numbers(n, net);
        size_t len = (size_t)plain->len + 2 * tail_max;
        if (len > BPF_MAXINSNS)
                return -E2BIG;
        out->filter = malloc(len * sizeof(*out->filter));
        if (!out->filter)
                return -ENOMEM;
        size_t at = plain->len;
        size_t to_allow = at;
        at += watch_tail(n, out->filter + at, SECCOMP_RET_USER_NOTIF, SECCOMP_RET_ALLOW);
        size_t to_eperm = at;
        at += watch_tail(n, out->filter + at, SECCOMP_RET_ERRNO | EPERM, SECCOMP_RET_USER_NOTIF);
        for (size_t i = 0; i < plain->len; i++) {
                struct sock_filter f = plain->filter[i];
                bool ret = f.code == (BPF_RET | BPF_K);
                if (ret && (f.k == SECCOMP_RET_ALLOW || f.k == (SECCOMP_RET_ERRNO | EPERM)))
                        f = STMT(BPF_JMP | BPF_JA,
                                 (uint32_t)((f.k == SECCOMP_RET_ALLOW ? to_allow : to_eperm) - (i + 1)));
                out->filter[i] = f;
        }
        out->len = (unsigned short)at;
        return 0;
}

int ns_watch_match(const struct ns_notify *n, const struct seccomp_data *d)
{
        if (!n->watching || d->arch != seccomp_arch_native())
                return -1;
        for (size_t i = 0; i < N_WATCH; i++) {
                if (n->watch_nr[i] < 0 || d->nr != n->watch_nr[i])
                        continue;
                int f = watch_calls[i].flags_arg;
                if (f >= 0 && !((uint32_t)d->args[f] & WRITE_FLAGS))
                        return -1;
                return (int)i;
        }
        return -1;
}
