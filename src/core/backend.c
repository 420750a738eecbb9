/* Backends by name: the keys that choose them (the backend names' one
 * table is policy.c's pol_backend_name), the one table of wasm runtime
 * names, the keys that choose them (backend, wasm.runtime, and runtime:
 * under backend: wasm), and the value rules of the wasm backend. Pure
 * policy: nothing here touches the host. */
#define _GNU_SOURCE
#include <stdio.h>

#include "keys.h"


/* The order of auto: the standalone runtimes first (their own start is a
 * few ms), node last (its start dominates a short run). */
static const char *const runtime_names[] = {
        [ZB_WASM_AUTO] = "auto",         [ZB_WASM_WASMTIME] = "wasmtime", [ZB_WASM_WASMER] = "wasmer",
        [ZB_WASM_WASMEDGE] = "wasmedge", [ZB_WASM_NODE] = "node",
};

const char *pol_wasm_runtime_name(enum pol_wasm_runtime rt)
{
        return (unsigned)rt < ARRAY_SIZE(runtime_names) ? runtime_names[rt] : "auto";
}

static int runtime_parse(const char *s, enum pol_wasm_runtime *out)
{
        for (size_t i = 0; i < ARRAY_SIZE(runtime_names); i++)
                if (strcmp(s, runtime_names[i]) == 0) {
                        *out = (enum pol_wasm_runtime)i;
                        return 0;
                }
        return -EINVAL;
}

int pol_backend_set_key(struct zb_policy *p, const char *key, const char *value, const char *label,
                       struct zb_error *err)
{
        if (strcmp(key, "backend") == 0) {
                if (pol_backend_parse(value, &p->backend) < 0)
                        return err_set(err, EINVAL, "%s: invalid value '%s' (%s)", label, value,
                                       "namespace, docker, oci, kubernetes or wasm");
                return 0;
        }
        if (strcmp(key, "wasm.runtime") == 0) {
                if (runtime_parse(value, &p->wasm.runtime) < 0)
                        return err_set(err, EINVAL, "%s: invalid value '%s' (%s)", label, value,
                                            "wasmtime, wasmer, wasmedge, node or auto");
                p->wasm.runtime_set = true;
                return 0;
        }
        return -ENOENT;
}

int pol_wasm_runtime_wanted(const struct zb_policy *p, enum pol_wasm_runtime *out, struct zb_error *err)
{
        *out = p->wasm.runtime;
        if (p->wasm.runtime_set || !p->engine.runtime[0])
                return 0;
        /* runtime: wasmtime, as the seed writes it under backend: wasm. */
        if (runtime_parse(p->engine.runtime, out) < 0)
                return err_set(err, EINVAL,
                                    "runtime (--runtime): '%s' is not a wasm runtime (wasmtime, wasmer, wasmedge, node or auto; or use --wasm-runtime)",
                                    p->engine.runtime);
        return 0;
}

/* -w must be a zone or inside one: it becomes the module's "." preopen, and
 * nothing outside the zones is the module's to see. */
static bool in_a_zone(const struct zb_policy *p, const char *path)
{
        for (size_t i = 0; i < p->n_zones; i++) {
                size_t n = strlen(p->zones[i].path);
                if (strncmp(path, p->zones[i].path, n) == 0 && (path[n] == '\0' || path[n] == '/'))
                        return true;
        }
        return false;
}

/* The module runs in the namespace sandbox through its runtime, so every
 * layer applies. The keys it refuses outright (network, network.allow,
 * image, engine_cli) are keytab.c's rows; here are the rules about values. */
int pol_backend_validate(const struct zb_policy *p, struct zb_error *err)
{
        enum pol_wasm_runtime rt;

        if (p->backend != ZB_BACKEND_WASM)
                return 0;
        if (p->check_canary)
                return err_set(err, ENOTSUP,
                                    "backend: wasm: zonebox check probes with native programs; check the namespace backend, whose sandbox the runtime runs in");
        if (p->workdir && !in_a_zone(p, p->workdir))
                return err_set(err, EINVAL,
                                    "workdir (-w %s): with backend wasm it must be a zone or inside one (it is the module's \".\" preopen)",
                                    p->workdir);
        return pol_wasm_runtime_wanted(p, &rt, err);
}
