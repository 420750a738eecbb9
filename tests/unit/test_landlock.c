/* Landlock layer (src/ns/landlock.c): in a forked child that prepares a
 * ruleset and enforces it after no_new_privs (as the command process does),
 * only the named paths are reachable, with the rights their class grants;
 * with ABI 6, abstract unix sockets and signals outside the domain are out
 * of reach too. Each denial is checked to have worked before enforcement,
 * so it is the layer that refuses. Skipped where the kernel has no
 * Landlock; the scope checks are their own test, skipped below ABI 6. A
 * failed ABI query (here: EPERM from a seccomp filter) is -errno, never
 * "no Landlock". */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/util.h"
#include "ns/landlock.h"
#include "probe.h"
#include "test.h"

static bool skip_without_landlock(const char *test)
{
        if (ns_landlock_abi() > 0)
                return false;
        (void)test;
        test_skip("this kernel has no Landlock (ENOSYS/EOPNOTSUPP)");
        return true;
}

/* Fork and run probe in the child; passes when it exits 0. */
static bool run_child(int (*probe)(void), const char *what)
{
        return probe_in_child(NULL, NULL, probe, 0, "test_landlock.c", what);
}

/* Set up by the parent for the child. */
static char dir_a[64], dir_b[64];
static struct sockaddr_un abstract_addr;
static socklen_t abstract_len;

static int open_at(const char *dir, const char *name, int flags)
{
        char path[128];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        return open(path, flags | O_CLOEXEC, 0600);
}

static int connect_abstract(void)
{
        int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (s < 0)
                return -1;
        int r = connect(s, (struct sockaddr *)&abstract_addr, abstract_len);
        int e = errno;
        close(s);
        errno = e;
        return r;
}

static int enforce_rules(const struct ns_ll_path *rules, size_t n)
{
        char msg[256];
        int fd = ns_landlock_prepare(rules, n, msg, sizeof(msg));
        if (fd < 0) {
                errno = -fd;
                FAIL_AT(fd);
        }
        EXPECT_OK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
        int r = ns_landlock_enforce(fd);
        if (r < 0) {
                errno = -r;
                FAIL_AT(r);
        }
        return 0;
}

