/* The engine translators (src/engines/): the docker run argv, the OCI
 * config.json, the seccomp profile in OCI form and the Kubernetes manifest,
 * built from policies and checked field by field, plus golden lines. */
#define _GNU_SOURCE
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "core/keys.h"
#include "core/policy.h"
#include "engines/engine.h"
#include "ns/seccomp.h"
#include "test.h"

static struct zb_policy *policy(const char *const *flags)
{
        struct zb_policy *p = zb_policy_new();
        struct zb_error err = { 0 };
        for (size_t i = 0; flags && flags[i]; i += 2) {
                int r = zb_policy_apply_flag(p, flags[i], flags[i + 1], &err);
                if (r < 0)
                        fprintf(stderr, "  flag %s: %s\n", flags[i], err.message);
                CHECK(r == 0);
        }
        return p;
}

static void set_cmd(struct zb_policy *p, const char *a, const char *b)
{
        struct zb_error err = { 0 };
        char *argv[] = { (char *)a, (char *)b, NULL };
        CHECK(zb_policy_set_command(p, b ? 2 : 1, argv, &err) == 0);
}

static char *docker_line(struct zb_policy *p, bool podman, struct eng_notes *n)
{
        struct eng_argv a = { 0 };
        struct zb_error err = { 0 };
        struct eng_docker_opts o = { .cli = podman ? "podman" : "docker", .podman = podman };
        int r = eng_docker_argv(p, &o, &a, n, &err);
        if (r < 0)
                fprintf(stderr, "  %s\n", err.message);
        CHECK(r == 0);
        char *line = r == 0 ? eng_shell_join(a.v) : NULL;
        eng_argv_free(&a);
        return line;
}

static bool has(const char *const *v, size_t n, const char *s)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(v[i], s) == 0)
                        return true;
        return false;
}

TEST(engines_docker_default_golden)
{
        struct zb_policy *p = policy(NULL);
        struct eng_notes n = { 0 };
        char *line = docker_line(p, false, &n);
        static const char golden[] =
                             "docker run -i --rm --init --network none --ipc private --cgroupns private "
                             "--hostname zonebox --user 1000:1000 --read-only --cap-drop ALL "
                             "--security-opt no-new-privileges --memory 512m --memory-swap 512m "
                             "--pids-limit 256 --ulimit nofile=1024:1024 --ulimit core=0:0 "
                             "--ulimit fsize=1073741824:1073741824 "
                             "--tmpfs /tmp:rw,exec,nosuid,nodev,size=64m,mode=1777 "
                             "--tmpfs /home/sandbox:rw,exec,nosuid,nodev,size=64m,mode=1777 "
                             "-e PATH=/usr/local/bin:/usr/bin:/bin -e HOME=/home/sandbox -e LANG=C.UTF-8 IMAGE";
        if (!line || strcmp(line, golden) != 0)
                fprintf(stderr, "  got: %s\n", line ? line : "(null)");
        CHECK(line && strcmp(line, golden) == 0);
        CHECK(has(n.skipped, n.n_skipped, "landlock"));
        CHECK(has(n.skipped, n.n_skipped, "user"));
        CHECK(has(n.applied, n.n_applied, "net") && has(n.applied, n.n_applied, "capabilities") &&
              has(n.applied, n.n_applied, "rootfs_readonly") && has(n.applied, n.n_applied, "no_new_privileges"));
        /* strict: the first warning becomes the error. */
        struct zb_error err = { 0 };
        p->engine.strict = true;
        CHECK(eng_notes_check(&n, p, "docker", &err) == -ENOTSUP);
        CHECK_STR_CONTAINS(err.message, "strict: the docker backend cannot express landlock");
        free(line);
        eng_notes_free(&n);
        /* zonebox run's own start: Landlock's default (best effort) is a
         * skipped layer and a note, not a warning on every run; under
         * strict it stays a warning. */
        p->engine.strict = false;
        n.run = true;
        line = docker_line(p, true, &n);
        CHECK(has(n.skipped, n.n_skipped, "landlock"));
        CHECK(n.n_info > 0 && strstr(n.info[0], "landlock: best effort"));
        CHECK(n.n_warn == 0 || !strstr(n.warn[0], "landlock")); /* it would be the first */
        free(line);
        eng_notes_free(&n);
        p->engine.strict = true;
        n.run = true;
        line = docker_line(p, true, &n);
        CHECK(n.n_warn > 0 && strstr(n.warn[0], "landlock"));
        free(line);
        eng_notes_free(&n);
        zb_policy_free(p);
}

