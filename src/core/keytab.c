/* Every config key against every backend (keytab.h): the table, and the
 * two passes over it that zb_policy_validate (refusals) and the backends
 * (warnings) make. A row's cells were decided by reading what each backend
 * does with the key and running it (tests/integration/test_keytab.py walks
 * every cell). Rules that depend on a value's details rather than on the
 * key being set (runsc's platform under another runtime, a wasm workdir
 * outside the zones, a k8s runtime without a RuntimeClass) stay with the
 * backend that knows them. */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdio.h>

#include "keytab.h"

#define FIELD(kind, f) kind, offsetof(struct zb_policy, f), sizeof(((struct zb_policy *)0)->f)
#define H { KT_HONOUR, NULL }
#define W(m) { KT_WARN, m }
#define R(m) { KT_REFUSE, m }
/* Columns: namespace, docker, oci, kubernetes (export), wasm. */
#define ALL_H { H, H, H, H, H }

#define NOT_ENGINE "only the docker and oci backends use a runtime; ignored"
#define ONLY_K8S "only zonebox export kubernetes uses it; ignored"
#define NO_COW "no cow zones on this backend (they are refused); ignored"
#define NO_SESSION "sessions exist only in the namespace backend; ignored"
#define NO_WASM_NET "a WASI preview 1 module opens no sockets; its runtime runs with network none"
#define NO_ALLOWLIST "the allowlist proxy exists only in the namespace backend"
#define NO_RLIMIT "a Pod cannot set rlimits; the runtime's default applies"
#define NO_IO "a Pod cannot throttle block I/O; ignored"
/* KT_IO's ARG for a zone's limit (limits.zone_*_bps) of KIND. */
#define KT_IO_ZONE(kind) ((kind) + 8)
#define NOT_WASM_RT "only backend wasm runs a WASI runtime; ignored"

