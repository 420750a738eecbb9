/* zonebox serve: the HTTP service (src/serve/, docs/serve.md). The server
 * links libmicrohttpd, which Debian ships without a static build of all its
 * dependencies (p11-kit, libunistring), so it is its own dynamically linked
 * program, zonebox-serve, found like zonebox-systemd (beside zonebox, then
 * ../libexec/zonebox); this command prints --help and hands over to it.
 * `zonebox __serve-worker` is the other half: each job of the server runs in
 * this static binary (src/serve/v1.c). */
#define _GNU_SOURCE
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "serve/serve.h"

static const char serve_help[] =
"Usage: zonebox serve [--config FILE] [--socket PATH | --listen ADDR:PORT] [--token-file FILE]\n"
"\n"
"Run sandboxes for HTTP clients: zonebox's own JSON API (/v1) and Piston's\n"
"(/api/v2), with a bounded queue, per-token rate limits and Prometheus\n"
"metrics. Every job runs in a forked worker under FILE's policy (its sandbox:\n"
"section, as zonebox run --config reads it); a request can only narrow it\n"
"(lower limits, less network), never name a zone or a host path.\n"
"\n"
"Endpoints (docs/serve.md):\n"
"  POST   /v1/runs [?wait=false]  {command, stdin, env, limits, network, workdir}\n"
"                                 or {runtime, files, ...}: the verdict (--json's)\n"
"  GET    /v1/runs/ID             a ?wait=false run: 202 while running, then its verdict\n"
"  DELETE /v1/runs/ID             cancel it (its sandbox is killed)\n"
"  POST   /v1/sessions            start a session: {id}\n"
"  POST   /v1/sessions/ID/exec    {command, stdin, env, workdir, limits: {timeout}}\n"
"  DELETE /v1/sessions/ID         stop it\n"
"  GET    /v1/runtimes, /api/v2/runtimes; POST /api/v2/execute (Piston)\n"
"  GET    /v1/health (no token), /metrics\n"
"\n"
"Listening: a unix socket (mode 0600; default /run/zonebox/serve.sock for root,\n"
"else $XDG_RUNTIME_DIR/zonebox/serve.sock or /tmp/zonebox-UID/serve.sock), or\n"
"TCP with --listen, which needs a bearer token (Authorization: Bearer TOKEN).\n"
"SIGTERM: stop accepting, let running jobs finish (serve.drain_timeout), then\n"
"kill them. FILE's serve: section (defaults shown):\n"
"  serve:\n"
"    socket: PATH | listen: ADDR:PORT | token_file: FILE   as the flags\n"
"    workers: CPUs            jobs running at once\n"
"    queue: 64                jobs waiting; more is 429 with Retry-After\n"
"    results: 256             finished ?wait=false runs kept for GET\n"
"    rate: 50  burst: 100     requests/s per token (0: off); more is 429\n"
"    body_limit: 1M           larger bodies are 413 (at most 16M)\n"
"    request_timeout: 30s     a slower request is 408; idle connections close\n"
"    max_connections: 256\n"
"    drain_timeout: 30s\n"
"\n"
"Options:\n"
"  --config FILE             the server's policy and serve: section\n"
"  --socket PATH             listen on this unix socket\n"
"  --listen ADDR:PORT        listen on TCP (127.0.0.1:8080, [::1]:8080)\n"
"  --token-file FILE         bearer tokens, one per line (16+ characters each)\n"
"  -h, --help                this text\n"
"\n"
"Exit status: 0 after SIGTERM/SIGINT, 125 for bad flags or config.\n";

int cli_serve(int argc, char **argv)
{
        for (int i = 1; i < argc; i++)
                if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
                        fputs(serve_help, stdout);
                        return 0;
                }
        char path[PATH_MAX];
        if (util_helper_path("zonebox-serve", path, sizeof(path)) < 0) {
                fprintf(stderr, "zonebox serve: zonebox-serve is not installed (beside zonebox or in %s)\n",
                        ZB_LIBEXECDIR);
                return ZB_EXIT_ERROR;
        }
        /* The workers run this binary (static-pie: src/serve/server.c says why). */
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n > 0) {
                self[n] = '\0';
                setenv("ZONEBOX_SERVE_ZONEBOX", self, 1);
        }
        argv[0] = (char *)"zonebox-serve";
        execv(path, argv);
        fprintf(stderr, "zonebox serve: cannot run %s: %s\n", path, strerror(errno));
        return ZB_EXIT_ERROR;
}

int cli_serve_worker(int argc, char **argv)
{
        return srv_worker_main(argc, argv);
}