static int probe_paths(void)
{
        const struct ns_ll_path rules[] = {
                { dir_a, ZB_LL_READ_WRITE, false },
                { "/usr", ZB_LL_READ_EXEC, false },
                { "/dev/null", ZB_LL_DEVICE_RW, false }, /* a file: only file rights apply */
                { "/nonexistent/zonebox-test", ZB_LL_READ_EXEC, true },
        };
        char buf[16];
        int fd;

        /* Controls: all of this works before enforcement. */
        EXPECT_OK(fd = open("/etc/hostname", O_RDONLY | O_CLOEXEC));
        close(fd);
        EXPECT_OK(fd = open_at(dir_b, "control", O_CREAT | O_WRONLY));
        close(fd);
        EXPECT_OK(fd = open("/dev/zero", O_RDONLY | O_CLOEXEC));
        close(fd);
        if (enforce_rules(rules, ARRAY_SIZE(rules)))
                return 1;

        /* A: read-write, including create, truncate, mkdir, rename, delete. */
        EXPECT_OK(fd = open_at(dir_a, "f", O_CREAT | O_WRONLY | O_TRUNC));
        EXPECT_OK(write(fd, "hello", 5));
        close(fd);
        EXPECT_OK(fd = open_at(dir_a, "f", O_RDONLY));
        EXPECT_OK(read(fd, buf, sizeof(buf)));
        close(fd);
        char sub[128], from[128], to[128];
        snprintf(sub, sizeof(sub), "%s/sub", dir_a);
        snprintf(from, sizeof(from), "%s/f", dir_a);
        snprintf(to, sizeof(to), "%s/sub/g", dir_a);
        EXPECT_OK(mkdir(sub, 0700));
        EXPECT_OK(rename(from, to));
        EXPECT_OK(unlink(to));
        EXPECT_OK(rmdir(sub));
        /* B, a sibling of A: nothing. */
        EXPECT_ERR(open_at(dir_b, "f", O_CREAT | O_WRONLY), EACCES);
        EXPECT_ERR(open_at(dir_b, "control", O_RDONLY), EACCES);
        /* /etc: not named. */
        EXPECT_ERR(open("/etc/hostname", O_RDONLY | O_CLOEXEC), EACCES);
        /* /usr: read and execute, not write. */
        EXPECT_OK(fd = open("/usr/bin/true", O_RDONLY | O_CLOEXEC));
        close(fd);
        EXPECT_OK(fd = open("/usr/bin", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        close(fd);
        /* (A file nothing executes: opening a running binary for writing
         * fails ETXTBSY before Landlock is asked.) */
        EXPECT_ERR(open("/usr/lib/os-release", O_WRONLY | O_CLOEXEC), EACCES);
        /* Devices: /dev/null read-write with truncate, /dev/zero not named. */
        EXPECT_OK(fd = open("/dev/null", O_WRONLY | O_TRUNC | O_CLOEXEC));
        close(fd);
        EXPECT_ERR(open("/dev/zero", O_RDONLY | O_CLOEXEC), EACCES);

        return 0;
}

/* Scopes: the parent's abstract socket and the parent itself are outside
 * the domain of any ruleset (ABI 6), whatever the paths allow. */
static int probe_scopes(void)
{
        const struct ns_ll_path rules[] = { { "/", ZB_LL_READ_WRITE, false } };

        EXPECT_OK(connect_abstract()); /* controls */
        EXPECT_OK(kill(getppid(), 0));
        if (enforce_rules(rules, ARRAY_SIZE(rules)))
                return 1;
        EXPECT_ERR(connect_abstract(), EPERM);
        EXPECT_ERR(kill(getppid(), 0), EPERM);
        EXPECT_ERR(kill(getppid(), SIGCONT), EPERM);
        EXPECT_OK(kill(getpid(), 0));
        return 0;
}

/* A seccomp filter that makes landlock_create_ruleset fail with the errno
 * in *arg, as another sandbox around zonebox might. */
static int deny_landlock_query(const void *arg)
{
        int e = *(const int *)arg;
        scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
        if (!ctx)
                return -ENOMEM;
        int r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO((uint32_t)e), SCMP_SYS(landlock_create_ruleset), 0);
        if (r == 0)
                r = prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ? -errno : 0;
        if (r == 0)
                r = seccomp_load(ctx);
        seccomp_release(ctx);
        return r;
}

static int probe_abi_eperm(void)
{
        char msg[128];
        const struct ns_ll_path rules[] = { { "/", ZB_LL_READ_EXEC, false } };

        if (ns_landlock_abi() != -EPERM)
                FAIL_AT(ns_landlock_abi());
        int fd = ns_landlock_prepare(rules, 1, msg, sizeof(msg));
        if (fd != -EPERM || !strstr(msg, "layer landlock: query the ABI"))
                FAIL_AT(fd);
        return 0;
}

static int probe_abi_enosys(void)
{
        if (ns_landlock_abi() != 0)
                FAIL_AT(ns_landlock_abi());
        return 0;
}

TEST(landlock_abi_reported)
{
        int abi = ns_landlock_abi();
        CHECK(abi >= 0);
        if (abi == 0)
                test_skip("this kernel has no Landlock");
}

/* EPERM from a filter is an error the caller sees (-EPERM), not "no
 * Landlock"; ENOSYS is "no Landlock" (0). */
TEST(landlock_abi_query_errors_are_not_absence)
{
        static const int eperm = EPERM, enosys = ENOSYS;
        CHECK(probe_in_child(deny_landlock_query, &eperm, probe_abi_eperm, 0, "test_landlock.c",
                             "ABI query under an EPERM filter"));
        CHECK(probe_in_child(deny_landlock_query, &enosys, probe_abi_enosys, 0, "test_landlock.c",
                             "ABI query under an ENOSYS filter"));
}

TEST(landlock_restricts_to_named_paths)
{
        if (skip_without_landlock("landlock_restricts_to_named_paths"))
                return;
        snprintf(dir_a, sizeof(dir_a), "/tmp/zb-landlock-a-XXXXXX");
        snprintf(dir_b, sizeof(dir_b), "/tmp/zb-landlock-b-XXXXXX");
        CHECK(mkdtemp(dir_a) != NULL);
        CHECK(mkdtemp(dir_b) != NULL);

        CHECK(run_child(probe_paths, "landlock paths"));
        /* Also what a failed run may have left where it should not. */
        static const char *const left[] = { "control", "f", "sub/g", "sub" };
        char path[128];
        for (size_t i = 0; i < ARRAY_SIZE(left); i++)
                for (int d = 0; d < 2; d++) {
                        snprintf(path, sizeof(path), "%s/%s", d ? dir_b : dir_a, left[i]);
                        if (unlink(path) < 0)
                                rmdir(path);
                }
        CHECK(rmdir(dir_a) == 0);
        CHECK(rmdir(dir_b) == 0);
}

TEST(landlock_scopes_socket_and_signal)
{
        if (skip_without_landlock("landlock_scopes_socket_and_signal"))
                return;
        if (ns_landlock_abi() < 6) {
                test_skip("Landlock ABI < 6: no abstract-socket or signal scoping in this kernel");
                return;
        }
        /* An abstract unix socket bound by the parent (outside any domain). */
        int srv = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        CHECK(srv >= 0);
        abstract_addr = (struct sockaddr_un){ .sun_family = AF_UNIX };
        int len = snprintf(abstract_addr.sun_path + 1, sizeof(abstract_addr.sun_path) - 1,
                           "zonebox-landlock-test-%d", (int)getpid());
        abstract_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)len);
        CHECK(bind(srv, (struct sockaddr *)&abstract_addr, abstract_len) == 0);
        CHECK(listen(srv, 8) == 0);
        CHECK(run_child(probe_scopes, "landlock scopes"));
        close(srv);
}