static const struct kt_row rows[] = {
        { "backend", NULL, "--backend", NULL, KT_NEVER, 0, 0, 0, ALL_H, NULL, false },
        { "wasm.runtime", NULL, "--wasm-runtime", "node", FIELD(KT_BYTES, wasm.runtime_set), 0,
          { W(NOT_WASM_RT), W(NOT_WASM_RT), W(NOT_WASM_RT), W(NOT_WASM_RT), H }, NULL, false },
        { "image", NULL, "--image", "oci:/nonexistent-zb:t", FIELD(KT_PTR, image), 0,
          { H, H, H, H, R("it runs a WASI module, not an image") }, NULL, false },
        { "rootfs", NULL, "--rootfs", "{dir}", FIELD(KT_PTR, rootfs), 0,
          { H, H, H, W("a directory cannot be a pod's root; the image is"), H }, NULL, false },
        { "runtime", NULL, "--runtime", "runc", FIELD(KT_BYTES, engine.runtime), 0,
          { W(NOT_ENGINE), H, H, H, H }, NULL, false },
        { "engine_cli", NULL, "--engine-cli", "podman", FIELD(KT_BYTES, engine.cli), 0,
          { W("only the docker backend uses it; ignored"), H,
            W("only the docker backend uses it; ignored"), W("only the docker backend uses it; ignored"),
            R("only the docker backend uses it") },
          NULL, false },
        { "engine.runsc.platform", NULL, "--runsc-platform", "systrap", FIELD(KT_BYTES, engine.runsc_platform), 0,
          { W("only the oci backend with runtime runsc uses it; ignored"),
            W("only the oci backend with runtime runsc uses it (the engine's runsc has its own configuration); ignored"),
            H, W("a flag of runsc itself, not in a manifest; ignored"),
            W("only the oci backend with runtime runsc uses it; ignored") },
          "a flag of runsc itself, which zonebox run passes; not in an exported bundle or line", false },
        { "strict", NULL, "--strict", "true", FIELD(KT_BYTES, engine.strict), 0,
          { W("the namespace backend applies every layer or fails (security.landlock: required for Landlock); ignored"),
            H, H, H,
            W("the wasm backend is the namespace sandbox, which applies every layer or fails; ignored") },
          NULL, false },
        { "kubernetes.kind", NULL, "--kind", "job", FIELD(KT_BYTES, engine.k8s_kind), 0,
          { W(ONLY_K8S), W(ONLY_K8S), W(ONLY_K8S), H, W(ONLY_K8S) }, NULL, false },
        { "kubernetes.host_zones", NULL, "--host-zones", "hostPath", FIELD(KT_BYTES, engine.k8s_host_zones), 0,
          { W(ONLY_K8S), W(ONLY_K8S), W(ONLY_K8S), H, W(ONLY_K8S) }, NULL, false },
        { "zones", NULL, "--tmpfs", "/kt", FIELD(KT_COUNT, n_zones), 0, ALL_H, NULL, false },
        { "zones", "mode: cow", "--volume", "{dir}:/kt:cow", KT_COW, 0, 0, 0,
          { H, R("a cow zone needs zonebox's overlayfs store; an engine would write straight to the host"),
            R("a cow zone needs zonebox's overlayfs store; an engine would write straight to the host"),
            R("a cow zone needs zonebox's overlayfs store; a pod would write straight to the volume"), H },
          NULL, false },
        { "cow_action", NULL, "--cow-action", "discard", FIELD(KT_BYTES, cow.action), 0,
          { H, W(NO_COW), W(NO_COW), W(NO_COW), H }, NULL, false },
        { "cow_dir", NULL, "--cow-dir", "{dir}", FIELD(KT_PTR, cow.dir), 0,
          { H, W(NO_COW), W(NO_COW), W(NO_COW), H }, NULL, false },
        { "network", NULL, "--network", "loopback", FIELD(KT_BYTES, network), 0,
          { H, H, H, H, R(NO_WASM_NET) }, NULL, false },
        { "network.allow", NULL, "--net-allow", "127.0.0.1:9", FIELD(KT_COUNT, net.n_allow), 0,
          { H, R(NO_ALLOWLIST), R(NO_ALLOWLIST), R(NO_ALLOWLIST), R(NO_WASM_NET) }, NULL, false },
        { "network.hosts", NULL, "--add-host", "kt.example:127.0.0.1", FIELD(KT_COUNT, net.n_hosts), 0,
          { H, R(NO_ALLOWLIST), R(NO_ALLOWLIST), R(NO_ALLOWLIST), R(NO_WASM_NET) }, NULL, false },
        { "network.proxy_port", NULL, "--proxy-port", "3129", FIELD(KT_BYTES, net.proxy_port), 0,
          { H, R(NO_ALLOWLIST), R(NO_ALLOWLIST), R(NO_ALLOWLIST), R(NO_WASM_NET) }, NULL, false },
        { "hostname", NULL, "--hostname", "kt-host", FIELD(KT_PTR, hostname), 0, ALL_H, NULL, false },
        { "env", NULL, "--env", "KT=1", FIELD(KT_COUNT, n_env), 0, ALL_H, NULL, false },
        { "workdir", NULL, "--workdir", "/tmp", FIELD(KT_PTR, workdir), 0, ALL_H, NULL, false },
        { "tmp", NULL, "--tmp", "32m", FIELD(KT_BYTES, tmp_size), 0, ALL_H, NULL, false },
        { "command", NULL, NULL, NULL, KT_NEVER, 0, 0, 0, ALL_H, NULL, false },
        { "security.user", NULL, "--user", "1234:1234", FIELD(KT_BYTES, security.user_set), 0, ALL_H, NULL, false },
        { "security.capabilities", NULL, NULL, NULL, KT_NEVER, 0, 0, 0, ALL_H, NULL, false },
        { "security.seccomp", NULL, "--seccomp", "unconfined", FIELD(KT_PTR, security.seccomp), 0, ALL_H, NULL, false },
        { "security.seccomp_allow", NULL, "--seccomp-allow", "acct", FIELD(KT_COUNT, security.n_seccomp_allow), 0,
          ALL_H, NULL, false },
        { "security.seccomp_deny", NULL, "--seccomp-deny", "chroot", FIELD(KT_COUNT, security.n_seccomp_deny), 0,
          ALL_H, NULL, false },
        { "security.landlock", NULL, "--landlock", "false", FIELD(KT_BYTES, security.landlock), 0, ALL_H, NULL, false },
        { "security.landlock", "required", "--landlock", "required", FIELD(KT_EQ, security.landlock),
          ZB_LANDLOCK_REQUIRED,
          { H, R("required, but no container engine applies a Landlock ruleset"),
            R("required, but no container engine applies a Landlock ruleset"),
            R("required, but a Pod has no Landlock ruleset"), H },
          NULL, false },
        { "security.no_new_privileges", NULL, "--security-opt", "no-new-privileges=false",
          FIELD(KT_BYTES, security.no_new_privileges), 0, ALL_H, NULL, false },
        { "limits.memory", NULL, "--memory", "256m", FIELD(KT_BYTES, limits.memory), 0, ALL_H, NULL, false },
        { "limits.swap", NULL, NULL, "64m", FIELD(KT_BYTES, limits.swap), 0,
          { H, H, H, W("a Pod's swap is the node's setting (NoSwap or LimitedSwap); ignored"), H }, NULL, false },
        { "limits.memory_swap", NULL, "--memory-swap", "1g", FIELD(KT_BYTES, limits.memory_swap_total), 0,
          { H, H, H, W("a Pod's swap is the node's setting (NoSwap or LimitedSwap); ignored"), H }, NULL, false },
        { "limits.cpus", NULL, "--cpus", "0.5", FIELD(KT_BYTES, limits.cpus_milli), 0, ALL_H, NULL, false },
        { "limits.pids", NULL, "--pids-limit", "100", FIELD(KT_BYTES, limits.pids), 0,
          { H, H, H, W("a Pod has no per-pod process limit (the kubelet's podPidsLimit applies to every pod); ignored"), H },
          NULL, false },
        { "limits.wall_time", NULL, "--timeout", "30s", FIELD(KT_BYTES, limits.wall_time_ms), 0, ALL_H, NULL, false },
        { "limits.cpu_time", NULL, "--cpu-time", "5s", FIELD(KT_BYTES, limits.cpu_time_ms), 0,
          { H, W("per process (RLIMIT_CPU), not for the whole sandbox; status signaled, not cpu_timeout"),
            W("per process (RLIMIT_CPU, SIGXCPU then SIGKILL), not for the whole sandbox; status signaled, not cpu_timeout"),
            W("a Pod has no CPU-time limit; ignored"), H },
          NULL, false },
        { "limits.file_size", NULL, "--ulimit", "fsize=1m", FIELD(KT_BYTES, limits.file_size_set), 0,
          { H, H, H, W(NO_RLIMIT), H }, NULL, false },
        { "limits.open_files", NULL, "--ulimit", "nofile=512", FIELD(KT_BYTES, limits.open_files), 0,
          { H, H, H, W(NO_RLIMIT), H }, NULL, false },
        { "limits.output", NULL, "--output-limit", "64k", FIELD(KT_BYTES, limits.output_set), 0,
          { H, H, H, W("enforced by zonebox run (it reads the output); a manifest has no output cap"), H },
          "enforced by zonebox run (it reads the output); an exported invocation has no output cap", false },
        { "limits.output_action", NULL, "--output-action", "kill", FIELD(KT_BYTES, limits.output_kill), 0,
          { H, H, H, W("enforced by zonebox run; ignored in a manifest"), H }, "enforced by zonebox run; ignored in an export", false },
        { "limits.cgroup_parent", NULL, "--cgroup-parent", "zonebox-kt", FIELD(KT_PTR, limits.cgroup_parent), 0,
          { H, H, H, W("the kubelet places the pod's cgroup; ignored"), H }, NULL, false },
        { "limits.allow_unenforced", NULL, "--allow-unenforced", "true", FIELD(KT_BYTES, limits.allow_unenforced), 0,
          { H, W("the engine applies the limits or fails; it never runs without them"),
            W("the runtime applies the limits or fails; it never runs without them"),
            W("the kubelet applies the limits or the pod does not start"), H },
          NULL, false },
        { "limits.device_read_bps", NULL, "--device-read-bps", "{blkdev}:10mb", KT_IO, 0, 0, ZB_IO_READ_BPS,
          { H, H, H, W(NO_IO), H }, NULL, false },
        { "limits.device_write_bps", NULL, "--device-write-bps", "{blkdev}:10mb", KT_IO, 0, 0, ZB_IO_WRITE_BPS,
          { H, H, H, W(NO_IO), H }, NULL, false },
        { "limits.device_read_iops", NULL, "--device-read-iops", "{blkdev}:1000", KT_IO, 0, 0, ZB_IO_READ_IOPS,
          { H, H, H, W(NO_IO), H }, NULL, false },
        { "limits.device_write_iops", NULL, "--device-write-iops", "{blkdev}:1000", KT_IO, 0, 0, ZB_IO_WRITE_IOPS,
          { H, H, H, W(NO_IO), H }, NULL, false },
        { "limits.zone_read_bps", NULL, "--zone-read-bps", "kt:10m", KT_IO, 0, 0, KT_IO_ZONE(ZB_IO_READ_BPS),
          { H, H, H, W(NO_IO), H }, NULL, false },
        { "limits.zone_write_bps", NULL, "--zone-write-bps", "kt:10m", KT_IO, 0, 0, KT_IO_ZONE(ZB_IO_WRITE_BPS),
          { H, H, H, W(NO_IO), H }, NULL, false },
        { "limits.blkio_weight", NULL, "--blkio-weight", "500", FIELD(KT_BYTES, limits.io.weight), 0,
          { H, H, H, W(NO_IO), H }, NULL, false },
        { "approval", NULL, NULL, "{}", FIELD(KT_BYTES, approval.configured), 0,
          { H, H, H, W("decided by zonebox run before it starts the sandbox; a manifest runs any command"), H },
          "decided by zonebox run before it starts the engine; an exported invocation runs any command", false },
        { "approval.default", NULL, "--approve-default", "allow", FIELD(KT_BYTES, approval.def), 0, ALL_H, NULL, false },
        { "approval.allow", NULL, "--allow-cmd", "true", FIELD(KT_COUNT, approval.n_allow), 0, ALL_H, NULL, false },
        { "approval.deny", NULL, "--deny-cmd", "rm", FIELD(KT_COUNT, approval.n_deny), 0, ALL_H, NULL, false },
        { "approval.command", NULL, "--approver", "/bin/true", FIELD(KT_PTR, approval.command), 0, ALL_H, NULL, false },
        { "approval.command_arg", NULL, NULL, NULL, KT_NEVER, 0, 0, 0, ALL_H, NULL, true },
        { "approval.timeout", NULL, "--approver-timeout", "5s", FIELD(KT_BYTES, approval.timeout_ms), 0, ALL_H, NULL, false },
        { "audit.log", NULL, "--audit-log", "{dir}/audit.log", FIELD(KT_PTR, audit.log), 0,
          { H, H, H, W("written by zonebox run; a manifest logs nothing"), H },
          "written by zonebox run; an exported invocation logs nothing", false },
        { "audit.events", NULL, "--events", "{dir}/events.jsonl", FIELD(KT_PTR, audit.events), 0,
          { H, H, H, W("written by zonebox run; a manifest streams nothing"), H },
          "written by zonebox run; an exported invocation streams nothing", false },
        { "audit.fsync", NULL, NULL, "true", FIELD(KT_BYTES, audit.fsync), 0,
          { H, H, H, W("written by zonebox run; ignored in a manifest"), H }, "written by zonebox run; ignored in an export", false },
        { "session.idle_timeout", NULL, NULL, "10m", FIELD(KT_BYTES, idle_timeout_ms), 0,
          { H, W(NO_SESSION), W(NO_SESSION), W(NO_SESSION), W(NO_SESSION) }, NULL, false },
};

