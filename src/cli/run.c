/* zonebox run: parse argv into a policy through the public API, run it,
 * print the verdict. No sandbox logic here. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char run_help[] =
"Usage: zonebox run [OPTIONS] [--] COMMAND [ARG...]\n"
"\n"
"Run COMMAND in a new sandbox: fresh user, mount, pid, net, ipc, uts and\n"
"cgroup namespaces; a read-only root made of the host's system dirs; only the\n"
"zones you name; loopback-only network; no capabilities; no new privileges.\n"
"COMMAND is looked up with the sandbox's PATH (" "/usr/local/bin:/usr/bin:/bin" ").\n"
"\n"
"Options (a flag overrides the same setting from --config):\n"
"  --config FILE             load a YAML policy (see docs/config.md)\n"
"  --json                    capture stdout/stderr and print the result as JSON;\n"
"                            its \"violations\" list what the sandbox stopped\n"
"                            (without --json: one \"zonebox: blocked:\" line on\n"
"                            stderr after a failed command)\n"
"  -v, --volume HOST:DEST[:ro|rw|cow][,size=SIZE]\n"
"                            bind a host directory as a zone (default rw); cow:\n"
"                            copy-on-write, the host dir untouched, the changes\n"
"                            kept for zonebox diff, commit, discard; never over\n"
"                            zonebox's own state (/run/zonebox, the change-set\n"
"                            store, the session runtime dir); size= caps an\n"
"                            rw/cow zone with a kernel quota (ext4/xfs\n"
"                            prjquota, btrfs subvolume; else refused, exit 125).\n"
"                            Opened with your rights before any id change;\n"
"                            started by root, idmapped: the dir's owner is the\n"
"                            sandbox user inside and owns what the command\n"
"                            creates (other owners show as nobody); rw/cow on a\n"
"                            filesystem that cannot be idmapped fails (exit\n"
"                            125), ro is mounted as it is\n"
"  --cow-action keep|commit|discard\n"
"                            what to do with cow zones' changes at the end\n"
"                            (default keep; commit only after exit code 0)\n"
"  --cow-dir DIR             where change sets are kept (see zonebox diff --help)\n"
"  --tmpfs DEST[:size=SIZE]  a fresh tmpfs zone (default size 64m); at /tmp it\n"
"                            resizes the default /tmp instead\n"
"  --tmp SIZE, --no-tmp      the tmpfs holding /tmp (1777) and HOME=/home/sandbox\n"
"                            (default 64m, counted in --memory); --no-tmp: none\n"
"  --zone name=N,mode=ro|rw|tmpfs|cow[,hostPath=P][,path=/mnt][,size=S]\n"
"                            a zone in zonebox's own terms (mount point /N)\n"
"  --network none|loopback|host\n"
"                            none (default) and loopback: own namespace with lo\n"
"                            only; host: share the host's network (reported).\n"
"                            none: a resolver on 127.0.0.1:53 refuses every name\n"
"                            and reports it (violation: lookup NAME)\n"
"  --net-allow HOST[:PORT]   reach only these through a proxy outside (repeatable):\n"
"                            HOST, HOST:PORT, *.DOMAIN[:PORT], 1.2.3.4:PORT,\n"
"                            [::1]:PORT, HOST:* (no port: 80 and 443). The\n"
"                            sandbox keeps its loopback-only namespace and gets\n"
"                            HTTP(S)_PROXY=http://127.0.0.1:3128; names resolve\n"
"                            outside, never to internal addresses unless pinned\n"
"  --add-host NAME:IP        pin NAME to IP for the proxy (no DNS)\n"
"  --proxy-port PORT         the proxy's port inside (default 3128)\n"
"  --timeout DURATION        wall-time limit from exec, e.g. 500ms, 10s, 2m;\n"
"                            the whole sandbox is killed, status timeout, exit 124\n"
"  --ulimit fsize=SIZE,nofile=N\n"
"                            rlimits (soft = hard; fsize default 1g, unlimited:\n"
"                            the caller's); core dumps are always off\n"
"  --output-limit SIZE       cap on stdout+stderr together: captured (--json,\n"
"                            default 1m) or, when given, pass-through (the\n"
"                            command then writes to pipes; a note on stderr)\n"
"  -e, --env KEY=VALUE|KEY   set a variable (KEY alone copies the host's value)\n"
"  -w, --workdir DIR         working directory inside (default /)\n"
"  -u, --user UID[:GID]      ids inside (default 1000:1000; 0 is root in the\n"
"                            user namespace only, still without capabilities).\n"
"                            Started by root the sandbox has 65536 ids on a\n"
"                            subordinate range (/etc/subuid user zonebox, else\n"
"                            from 2130706432); a user with /etc/subuid entries\n"
"                            gets a range through newuidmap, others one id\n"
"  --hostname NAME           hostname inside (default zonebox)\n"
"  --rootfs DIR|host         use an unpacked image as the root instead of the host's dirs\n"
"  --image REF               the root is an image: oci:DIR[:TAG], docker-archive:FILE\n"
"                            or a name from zonebox image import (namespace: its\n"
"                            layers as a read-only overlayfs; no command runs its\n"
"                            Entrypoint+Cmd); oci: the same store; docker: a name\n"
"                            as is, a layout/archive copied in first (skopeo)\n"
"  --backend namespace|docker|oci|wasm\n"
"                            who isolates (default namespace); wasm: COMMAND is a\n"
"                            WASI preview 1 module (a path in a zone, or on the\n"
"                            host: copied in read-only) run by a WASI runtime\n"
"                            inside this same sandbox; zones are its preopens;\n"
"                            not with --network host|loopback, --net-allow,\n"
"                            --image; -w must be in a zone (docs/engines.md)\n"
"  --runtime runc|crun|runsc|gvisor|PATH\n"
"                            oci: the OCI runtime (default runc; gvisor is runsc);\n"
"                            docker: the engine's --runtime\n"
"  --runsc-platform ptrace|kvm|systrap\n"
"                            oci with runsc: gVisor's platform (default runsc's\n"
"                            own: ptrace for Debian 12's runsc, systrap for newer)\n"
"  --wasm-runtime auto|wasmtime|wasmer|wasmedge|node\n"
"                            the WASI runtime (default auto: the first of these\n"
"                            found in the sandbox's PATH); not installed: 125\n"
"  --security-opt no-new-privileges[:true|false]\n"
"  --cap-drop ALL, --read-only, --rm, --init\n"
"                            accepted for Docker compatibility; always in effect\n"
"                            (--read-only: the root; /tmp and HOME stay writable)\n"
"  -m, --memory SIZE         memory limit of the whole sandbox (cgroup; kernel\n"
"                            memory and tmpfs pages count), default 512m;\n"
"                            unlimited for none. An OOM kill: status oom, exit 137\n"
"  --memory-swap SIZE        memory + swap, as Docker (default: equal to --memory,\n"
"                            i.e. no swap); unlimited for any swap\n"
"  --cpus N                  CPU quota, e.g. 0.5 or 2 (default none)\n"
"  --pids-limit N            processes and threads in the sandbox, zonebox's init\n"
"                            included (default 256; unlimited for none)\n"
"  --cpu-time DURATION       CPU time of the whole sandbox, watched by zonebox\n"
"                            (RLIMIT_CPU per process a second later as backstop);\n"
"                            status cpu_timeout, exit 124\n"
"  --cgroup-parent PATH      create the sandbox's cgroup under PATH (in every\n"
"                            hierarchy) instead of under zonebox's own cgroup\n"
"  --allow-unenforced        run even where no cgroup can be created (e.g. an\n"
"                            unprivileged user without a delegated cgroup): the\n"
"                            result lists resources as skipped; memory falls back\n"
"                            to RLIMIT_AS and cpu_time to RLIMIT_CPU, per process\n"
"  --device-read-bps DEV:RATE, --device-write-bps DEV:RATE\n"
"                            bytes per second from/to block device DEV, e.g.\n"
"                            /dev/sda:10mb (cgroup io.max / v1 blkio.throttle;\n"
"                            on v1 direct I/O only); repeatable\n"
"  --device-read-iops DEV:N, --device-write-iops DEV:N\n"
"                            operations per second on DEV\n"
"  --zone-read-bps ZONE:RATE, --zone-write-bps ZONE:RATE\n"
"                            the same on the device ZONE's host dir is on\n"
"  --blkio-weight N          proportional I/O weight, 10-1000\n"
"  --output-action truncate|kill\n"
"                            past --output-limit: keep the first bytes (default)\n"
"                            or stop the command (status output_limit, exit 141)\n"
"  --seccomp default|unconfined|FILE\n"
"                            syscall filter: zonebox's allowlist (default), none,\n"
"                            or a Docker/OCI JSON profile (docs/config.md)\n"
"  --seccomp-allow NAME[,NAME], --seccomp-deny NAME[,NAME]\n"
"                            allow or deny (EPERM) syscalls on top of the profile\n"
"  --landlock true|false|required\n"
"                            file-access rules behind the mounts: on where the\n"
"                            kernel has Landlock (default), off, or fail closed\n"
"  --allow-cmd RULE, --deny-cmd RULE\n"
"                            command approval: RULE is PROGRAM [ARGS-GLOB], e.g.\n"
"                            'ls', 'git status*', '/usr/bin/make test'; deny wins;\n"
"                            sh -c scripts are split into simple commands, each\n"
"                            of which must be allowed (docs/approval.md)\n"
"  --approve-default allow|deny|ask\n"
"                            when no allow rule approves the command (default ask\n"
"                            once any approval option is given): ask on the\n"
"                            terminal (y/N/a), else deny unless --approver\n"
"  --approver PROGRAM        asked instead: gets the request as JSON on stdin,\n"
"                            answers allow or deny on stdout\n"
"  --approver-timeout DURATION\n"
"                            no answer by then means deny (default 60s)\n"
"  --audit-log FILE          append one JSON line per decision and per result,\n"
"                            and per proxy connection with --net-allow\n"
"                            (refused if the sandbox could write FILE)\n"
"  --events FILE|fd:N        a live stream, one JSON line per event as it\n"
"                            happens: start, each violation, end (the verdict);\n"
"                            FILE is refused as --audit-log's is; a bad one:\n"
"                            exit 125 before anything starts (docs/violations.md)\n"
"  -q, --quiet               no \"zonebox: blocked: ...\" line and no notes on\n"
"                            stderr (errors are still printed)\n"
"  -h, --help                this text\n"
"\n"
"A setting the backend cannot honour is refused (exit 125, one line naming it\n"
"and the backend) or, where it can run without it, a \"warning:\" line (and the\n"
"result's warnings): one table, docs/config.md \"Backends\".\n"
"\n"
"Sizes: 512k, 64m, 1g (binary). Durations: 250ms, 10s, 1.5m, 2h; a bare number is\n"
"seconds; 0 or none means no limit.\n"
"\n"
"Exit status: the command's own; 128+N when killed by signal N; 124 timeout\n"
"(wall or CPU time); 137 out of memory; 141 output limit (with kill); 125\n"
"zonebox failed (bad flag or config, a layer that cannot be applied, setup);\n"
"126 command not executable (wasm: not a WASI command module), or refused by\n"
"the approval policy (status denied, nothing started); 127 command not found;\n"
"132 a wasm module trapped (status trap).\n"
"\n"
"Defaults: memory 512m with no swap; 256 processes; no CPU quota; no wall- or\n"
"CPU-time limit; open files 1024; file size 1g; no core dumps; captured output\n"
"1m (pass-through output uncapped unless --output-limit); root read-only;\n"
"/tmp and HOME 64m; no network; uid 1000 inside (range start + 1000 outside\n"
"when started by root, the invoking user's own uid otherwise).\n";

static int usage_error(const char *msg)
{
        fprintf(stderr, "zonebox run: %s\n", msg);
        return ZB_EXIT_ERROR;
}

/* Settings the run did not use, and limits it reached without a status of
 * their own (output cap, file size, a zone's size cap): one line each. */