TEST(engines_docker_flags)
{
        static const char *const flags[] = {
                "--image", "python:3.11-slim", "--memory", "100m", "--memory-swap", "300m", "--cpus", "1.25",
                "--pids-limit", "64", "--tmpfs", "/scratch:size=1g", "-e", "X=a b", "-w", "/scratch",
                "--network", "host", "--user", "0:5", "--runtime", "gvisor", "--ulimit", "fsize=1m",
                "--cpu-time", "2500ms", "--security-opt", "seccomp=unconfined", "--landlock", "false", NULL,
        };
        struct zb_policy *p = policy(flags);
        struct eng_notes n = { 0 };
        set_cmd(p, "python3", "-V");
        char *line = docker_line(p, false, &n);
        static const char *const want[] = {
                "--network host", "--user 0:5", "--memory 100m", "--memory-swap 300m", "--cpus 1.25",
                "--pids-limit 64", "--ulimit fsize=1048576:1048576", "--ulimit cpu=3:4",
                "--security-opt seccomp=unconfined", "--runtime runsc",
                "--tmpfs /scratch:rw,exec,nosuid,nodev,size=1g,mode=1777",
                "-e 'X=a b'", "-w /scratch", "-e HOME=/home/sandbox", "python:3.11-slim python3 -V",
        };
        for (size_t i = 0; i < ARRAY_SIZE(want); i++)
                CHECK_STR_CONTAINS(line, want[i]);
        CHECK(has(n.skipped, n.n_skipped, "net") && has(n.skipped, n.n_skipped, "seccomp"));
        CHECK(!has(n.skipped, n.n_skipped, "landlock"));
        free(line);
        eng_notes_free(&n);
        zb_policy_free(p);
}

TEST(engines_podman_zones_and_maps)
{
        char dir[] = "/tmp/zb-unit-engXXXXXX";
        CHECK(mkdtemp(dir) != NULL);
        char vol[128];
        snprintf(vol, sizeof(vol), "%s:/input:ro", dir);
        const char *flags[] = { "-v", vol, "--rootfs", dir, NULL };
        struct zb_policy *p = policy(flags);
        struct eng_notes n = { 0 };
        set_cmd(p, "true", NULL);
        char *line = docker_line(p, true, &n);
        char want[256];
        snprintf(want, sizeof(want), "-v %s:/input:ro,nosuid,nodev", dir);
        CHECK_STR_CONTAINS(line, want);
        snprintf(want, sizeof(want), "--rootfs %s true", dir);
        CHECK_STR_CONTAINS(line, want);
        CHECK_STR_CONTAINS(line, "--read-only --read-only-tmpfs=false");
        if (geteuid() == 0) {
                CHECK_STR_CONTAINS(line, "--uidmap 1000:65534:1 --uidmap 0:65533:1");
                CHECK(has(n.applied, n.n_applied, "user"));
        }
        /* Paths docker's mount syntax cannot carry are refused, naming the zone. */
        struct zb_policy *q = policy(NULL);
        struct pol_zone z = { .name = "bad", .mode = ZB_ZONE_RO, .host_path = "/tmp/a,b", .path = "/bad" };
        struct zb_error err = { 0 };
        CHECK(pol_add_zone(q, &z, &err) == 0);
        struct eng_argv a = { 0 };
        struct eng_notes n2 = { 0 };
        struct eng_docker_opts o = { .cli = "docker" };
        CHECK(eng_docker_argv(q, &o, &a, &n2, &err) == -EINVAL);
        CHECK_STR_CONTAINS(err.message, "zone 'bad'");
        eng_argv_free(&a);
        eng_notes_free(&n2);
        zb_policy_free(q);
        free(line);
        eng_notes_free(&n);
        zb_policy_free(p);
        rmdir(dir);
}