/* Preparing does not restrict the caller, so these run in the parent. */
TEST(landlock_prepare_errors_name_the_path)
{
        if (skip_without_landlock("landlock_prepare_errors_name_the_path"))
                return;
        char msg[256];
        const struct ns_ll_path missing[] = {
                { "/usr", ZB_LL_READ_EXEC, false },
                { "/nonexistent/zonebox-zone", ZB_LL_READ_WRITE, false },
        };
        CHECK(ns_landlock_prepare(missing, ARRAY_SIZE(missing), msg, sizeof(msg)) == -ENOENT);
        CHECK_STR_CONTAINS(msg, "layer landlock: open /nonexistent/zonebox-zone");

        const struct ns_ll_path no_path[] = { { NULL, ZB_LL_READ_EXEC, false } };
        CHECK(ns_landlock_prepare(no_path, 1, msg, sizeof(msg)) == -EINVAL);
        CHECK_STR_CONTAINS(msg, "layer landlock");

        /* Every class on a directory and on a file is a valid rule. */
        const struct ns_ll_path all[] = {
                { "/usr", ZB_LL_READ_EXEC, false },    { "/tmp", ZB_LL_READ_WRITE, false },
                { "/dev", ZB_LL_DEVICE_RW, false },    { "/usr/bin/true", ZB_LL_READ_EXEC, false },
                { "/etc/hostname", ZB_LL_READ_WRITE, false }, { "/dev/null", ZB_LL_DEVICE_RW, false },
                { "/bin", ZB_LL_READ_EXEC, true }, /* a symlink on merged-/usr: followed */
        };
        int fd = ns_landlock_prepare(all, ARRAY_SIZE(all), msg, sizeof(msg));
        if (fd < 0)
                fprintf(stderr, "  prepare: %d %s\n", fd, msg);
        CHECK(fd >= 0);
        if (fd >= 0) {
                CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
                close(fd);
        }
        CHECK(ns_landlock_enforce(-1) == -EBADF);
}
