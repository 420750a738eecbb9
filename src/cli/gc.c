/* zonebox gc: remove what killed supervisors left behind. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char gc_help[] =
"Usage: zonebox gc [--cgroup-parent PATH] [--quiet]\n"
"\n"
"Remove the cgroups of sandboxes whose zonebox supervisor is gone (killed\n"
"with SIGKILL, say), after killing anything still in them. Each zonebox run\n"
"already does this for its own parent cgroups before it starts; gc does it on\n"
"demand. It looks under the cgroups this process runs in (every v1 hierarchy\n"
"and cgroup v2), and under PATH in each hierarchy when given. A cgroup is\n"
"zonebox's when its name is zonebox-<pid>-<start time>-<n>; it is stale when no\n"
"process with that pid and start time exists. Without --cgroup-parent it\n"
"also kills the stale systemd scopes zonebox-<pid>-<start time>.scope of this\n"
"user's manager (app.slice; root: system.slice), which systemd then removes.\n"
"It also removes the private module dirs $TMPDIR/zonebox-wasm-<pid>-* of killed\n"
"wasm supervisors (this user's, pid gone, older than a minute) and, as root,\n"
"the size-capped zones' project quotas they left, and the bundle dirs\n"
"/tmp/zonebox-oci-<container>-* of killed oci runs.\n"
"\n"
"Options:\n"
"  --cgroup-parent PATH   also look under this cgroup (as for zonebox run)\n"
"  -q, --quiet            print nothing\n"
"  -h, --help             this text\n"
"\n"
"Exit status: 0 (also when nothing was stale); 125 on a bad flag or error.\n";

int cli_gc(int argc, char **argv)
{
        const char *parent = NULL;
        bool quiet = false;
        struct zb_error err = { 0 };
        unsigned removed = 0;

        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
                        fputs(gc_help, stdout);
                        return 0;
                } else if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") == 0) {
                        quiet = true;
                } else if (strcmp(argv[i], "--cgroup-parent") == 0 && i + 1 < argc) {
                        parent = argv[++i];
                } else if (strncmp(argv[i], "--cgroup-parent=", 16) == 0) {
                        parent = argv[i] + 16;
                } else {
                        fprintf(stderr, "zonebox gc: %s: unknown flag or missing value (see zonebox gc --help)\n",
                                argv[i]);
                        return ZB_EXIT_ERROR;
                }
        }
        if (zb_gc(parent, &removed, &err) < 0) {
                fprintf(stderr, "zonebox gc: %s\n", err.message);
                return ZB_EXIT_ERROR;
        }
        if (!quiet)
                printf("removed %u stale cgroup%s\n", removed, removed == 1 ? "" : "s");
        return 0;
}