static json_object *get(json_object *o, const char *path)
{
        char buf[256];
        snprintf(buf, sizeof(buf), "%s", path);
        for (char *k = strtok(buf, "."); k && o; k = strtok(NULL, ".")) {
                json_object *next = NULL;
                if (json_object_is_type(o, json_type_array))
                        next = json_object_array_get_idx(o, (size_t)atoi(k));
                else
                        json_object_object_get_ex(o, k, &next);
                o = next;
        }
        return o;
}

static bool array_has_string(json_object *a, const char *s)
{
        for (size_t i = 0; a && i < json_object_array_length(a); i++)
                if (strcmp(json_object_get_string(json_object_array_get_idx(a, i)), s) == 0)
                        return true;
        return false;
}

TEST(engines_oci_config)
{
        static const char *const flags[] = { "--memory", "64m", "--cpus", "0.5", "--pids-limit", "32",
                                             "--tmpfs", "/scratch:size=8m", "--hostname", "box", NULL };
        struct zb_policy *p = policy(flags);
        struct eng_notes n = { 0 };
        struct zb_error err = { 0 };
        struct eng_rootfs fs = { 0 };
        struct eng_oci_opts o = { .invoker_is_root = true, .fs = &fs, .cgroups_path = "zonebox-x" };
        json_object *cfg = NULL;

        CHECK(eng_oci_config(p, &o, &cfg, &n, &err) == -EINVAL); /* no command */
        CHECK_STR_CONTAINS(err.message, "command");
        set_cmd(p, "sh", NULL);
        CHECK(eng_rootfs_binds(p, &fs, &err) == 0);
        CHECK(fs.n_binds >= 1 && strcmp(fs.binds[0].dst, "/usr") == 0);
        CHECK(eng_oci_config(p, &o, &cfg, &n, &err) == 0);
        CHECK(json_object_get_boolean(get(cfg, "root.readonly")));
        CHECK(json_object_get_boolean(get(cfg, "process.noNewPrivileges")));
        CHECK(json_object_get_int(get(cfg, "process.user.uid")) == 1000);
        static const char *const sets[] = { "bounding", "effective", "inheritable", "permitted", "ambient" };
        for (size_t i = 0; i < ARRAY_SIZE(sets); i++) {
                char k[64];
                snprintf(k, sizeof(k), "process.capabilities.%s", sets[i]);
                CHECK(get(cfg, k) && json_object_array_length(get(cfg, k)) == 0);
        }
        CHECK(strcmp(json_object_get_string(get(cfg, "hostname")), "box") == 0);
        CHECK(json_object_get_int64(get(cfg, "linux.resources.memory.limit")) == 64 << 20);
        CHECK(json_object_get_int64(get(cfg, "linux.resources.memory.swap")) == 64 << 20);
        CHECK(json_object_get_int64(get(cfg, "linux.resources.cpu.quota")) == 50000);
        CHECK(json_object_get_int64(get(cfg, "linux.resources.pids.limit")) == 32);
        CHECK(strcmp(json_object_get_string(get(cfg, "linux.cgroupsPath")), "zonebox-x") == 0);
        CHECK(json_object_get_int(get(cfg, "linux.uidMappings.0.hostID")) == 65534);
        CHECK(json_object_get_int(get(cfg, "linux.uidMappings.0.containerID")) == 1000);
        CHECK(json_object_get_int(get(cfg, "linux.uidMappings.1.hostID")) == 65533);
        CHECK(json_object_get_int(get(cfg, "linux.uidMappings.1.containerID")) == 0);
        CHECK(array_has_string(get(cfg, "linux.maskedPaths"), "/proc/kcore"));
        CHECK(array_has_string(get(cfg, "linux.readonlyPaths"), "/proc/sys"));
        json_object *ns = get(cfg, "linux.namespaces");
        CHECK(ns && json_object_array_length(ns) == 7);
        CHECK(strcmp(json_object_get_string(get(cfg, "linux.seccomp.defaultAction")), "SCMP_ACT_ERRNO") == 0);
        json_object *mounts = get(cfg, "mounts");
        bool scratch = false, sys = false;
        for (size_t i = 0; mounts && i < json_object_array_length(mounts); i++) {
                json_object *m = json_object_array_get_idx(mounts, i);
                const char *dst = json_object_get_string(get(m, "destination"));
                sys |= strcmp(dst, "/sys") == 0;
                if (strcmp(dst, "/scratch") == 0)
                        scratch = array_has_string(get(m, "options"), "size=8388608") &&
                                  array_has_string(get(m, "options"), "nosuid") &&
                                  array_has_string(get(m, "options"), "mode=1777");
        }
        CHECK(scratch && !sys);
        CHECK(has(n.skipped, n.n_skipped, "landlock") && has(n.applied, n.n_applied, "user"));
        json_object_put(cfg);
        eng_rootfs_free(&fs);
        eng_notes_free(&n);
        zb_policy_free(p);
}