static void report_notes(const char *cmd, const struct zb_result *res)
{
        for (const char *w = zb_result_warnings(res); w && *w;) {
                size_t len = strcspn(w, "\n");
                fprintf(stderr, "zonebox %s: warning: %.*s\n", cmd, (int)len, w);
                w += len + (w[len] == '\n');
        }
        char *note = zb_result_limit_note(res);
        if (note)
                fprintf(stderr, "zonebox %s: %s\n", cmd, note);
        free(note);
}

/* After a failed command, what the sandbox stopped (issue 16): the
 * difference between "the policy refused this" and "the code is broken". */
static void report_blocked(const struct zb_result *res)
{
        if (zb_result_exit_code(res) == 0)
                return;
        char *line = zb_result_blocked(res);
        if (line)
                fprintf(stderr, "zonebox: blocked: %s\n", cli_esc(line));
        free(line);
}

int cli_report(const char *cmd, const struct zb_result *res, bool json, const char *what)
{
        if (json) {
                char *s = zb_result_json(res);
                if (!s) {
                        fprintf(stderr, "zonebox %s: cannot format the result\n", cmd);
                        return -1;
                }
                puts(s);
                free(s);
        } else if (zb_result_error(res)) {
                /* May quote the sandbox (a setup step's path, a session's
                 * message): escaped, as all text zonebox prints. */
                fprintf(stderr, "zonebox %s: %s\n", cmd, cli_esc(zb_result_error(res)));
        } else if (strcmp(zb_result_status(res), "timeout") == 0) {
                fprintf(stderr, "zonebox %s: wall-time limit reached, %s killed\n", cmd, what);
        } else if (strcmp(zb_result_status(res), "cpu_timeout") == 0) {
                fprintf(stderr, "zonebox %s: CPU-time limit reached, %s killed\n", cmd, what);
        } else if (strcmp(zb_result_status(res), "oom") == 0) {
                fprintf(stderr, "zonebox %s: out of memory (memory limit reached), killed\n", cmd);
        }
        if (!json && !cli_quiet) {
                report_notes(cmd, res);
                report_blocked(res);
        }
        return zb_result_exit_code(res);
}

