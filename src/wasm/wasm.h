/* The wasm backend: a WASI preview 1 command module run by a WebAssembly
 * runtime (node's node:wasi, wasmtime, wasmer, wasmedge) that itself runs
 * in the namespace sandbox, so every layer of the policy (mounts, read-only
 * root, no network, seccomp, Landlock, cgroup) walls the runtime too. This
 * layer sits above src/ns/: it turns the policy into the runtime's command
 * line and hands that to ns_run_policy. */
#ifndef ZB_WASM_H
#define ZB_WASM_H

#include "../core/policy.h"
#include "../core/result.h"

/* Where the module is seen inside the sandbox: a private read-only zone
 * holding the copy zonebox checked (never the file the caller can still
 * change). */
#define WASM_MODULE_DIR "/.zonebox-wasm"
#define WASM_MODULE_ZONE "zonebox-wasm"
#define WASM_MODULE_PATH WASM_MODULE_DIR "/module.wasm"
/* V8 refuses modules past 1 GiB; a command module is rarely past a few MiB. */
#define WASM_MAX_MODULE_BYTES (256ull << 20)
#define WASM_PAGE_BYTES 65536ull
/* What the runtime itself needs beside the module's linear memory (node 20:
 * ~40 MiB resident for `node -e 0`, more with a compiled module). */
#define WASM_RUNTIME_RESERVE_BYTES (64ull << 20)
/* `RUNTIME --version`, asked beside the run: what the verdict reports. */
#define WASM_VERSION_TIMEOUT_MS 2000
#define WASM_VERSION_MAX 128

/* The launcher's signals (node): a trap (WebAssembly.RuntimeError, stack
 * overflow) kills it with SIGILL, status trap, exit 128+4 = 132; a module
 * the runtime cannot compile or link, with SIGTRAP: setup_error, exit 126.
 * A module can only send itself signals with proc_raise. */
#define WASM_TRAP_SIGNAL SIGILL
#define WASM_NOT_RUNNABLE_SIGNAL SIGTRAP
/* The launcher's stderr line before it stops: "zonebox-wasm: trap: MSG". */
#define WASM_MARK_TRAP "zonebox-wasm: trap: "
#define WASM_MARK_NOT_RUNNABLE "zonebox-wasm: not runnable: "

/* module.c */
enum wasm_check {
        WASM_CHECK_OK,
        WASM_CHECK_NOT_MODULE,  /* not WebAssembly at all: 126 */
        WASM_CHECK_NOT_WASI,    /* a module, but no WASI command (imports, _start, malformed): 126 */
        WASM_CHECK_UNSUPPORTED, /* a component, another binary version: 125 */
};
/* Checks the N bytes at B; WHY gets one line when it is not OK. */
enum wasm_check wasm_module_check(const unsigned char *b, size_t n, char *why, size_t size);

/* command.c: the runtime's command line. */
struct wasm_launch {
        enum pol_wasm_runtime runtime; /* never AUTO */
        const char *runtime_path;     /* the binary, as seen inside the sandbox */
        const char *module;           /* the module, as seen inside the sandbox */
        char *const *args;            /* the module's argv (args[0]: its name), ARGC of them */
        size_t argc;
        char *const *env;             /* the module's environment, KEY=VALUE, NULL-terminated */
        const struct pol_zone *zones;  /* each zone is a preopen at its own path */
        size_t n_zones;
        const char *workdir;          /* NULL, or inside a zone: the "." preopen */
        uint64_t memory_bytes;        /* linear-memory cap where the runtime has one; 0: none */
};
/* NULL-terminated, malloc'd (util_strv_free); NULL on ENOMEM (ERR filled). */
char **wasm_command(const struct wasm_launch *l, struct zb_error *err);
/* The node launcher (JavaScript, run with node -e). */
extern const char wasm_node_launcher[];

/* runtime.c: finding a runtime where the sandbox sees it. */
struct wasm_runtime {
        enum pol_wasm_runtime kind;
        char path[4096];      /* inside the sandbox, e.g. /usr/bin/node */
        char host_path[4096]; /* the same file seen from here (under rootfs) */
};
/* WANT (AUTO: the first found of wasmtime, wasmer, wasmedge, node) in the
 * sandbox's PATH dirs under ROOTFS (NULL: the host's). -ENOENT naming it. */
int wasm_runtime_find(enum pol_wasm_runtime want, const char *path_env, const char *rootfs,
                      struct wasm_runtime *out, struct zb_error *err);
/* `HOST_PATH --version` started now (empty environment; as nobody when
 * root); *FD is its stdout. wasm_version_collect reads the first line into
 * OUT (empty when it said nothing in time) and reaps the child. */
int wasm_version_start(const char *host_path, pid_t *pid, int *fd);
void wasm_version_collect(pid_t pid, int fd, char *out, size_t size);

/* run.c: the backend (src/core/run.c dispatches here). */
int wasm_run(const struct zb_policy *p, struct zb_result **out, struct zb_error *err);
/* zonebox gc: the private module dirs of killed supervisors (this user's,
 * their pid gone, older than a minute); a wasm run does the same first. */
void wasm_gc(void);

#endif