static void policy_freep(struct zb_policy **p)
{
        zb_policy_free(*p);
}

const struct kt_row *kt_rows(size_t *n)
{
        *n = ARRAY_SIZE(rows);
        return rows;
}

const struct kt_row *kt_find(const char *key)
{
        if (strcmp(key, "security.runtime") == 0) /* the seed's spelling of runtime */
                key = "runtime";
        for (size_t i = 0; i < ARRAY_SIZE(rows); i++)
                if (strcmp(rows[i].key, key) == 0)
                        return &rows[i];
        return NULL;
}

static bool io_given(const struct pol_io *io, int arg)
{
        for (size_t i = 0; i < io->n; i++)
                if ((int)io->limits[i].kind == (arg & 7) && io->limits[i].zone == ((arg & 8) != 0))
                        return true;
        return false;
}

bool kt_given(const struct kt_row *row, const struct zb_policy *p, const struct zb_policy *def)
{
        const char *f = (const char *)p + row->off;

        switch (row->given) {
        case KT_NEVER:
                return false;
        case KT_BYTES:
                return memcmp(f, (const char *)def + row->off, row->size) != 0;
        case KT_PTR:
                return *(void *const *)(const void *)f != NULL;
        case KT_COUNT:
                return *(const size_t *)(const void *)f > 0;
        case KT_EQ:
                return *(const int *)(const void *)f == row->arg;
        case KT_IO:
                return io_given(&p->limits.io, row->arg);
        case KT_COW:
                for (size_t i = 0; i < p->n_zones; i++)
                        if (p->zones[i].mode == ZB_ZONE_COW)
                                return true;
                return false;
        }
        return false;
}