/* The OCI profile, compiled back, answers like zonebox's own filter. */
static uint32_t eval(const struct sock_fprog *f, const char *name, uint64_t a0, uint64_t a1, uint64_t a2)
{
        uint64_t args[6] = { a0, a1, a2, 0, 0, 0 };
        return eng_bpf_eval(f, seccomp_arch_native(), seccomp_syscall_resolve_name(name), args);
}

TEST(engines_seccomp_default_profile)
{
        static const char *const flags[] = { "--seccomp-allow", "ptrace", "--seccomp-deny", "uname", NULL };
        for (int with_lists = 0; with_lists < 2; with_lists++) {
                struct zb_policy *p = policy(with_lists ? flags : NULL);
                struct eng_notes n = { 0 };
                struct zb_error err = { 0 };
                json_object *sc = NULL;
                int r = eng_seccomp_oci(p, &sc, &n, &err);
                if (r < 0)
                        fprintf(stderr, "  %s\n", err.message);
                CHECK(r == 0 && sc);
                const char *text = json_object_to_json_string(sc);
                struct sock_fprog f = { 0 };
                CHECK(ns_seccomp_build_json(text, strlen(text), &f, &err) == 0);
                uint32_t eperm = SECCOMP_RET_ERRNO | EPERM;
                CHECK(eval(&f, "read", 0, 0, 0) == SECCOMP_RET_ALLOW);
                CHECK(eval(&f, "mount", 0, 0, 0) == eperm);
                CHECK(eval(&f, "clone", CLONE_NEWUSER, 0, 0) == eperm);
                CHECK(eval(&f, "clone", 0x11, 0, 0) == SECCOMP_RET_ALLOW);
                CHECK(eval(&f, "clone3", 0, 0, 0) == (SECCOMP_RET_ERRNO | ENOSYS));
                CHECK(eval(&f, "ioctl", 0, TIOCSTI, 0) == eperm);
                CHECK(eval(&f, "ioctl", 0, 0xffffffff00000000ull | TIOCSTI, 0) == eperm);
                CHECK(eval(&f, "ioctl", 0, TIOCGWINSZ, 0) == SECCOMP_RET_ALLOW);
                CHECK(eval(&f, "socket", AF_INET, SOCK_STREAM, 0) == SECCOMP_RET_ALLOW);
                CHECK(eval(&f, "socket", AF_PACKET, SOCK_RAW, 0) == (SECCOMP_RET_ERRNO | EAFNOSUPPORT));
                CHECK(eval(&f, "socket", AF_NETLINK, SOCK_RAW, 9) == (SECCOMP_RET_ERRNO | EPROTONOSUPPORT));
                CHECK(eval(&f, "personality", 0x0008, 0, 0) == SECCOMP_RET_ALLOW);
                CHECK(eval(&f, "personality", 0x0040000, 0, 0) == eperm);
                CHECK(eval(&f, "ptrace", 0, 0, 0) == (with_lists ? SECCOMP_RET_ALLOW : eperm));
                CHECK(eval(&f, "uname", 0, 0, 0) == (with_lists ? eperm : SECCOMP_RET_ALLOW));
                CHECK(has(n.applied, n.n_applied, "seccomp"));
                ns_seccomp_free(&f);
                json_object_put(sc);
                eng_notes_free(&n);
                zb_policy_free(p);
        }
}