int cli_run(int argc, char **argv)
{
        struct zb_error err = { 0 };
        struct zb_policy *p = zb_policy_new();
        struct zb_result *res = NULL;
        bool json = false;
        int rc = ZB_EXIT_ERROR;

        if (!p)
                return usage_error("out of memory");
        int r = cli_parse_policy("run", argc, argv, p, &json, &err);
        if (r == 1) {
                fputs(run_help, stdout);
                rc = 0;
                goto out;
        }
        if (r < 0)
                goto out;
        if (zb_policy_use_image(p, &err) < 0) {
                fprintf(stderr, "zonebox run: %s\n", cli_esc(err.message));
                goto out;
        }
        zb_policy_set_capture(p, json);
        zb_policy_set_ask(p, zb_ask_terminal, NULL); /* approval "ask": the terminal, if any */

        util_block_forwarded(); /* zb_run forwards them to the command */
        if (zb_run(p, &res, &err) < 0) {
                fprintf(stderr, "zonebox run: %s\n", err.message);
                goto out;
        }
        rc = cli_report("run", res, json, "sandbox");
        if (rc < 0) {
                rc = ZB_EXIT_ERROR;
                goto out;
        }
        if (!json && zb_result_cow_id(res))
                fprintf(stderr, "zonebox run: changes to cow zones kept as %s (zonebox diff %s, then commit or discard)\n",
                        zb_result_cow_id(res), zb_result_cow_id(res));
        if (!json && zb_result_cow_error(res))
                fprintf(stderr, "zonebox run: %s\n", cli_esc(zb_result_cow_error(res)));
out:
        zb_result_free(res);
        zb_policy_free(p);
        return rc;
}
