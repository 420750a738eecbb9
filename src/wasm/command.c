/* The runtime's command line from the policy: one builder per runtime, each
 * giving every zone as a preopen at its own path, the module's environment
 * and arguments, and the runtime's own linear-memory cap where it has one.
 * Pure: unit-tested for the exact argv (tests/unit/test_wasm.c). Read-only
 * preopens are asked for where the runtime has them (wasmedge); everywhere
 * the kernel's read-only mount is the wall that holds. */
#define _GNU_SOURCE
#include <json-c/json.h>
#include <stdio.h>

#include "wasm.h"

/* node:wasi (preview 1) from Node.js 20. The configuration comes as JSON in
 * argv[1]; the module gets its own environment (node itself runs with the
 * sandbox's defaults only, so no NODE_OPTIONS reaches it). A trap or a
 * module that cannot be instantiated is told apart from any exit code by
 * the signal the launcher sends itself (wasm.h). */
const char wasm_node_launcher[] =
        "'use strict';"
        "const { WASI } = require('node:wasi');"
        "const fs = require('node:fs');"
        "const c = JSON.parse(process.argv[1]);"
        "function stop(mark, sig, e) {"
        "  const m = e instanceof Error ? e.name + ': ' + e.message : String(e);"
        "  try { fs.writeSync(2, mark + m.split('\\n')[0] + '\\n'); } catch (_) {}"
        "  process.kill(process.pid, sig);"
        "  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5000);"
        "  process.exit(125);"
        "}"
        "let wasi, inst;"
        "try {"
        "  wasi = new WASI({ version: 'preview1', args: c.args, env: c.env, preopens: c.preopens,"
        "                    returnOnExit: true });"
        "  inst = new WebAssembly.Instance(new WebAssembly.Module(fs.readFileSync(c.module)),"
        "                                  wasi.getImportObject());"
        "} catch (e) { stop('" WASM_MARK_NOT_RUNNABLE "', 'SIGTRAP', e); }"
        "let code;"
        "try { code = wasi.start(inst); } catch (e) {"
        "  if (e instanceof WebAssembly.RuntimeError || e instanceof RangeError)"
        "    stop('" WASM_MARK_TRAP "', 'SIGILL', e);"
        "  throw e;"
        "}"
        "process.exitCode = code;";

struct argv {
        char **v;
        size_t n, cap;
        bool oom;
};

static void add(struct argv *a, const char *s)
{
        if (a->oom)
                return;
        if (a->n + 2 > a->cap) {
                size_t cap = a->cap ? a->cap * 2 : 32;
                char **v = realloc(a->v, cap * sizeof(*v));
                if (!v) {
                        a->oom = true;
                        return;
                }
                a->v = v;
                a->cap = cap;
        }
        a->v[a->n] = s ? strdup(s) : NULL;
        if (!a->v[a->n]) {
                a->oom = true;
                return;
        }
        a->v[++a->n] = NULL;
}

static void addf(struct argv *a, const char *fmt, ...) ZB_PRINTF(2, 3);
static void addf(struct argv *a, const char *fmt, ...)
{
        char *s = NULL;
        va_list ap;
        va_start(ap, fmt);
        int n = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (n < 0) {
                a->oom = true;
                return;
        }
        add(a, s);
        free(s);
}

static uint64_t pages(const struct wasm_launch *l)
{
        uint64_t n = l->memory_bytes / WASM_PAGE_BYTES;
        return n ? n : 1;
}

static void env_args(struct argv *a, const struct wasm_launch *l)
{
        for (char *const *e = l->env; e && *e; e++) {
                add(a, "--env");
                add(a, *e);
        }
}

/* The module and its arguments after the runtime's options: args[0] is the
 * module's own name, which these runtimes take from the module path. */
static void module_args(struct argv *a, const struct wasm_launch *l, bool dashes_before_args)
{
        add(a, l->module);
        if (dashes_before_args)
                add(a, "--");
        for (size_t i = 1; i < l->argc; i++)
                add(a, l->args[i]);
}

/* wasmtime run (14 and later): --dir HOST::GUEST, -W max-memory-size. */
static void wasmtime(struct argv *a, const struct wasm_launch *l)
{
        add(a, "run");
        if (l->memory_bytes) {
                add(a, "-W");
                addf(a, "max-memory-size=%llu", (unsigned long long)l->memory_bytes);
        }
        for (size_t i = 0; i < l->n_zones; i++) {
                add(a, "--dir");
                addf(a, "%s::%s", l->zones[i].path, l->zones[i].path);
        }
        if (l->workdir) {
                add(a, "--dir");
                addf(a, "%s::.", l->workdir);
        }
        env_args(a, l);
        add(a, "--");
        module_args(a, l, false);
}