TEST(engines_seccomp_docker_profile_file)
{
        char path[] = "/tmp/zb-unit-profXXXXXX";
        int fd = mkstemp(path);
        CHECK(fd >= 0);
        static const char prof[] =
                "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"archMap\":[{\"architecture\":\"SCMP_ARCH_X86_64\","
                "\"subArchitectures\":[\"SCMP_ARCH_X86\"]}],\"syscalls\":["
                "{\"names\":[\"read\",\"write\",\"exit_group\",\"getpid\"],\"action\":\"SCMP_ACT_ALLOW\"},"
                "{\"names\":[\"mount\"],\"action\":\"SCMP_ACT_ALLOW\",\"includes\":{\"caps\":[\"CAP_SYS_ADMIN\"]}},"
                "{\"names\":[\"chroot\"],\"action\":\"SCMP_ACT_ALLOW\",\"comment\":\"x\"}]}";
        CHECK(write(fd, prof, sizeof(prof) - 1) == (ssize_t)(sizeof(prof) - 1));
        close(fd);
        const char *flags[] = { "--seccomp", path, "--seccomp-deny", "getpid", NULL };
        struct zb_policy *p = policy(flags);
        struct eng_notes n = { 0 };
        struct zb_error err = { 0 };
        json_object *sc = NULL;
        int r = eng_seccomp_oci(p, &sc, &n, &err);
        if (r < 0)
                fprintf(stderr, "  %s\n", err.message);
        CHECK(r == 0);
        const char *text = sc ? json_object_to_json_string(sc) : "";
        /* Docker-only keys are resolved, not passed on to a runtime that would ignore them. */
        CHECK(!strstr(text, "includes") && !strstr(text, "archMap") && !strstr(text, "comment"));
        CHECK(!strstr(text, "\"mount\"") && strstr(text, "\"chroot\""));
        CHECK_STR_CONTAINS(text, "SCMP_ARCH_X86\"");
        struct sock_fprog f = { 0 };
        CHECK(ns_seccomp_build_json(text, strlen(text), &f, &err) == 0);
        CHECK(eval(&f, "getpid", 0, 0, 0) == (SECCOMP_RET_ERRNO | EPERM));
        CHECK(eval(&f, "read", 0, 0, 0) == SECCOMP_RET_ALLOW);
        ns_seccomp_free(&f);
        json_object_put(sc);
        eng_notes_free(&n);
        zb_policy_free(p);
        unlink(path);
}

TEST(engines_bpf_eval_matches_kernel_semantics)
{
        /* A hand-written program: allow getpid, EPERM otherwise; wrong arch kills. */
        struct sock_filter insns[] = {
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 4),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, seccomp_arch_native(), 1, 0),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getpid, 0, 1),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        };
        struct sock_fprog f = { .len = ARRAY_SIZE(insns), .filter = insns };
        uint64_t args[6] = { 0 };
        CHECK(eng_bpf_eval(&f, seccomp_arch_native(), SYS_getpid, args) == SECCOMP_RET_ALLOW);
        CHECK(eng_bpf_eval(&f, seccomp_arch_native(), SYS_read, args) == (SECCOMP_RET_ERRNO | EPERM));
        CHECK(eng_bpf_eval(&f, 0x40000003, SYS_getpid, args) == SECCOMP_RET_KILL_PROCESS);
}

