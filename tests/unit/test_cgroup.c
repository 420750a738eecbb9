/* The cgroup layer's pure parts: mountinfo and /proc/self/cgroup for the
 * three host layouts (pure v2, pure v1, hybrid), directory mapping, names,
 * and the keyed files of v1 and v2. */
#include <stdlib.h>

#include "ns/cgroup.h"
#include "test.h"

static const char hybrid_mountinfo[] =
        "22 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
        "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
        "31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
        "32 30 0:29 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
        "34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
        "38 30 0:35 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
        "39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
        "40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

static const char hybrid_self[] =
        "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/abc\n2:cpuacct:/\n1:cpu:/\n0::/\n";

TEST(cgroup_hybrid_layout)
{
        struct cg_layout *l = malloc(sizeof(*l));
        char dir[PATH_MAX];
        cg_layout_init(l);
        CHECK(cg_parse_mountinfo(l, hybrid_mountinfo) == 0);
        CHECK(cg_parse_self(l, hybrid_self) == 0);
        CHECK(l->n_mounts == 5); /* name=systemd has no controller of ours */
        CHECK(l->v2 >= 0 && strcmp(l->mounts[l->v2].dir, "/sys/fs/cgroup/unified") == 0);
        CHECK(l->v1[ZB_CG_MEMORY] >= 0 &&
              strcmp(l->mounts[l->v1[ZB_CG_MEMORY]].dir, "/sys/fs/cgroup/memory") == 0);
        CHECK(l->v1[ZB_CG_CPU] != l->v1[ZB_CG_CPUACCT]);
        CHECK(strcmp(l->v2_self, "/") == 0);
        CHECK(strcmp(l->v1_self[ZB_CG_MEMORY], "/process_api/abc") == 0);
        CHECK(cg_dir(l, l->v1[ZB_CG_MEMORY], l->v1_self[ZB_CG_MEMORY], dir, sizeof(dir)) == 0);
        CHECK(strcmp(dir, "/sys/fs/cgroup/memory/process_api/abc") == 0);
        CHECK(cg_dir(l, l->v2, "/", dir, sizeof(dir)) == 0);
        CHECK(strcmp(dir, "/sys/fs/cgroup/unified") == 0);
        free(l);
}

TEST(cgroup_pure_v2_layout)
{
        static const char mi[] =
                "35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n";
        static const char self[] = "0::/user.slice/user-1000.slice/user@1000.service/app.slice/zb.scope\n";
        struct cg_layout *l = malloc(sizeof(*l));
        char dir[PATH_MAX];
        cg_layout_init(l);
        cg_parse_mountinfo(l, mi);
        cg_parse_self(l, self);
        CHECK(l->v2 == 0);
        for (int c = 0; c < ZB_CG_N; c++)
                CHECK(l->v1[c] == -1);
        CHECK(cg_dir(l, l->v2, l->v2_self, dir, sizeof(dir)) == 0);
        CHECK(strcmp(dir, "/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/app.slice/zb.scope") == 0);
        free(l);
}

TEST(cgroup_pure_v1_comounted)
{
        static const char mi[] =
                "25 20 0:22 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
                "26 20 0:23 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n";
        struct cg_layout *l = malloc(sizeof(*l));
        cg_layout_init(l);
        cg_parse_mountinfo(l, mi);
        cg_parse_self(l, "3:cpu,cpuacct:/a\n2:memory:/b\n");
        CHECK(l->v2 == -1);
        CHECK(l->v1[ZB_CG_CPU] == l->v1[ZB_CG_CPUACCT]);
        CHECK(l->v1[ZB_CG_PIDS] == -1);
        CHECK(strcmp(l->v1_self[ZB_CG_CPU], "/a") == 0 && strcmp(l->v1_self[ZB_CG_CPUACCT], "/a") == 0);
        CHECK(strcmp(l->v1_self[ZB_CG_MEMORY], "/b") == 0);
        free(l);
}