/* wasmer run: --mapdir GUEST:HOST; the module's arguments after "--". No
 * memory cap on its command line: the cgroup is the limit. */
static void wasmer(struct argv *a, const struct wasm_launch *l)
{
        add(a, "run");
        for (size_t i = 0; i < l->n_zones; i++) {
                add(a, "--mapdir");
                addf(a, "%s:%s", l->zones[i].path, l->zones[i].path);
        }
        if (l->workdir) {
                add(a, "--mapdir");
                addf(a, ".:%s", l->workdir);
        }
        env_args(a, l);
        module_args(a, l, true);
}

/* wasmedge: --dir GUEST:HOST[:readonly], --memory-page-limit (wasmedge(1)). */
static void wasmedge(struct argv *a, const struct wasm_launch *l)
{
        for (size_t i = 0; i < l->n_zones; i++) {
                add(a, "--dir");
                addf(a, "%s:%s%s", l->zones[i].path, l->zones[i].path,
                     l->zones[i].mode == ZB_ZONE_RO ? ":readonly" : "");
        }
        if (l->workdir) {
                add(a, "--dir");
                addf(a, ".:%s", l->workdir);
        }
        env_args(a, l);
        if (l->memory_bytes) {
                add(a, "--memory-page-limit");
                addf(a, "%llu", (unsigned long long)pages(l));
        }
        add(a, "--");
        module_args(a, l, false);
}

/* The launcher's configuration: {"module", "args", "env", "preopens"}. */
static char *node_config(const struct wasm_launch *l)
{
        json_object *o = json_object_new_object(), *args = json_object_new_array(),
                    *env = json_object_new_object(), *pre = json_object_new_object();
        char *s = NULL;
        if (!o || !args || !env || !pre) {
                json_object_put(args);
                json_object_put(env);
                json_object_put(pre);
                goto out;
        }
        for (size_t i = 0; i < l->argc; i++)
                json_object_array_add(args, json_object_new_string(l->args[i]));
        for (char *const *e = l->env; e && *e; e++) {
                const char *eq = strchr(*e, '=');
                _cleanup_(freep) char *k = eq ? strndup(*e, (size_t)(eq - *e)) : NULL;
                if (k)
                        json_object_object_add(env, k, json_object_new_string(eq + 1));
        }
        for (size_t i = 0; i < l->n_zones; i++)
                json_object_object_add(pre, l->zones[i].path, json_object_new_string(l->zones[i].path));
        if (l->workdir)
                json_object_object_add(pre, ".", json_object_new_string(l->workdir));
        json_object_object_add(o, "module", json_object_new_string(l->module));
        json_object_object_add(o, "args", args);
        json_object_object_add(o, "env", env);
        json_object_object_add(o, "preopens", pre);
        s = util_strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
out:
        json_object_put(o);
        return s;
}

/* node: --no-warnings hides node:wasi's ExperimentalWarning from the
 * module's stderr; --wasm-max-mem-pages is V8's linear-memory cap.
 * --single-threaded-gc: with concurrent GC threads, node 20.20 (V8 11.3)
 * aborted (SIGABRT, no message) in 13 of 18 runs where memory.grow hit the
 * cap; with it, in none of 23 (tests/wasm/memhog.c and a grow loop). */
static void node(struct argv *a, const struct wasm_launch *l)
{
        add(a, "--no-warnings");
        add(a, "--single-threaded-gc");
        if (l->memory_bytes)
                addf(a, "--wasm-max-mem-pages=%llu", (unsigned long long)pages(l));
        add(a, "-e");
        add(a, wasm_node_launcher);
        add(a, "--");
        _cleanup_(freep) char *config = node_config(l);
        if (!config)
                a->oom = true;
        add(a, config);
}

char **wasm_command(const struct wasm_launch *l, struct zb_error *err)
{
        struct argv a = { 0 };
        add(&a, l->runtime_path);
        switch (l->runtime) {
        case ZB_WASM_WASMTIME:
                wasmtime(&a, l);
                break;
        case ZB_WASM_WASMER:
                wasmer(&a, l);
                break;
        case ZB_WASM_WASMEDGE:
                wasmedge(&a, l);
                break;
        case ZB_WASM_NODE:
                node(&a, l);
                break;
        case ZB_WASM_AUTO:
                util_strv_free(a.v);
                err_set(err, EINVAL, "wasm runtime: auto must be resolved first");
                return NULL;
        }
        if (a.oom) {
                util_strv_free(a.v);
                err_set(err, ENOMEM, "wasm runtime command: out of memory");
                return NULL;
        }
        return a.v;
}