TEST(engines_k8s_manifest)
{
        static const char *const flags[] = { "--image", "busybox", "--memory", "100m", "--cpus", "0.25",
                                             "--timeout", "90s", "--tmpfs", "/scratch:size=32m",
                                             "--kind", "job", "--hostname", "My_Box", NULL };
        struct zb_policy *p = policy(flags);
        struct eng_notes n = { 0 };
        struct zb_error err = { 0 };
        json_object *m = NULL;
        set_cmd(p, "sh", NULL);
        CHECK(eng_k8s_manifest(p, NULL, &m, &n, &err) == 0);
        CHECK(strcmp(json_object_get_string(get(m, "kind")), "List") == 0);
        json_object *job = get(m, "items.0");
        CHECK(strcmp(json_object_get_string(get(job, "kind")), "Job") == 0);
        CHECK(strcmp(json_object_get_string(get(job, "metadata.name")), "my-box") == 0);
        CHECK(json_object_get_int(get(job, "spec.activeDeadlineSeconds")) == 90);
        CHECK(json_object_get_int(get(job, "spec.backoffLimit")) == 0);
        json_object *spec = get(job, "spec.template.spec");
        CHECK(!json_object_get_boolean(get(spec, "automountServiceAccountToken")));
        CHECK(json_object_get_boolean(get(spec, "securityContext.runAsNonRoot")));
        CHECK(strcmp(json_object_get_string(get(spec, "securityContext.seccompProfile.type")), "RuntimeDefault") == 0);
        json_object *c = get(spec, "containers.0");
        CHECK(!json_object_get_boolean(get(c, "securityContext.allowPrivilegeEscalation")));
        CHECK(json_object_get_boolean(get(c, "securityContext.readOnlyRootFilesystem")));
        CHECK(strcmp(json_object_get_string(get(c, "securityContext.capabilities.drop.0")), "ALL") == 0);
        CHECK(strcmp(json_object_get_string(get(c, "resources.limits.memory")), "100Mi") == 0);
        CHECK(strcmp(json_object_get_string(get(c, "resources.requests.cpu")), "250m") == 0);
        CHECK(strcmp(json_object_get_string(get(spec, "volumes.0.emptyDir.sizeLimit")), "32Mi") == 0);
        CHECK(strcmp(json_object_get_string(get(spec, "volumes.0.emptyDir.medium")), "Memory") == 0);
        json_object *np = get(m, "items.1");
        CHECK(strcmp(json_object_get_string(get(np, "kind")), "NetworkPolicy") == 0);
        CHECK(json_object_array_length(get(np, "spec.egress")) == 0);
        CHECK(array_has_string(get(np, "spec.policyTypes"), "Egress"));
        CHECK(has(n.skipped, n.n_skipped, "rlimits") && has(n.skipped, n.n_skipped, "landlock"));
        json_object *ann = NULL;
        json_object_object_get_ex(get(job, "metadata.annotations"), "zonebox.dev/not-expressed", &ann);
        CHECK_STR_CONTAINS(json_object_get_string(ann), "rlimits");
        json_object_put(m);
        eng_notes_free(&n);
        zb_policy_free(p);
}

TEST(engines_shell_quote_and_formats)
{
        char *argv[] = { "a", "b c", "it's", "", "x=$HOME", NULL };
        char *s = eng_shell_join(argv);
        CHECK(s && strcmp(s, "a 'b c' 'it'\\''s' '' 'x=$HOME'") == 0);
        free(s);
        char buf[32];
        eng_format_size(512ull << 20, buf, sizeof(buf));
        CHECK(strcmp(buf, "512m") == 0);
        eng_format_size(3ull << 30, buf, sizeof(buf));
        CHECK(strcmp(buf, "3g") == 0);
        eng_format_size(1000, buf, sizeof(buf));
        CHECK(strcmp(buf, "1000") == 0);
        eng_format_cpus(500, buf, sizeof(buf));
        CHECK(strcmp(buf, "0.5") == 0);
        eng_format_cpus(2000, buf, sizeof(buf));
        CHECK(strcmp(buf, "2") == 0);
        eng_format_cpus(1250, buf, sizeof(buf));
        CHECK(strcmp(buf, "1.25") == 0);
        char name[96];
        eng_container_name(name, sizeof(name));
        CHECK(eng_container_orphaned(name) == 0);
        CHECK(eng_container_orphaned("zonebox-999999999-1-0") == 1);
        CHECK(eng_container_orphaned("someone-else") == -1);
}