TEST(cgroup_container_root_and_escapes)
{
        /* Inside a container the mount shows a subtree as its root; mount
         * points are octal-escaped. */
        static const char mi[] =
                "40 30 0:37 /docker/123 /sys/fs/cgroup/my\\040dir rw - cgroup2 cgroup2 rw\n";
        struct cg_layout *l = malloc(sizeof(*l));
        char dir[PATH_MAX];
        cg_layout_init(l);
        cg_parse_mountinfo(l, mi);
        CHECK(strcmp(l->mounts[0].dir, "/sys/fs/cgroup/my dir") == 0);
        CHECK(cg_dir(l, 0, "/docker/123/x", dir, sizeof(dir)) == 0);
        CHECK(strcmp(dir, "/sys/fs/cgroup/my dir/x") == 0);
        CHECK(cg_dir(l, 0, "/docker/123", dir, sizeof(dir)) == 0);
        CHECK(strcmp(dir, "/sys/fs/cgroup/my dir") == 0);
        CHECK(cg_dir(l, 0, "/docker/1234", dir, sizeof(dir)) == -1); /* not under the root */
        CHECK(cg_dir(l, 0, "/other", dir, sizeof(dir)) == -1);
        CHECK(cg_dir(l, 3, "/", dir, sizeof(dir)) == -1);
        free(l);
}

TEST(cgroup_garbage_input)
{
        struct cg_layout *l = malloc(sizeof(*l));
        cg_layout_init(l);
        CHECK(cg_parse_mountinfo(l, "") == 0);
        CHECK(cg_parse_mountinfo(l, "- - - -\n\n1 2 3\nx y z w v u - cgroup\n") == 0);
        CHECK(cg_parse_self(l, "::\n0:\nfoo\n") == 0);
        CHECK(l->n_mounts == 0 && l->v2 == -1);
        free(l);
}

TEST(cgroup_names)
{
        pid_t pid;
        unsigned long long start;
        CHECK(cg_name_parse("zonebox-123-456789-0", &pid, &start));
        CHECK(pid == 123 && start == 456789);
        CHECK(!cg_name_parse("zonebox-supervisor", &pid, &start));
        CHECK(!cg_name_parse("zonebox-123-456", &pid, &start));
        CHECK(!cg_name_parse("zonebox-123-456-7x", &pid, &start));
        CHECK(!cg_name_parse("zonebox-0-1-2", &pid, &start));
        CHECK(!cg_name_parse("zonebox-99999999999-1-2", &pid, &start));
        CHECK(!cg_name_parse("other-1-2-3", &pid, &start));
}

TEST(cgroup_keyed_files)
{
        uint64_t v = 0;
        /* v2 cpu.stat */
        const char *cpu = "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 0\n";
        CHECK(cg_keyed(cpu, "usage_usec", &v) == 0 && v == 1500);
        CHECK(cg_keyed(cpu, "system_usec", &v) == 0 && v == 500);
        CHECK(cg_keyed(cpu, "user", &v) == -1); /* a prefix is not a key */
        /* v2 memory.events, v1 memory.oom_control */
        CHECK(cg_keyed("low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\n", "oom_kill", &v) == 0 && v == 1);
        CHECK(cg_keyed("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n", "oom_kill", &v) == 0 && v == 3);
        CHECK(cg_keyed("oom_kill x\n", "oom_kill", &v) == -1);
        CHECK(cg_keyed("", "oom_kill", &v) == -1);
}

TEST(cgroup_controller_lists)
{
        CHECK(cg_has_word("cpuset cpu io memory pids\n", "cpu"));
        CHECK(cg_has_word("cpuset cpu io memory pids\n", "pids"));
        CHECK(!cg_has_word("cpuset io memory\n", "cpu"));
        CHECK(cg_has_word("rw,cpu,cpuacct", "cpuacct"));
        CHECK(!cg_has_word("", "memory"));
}