int kt_refuse(const struct zb_policy *p, enum pol_backend b, struct zb_error *err)
{
        _cleanup_(policy_freep) struct zb_policy *def = zb_policy_new();
        if (!def)
                return err_set(err, ENOMEM, "out of memory");
        for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
                const struct kt_row *r = &rows[i];
                if (r->cell[b].outcome != KT_REFUSE || !kt_given(r, p, def))
                        continue;
                return err_set(err, ENOTSUP, "%s%s%s%s%s%s: not with backend %s (%s)", r->key,
                               r->when ? " " : "", r->when ? r->when : "", r->flag ? " (" : "",
                               r->flag ? r->flag : "", r->flag ? ")" : "", pol_backend_name(b), r->cell[b].why);
        }
        return 0;
}

void kt_warn(const struct zb_policy *p, enum pol_backend b, bool export,
             void (*fn)(void *ctx, const char *line), void *ctx)
{
        _cleanup_(policy_freep) struct zb_policy *def = zb_policy_new();
        if (!def)
                return;
        for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
                const struct kt_row *r = &rows[i];
                const char *why = r->cell[b].outcome == KT_WARN          ? r->cell[b].why
                                  : r->cell[b].outcome == KT_HONOUR && export ? r->export_loses
                                                                              : NULL;
                if (!why || !kt_given(r, p, def))
                        continue;
                _cleanup_(freep) char *line = util_asprintf("%s: %s", r->key, why);
                if (line)
                        fn(ctx, line);
        }
}