/* The verdict of an engine run from its CLI's exit (eng_exit_status), with
 * the conventions the docker and oci backends declare: docker's OOMKilled
 * decides whatever the exit, and its exit 125 is the engine's failure; an
 * oci run is OOM only when its process died by SIGKILL, and 125 is the
 * command's own exit code. */
static const struct eng_exit_rules docker_rules = { .backend = "docker", .oom_any_exit = true,
                                                    .exit_125_engine = true };
static const struct eng_exit_rules oci_rules = { .backend = "oci" };

static struct zb_result *verdict(const struct eng_exit_rules *rules, int wstatus, bool timed_out,
                                 bool output_killed, bool oom, const char *engine_error)
{
        struct eng_exit ex = { .status = wstatus, .timed_out = timed_out, .output_killed = output_killed };
        struct zb_result *r = res_new(rules->backend);
        if (!r)
                abort(); /* out of memory: no verdict to check */
        r->oom_killed = oom;
        eng_exit_status(&ex, rules, engine_error, r);
        return r;
}

#define EXITED(code) ((code) << 8)
#define KILLED(sig) (sig)

TEST(engines_exit_status)
{
        const struct eng_exit_rules *both[] = { &docker_rules, &oci_rules };
        for (size_t i = 0; i < ARRAY_SIZE(both); i++) {
                const struct eng_exit_rules *k = both[i];
                struct zb_result *r = verdict(k, EXITED(3), false, false, false, NULL);
                CHECK(r->status == ZB_STATUS_EXITED && r->exit_code == 3 && !r->error);
                zb_result_free(r);
                /* The wall time and the output cap win over whatever the CLI said. */
                r = verdict(k, EXITED(0), true, false, true, NULL);
                CHECK(r->status == ZB_STATUS_TIMEOUT && r->signal == SIGKILL);
                zb_result_free(r);
                r = verdict(k, EXITED(137), false, true, false, NULL);
                CHECK(r->status == ZB_STATUS_OUTPUT_LIMIT && r->signal == SIGKILL);
                zb_result_free(r);
                /* 128+N from the CLI, or the CLI itself killed: signal N. */
                r = verdict(k, EXITED(128 + SIGTERM), false, false, false, NULL);
                CHECK(r->status == ZB_STATUS_SIGNALED && r->signal == SIGTERM);
                zb_result_free(r);
                r = verdict(k, KILLED(SIGINT), false, false, false, NULL);
                CHECK(r->status == ZB_STATUS_SIGNALED && r->signal == SIGINT);
                zb_result_free(r);
                /* 126, 127: the command could not be run. */
                r = verdict(k, EXITED(127), false, false, false, NULL);
                CHECK(r->status == ZB_STATUS_SETUP_ERROR && r->setup_kind == ZB_SETUP_NOT_FOUND && !r->error);
                zb_result_free(r);
                r = verdict(k, EXITED(126), false, false, false, NULL);
                CHECK(r->status == ZB_STATUS_SETUP_ERROR && r->setup_kind == ZB_SETUP_NOT_EXEC);
                zb_result_free(r);
                /* An OOM kill is SIGKILL for both. */
                r = verdict(k, EXITED(137), false, false, true, NULL);
                CHECK(r->status == ZB_STATUS_OOM && r->signal == SIGKILL && r->oom_killed);
                zb_result_free(r);
        }

        /* docker: inspect's OOMKilled decides, whatever the exit. */
        struct zb_result *r = verdict(&docker_rules, EXITED(1), false, false, true, NULL);
        CHECK(r->status == ZB_STATUS_OOM);
        zb_result_free(r);
        /* oci: an oom_kill count with an ordinary exit is not an OOM verdict. */
        r = verdict(&oci_rules, EXITED(1), false, false, true, NULL);
        CHECK(r->status == ZB_STATUS_EXITED && r->exit_code == 1 && r->oom_killed);
        zb_result_free(r);

        /* docker: 125 is the engine's failure, with its message if it gave one. */
        r = verdict(&docker_rules, EXITED(125), false, false, false, NULL);
        CHECK(r->status == ZB_STATUS_SETUP_ERROR && r->setup_kind == ZB_SETUP_FAILED);
        CHECK_STR_CONTAINS(r->error, "backend docker: the engine could not start the container (exit 125)");
        zb_result_free(r);
        r = verdict(&docker_rules, EXITED(127), false, false, false, "no such image");
        CHECK(r->status == ZB_STATUS_SETUP_ERROR && r->setup_kind == ZB_SETUP_NOT_FOUND);
        CHECK(r->error && strcmp(r->error, "backend docker: no such image") == 0);
        zb_result_free(r);
        /* oci: 125 is the command's own exit code. */
        r = verdict(&oci_rules, EXITED(125), false, false, false, NULL);
        CHECK(r->status == ZB_STATUS_EXITED && r->exit_code == 125 && !r->error);
        zb_result_free(r);
}