static const char *const outcome_names[] = { "honour", "warn", "refuse" };

static void print_markdown(FILE *f)
{
        static const char *const marks[] = { "✓", "warn", "**refused**" };
        fputs("| key | flag | namespace | docker | oci | kubernetes (export) | wasm |\n", f);
        fputs("|---|---|---|---|---|---|---|\n", f);
        for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
                const struct kt_row *r = &rows[i];
                if (r->internal)
                        continue;
                fprintf(f, "| `%s`%s%s | %s%s%s |", r->key, r->when ? " " : "", r->when ? r->when : "",
                        r->flag ? "`" : "", r->flag ? r->flag : "", r->flag ? "`" : "");
                for (int b = 0; b < KT_N_BACKENDS; b++) {
                        const struct kt_cell *c = &r->cell[b];
                        fprintf(f, " %s%s%s |", marks[c->outcome], c->why ? ": " : "", c->why ? c->why : "");
                }
                fputc('\n', f);
        }
}

void kt_print(FILE *f, bool markdown)
{
        if (markdown) {
                print_markdown(f);
                return;
        }
        for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
                const struct kt_row *r = &rows[i];
                fprintf(f, "%s\t%s\t%s\t%s", r->key, r->when ? r->when : "", r->flag ? r->flag : "",
                        r->sample ? r->sample : "");
                for (int b = 0; b < KT_N_BACKENDS; b++)
                        fprintf(f, "\t%s%s%s", outcome_names[r->cell[b].outcome], r->cell[b].why ? ":" : "",
                                r->cell[b].why ? r->cell[b].why : "");
                fprintf(f, "\t%s\n", r->export_loses ? r->export_loses : "");
        }
}