/* The kernel's OOM record, one record per read as /dev/kmsg gives them (a
 * SOCK_SEQPACKET pair keeps the boundaries): only a kill in the container's
 * own cgroup (oom_memcg or task_memcg) counts. */
static bool kmsg_says(const char *const *records, const char *id)
{
        int sv[2];
        CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
        for (size_t i = 0; records[i]; i++)
                CHECK(write(sv[1], records[i], strlen(records[i])) == (ssize_t)strlen(records[i]));
        bool found = eng_kmsg_oom_in(sv[0], id);
        close(sv[0]);
        close(sv[1]);
        return found;
}

TEST(engines_kmsg_oom_record)
{
        static const char *const podman[] = {
                "6,1,1,-;python3 invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0\n",
                "6,2,2,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,"
                "oom_memcg=/libpod_parent/libpod-e3e3a9022b958fb6bce244c7452d623ca715a177fb89867d243f9ea9bbf23ea1,"
                "task_memcg=/libpod_parent/libpod-e3e3a9022b958fb6bce244c7452d623ca715a177fb89867d243f9ea9bbf23ea1,"
                "task=python3,pid=21170,uid=0\n",
                NULL,
        };
        CHECK(kmsg_says(podman, "e3e3a9022b958fb6bce244c7452d623ca715a177fb89867d243f9ea9bbf23ea1"));
        CHECK(!kmsg_says(podman, "0123456789ab0123456789ab0123456789ab0123456789ab0123456789abcdef"));
        static const char *const zb[] = {
                "6,3,3,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,"
                "oom_memcg=/process_api/x/zonebox-20703-2377606-10,task_memcg=/process_api/x/zonebox-20703-2377606-10,"
                "task=python3,pid=20707,uid=65534\n",
                NULL,
        };
        CHECK(kmsg_says(zb, "zonebox-20703-2377606-10"));
        CHECK(!kmsg_says(zb, "zonebox-20703-2377606-1")); /* a whole name, not a prefix */
        /* Decided in a parent's limit (cgroup_parent), the victim in ours: ours too,
         * as the v1 counter (the task's memcg) would say. */
        static const char *const parent[] = {
                "6,4,4,-;oom-kill:constraint=CONSTRAINT_MEMCG,oom_memcg=/process_api/x,"
                "task_memcg=/process_api/x/zonebox-1-2-3,task=sh,pid=9,uid=0\n",
                NULL,
        };
        CHECK(kmsg_says(parent, "zonebox-1-2-3"));
        CHECK(!kmsg_says(parent, "zonebox-1-2-4"));
}
