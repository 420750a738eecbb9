/* zb_export and eng_run: the entry points of the engine backends.
 * Export translates without running anything; the notes (what the engine
 * cannot express) come back as text for the caller to show. */
#define _GNU_SOURCE
#include <stdio.h>

#include "../core/keytab.h"
#include "engine.h"
#include "engines.h"

int eng_run(const struct zb_policy *p, struct zb_result **out, struct zb_error *err)
{
        bool docker = p->backend == ZB_BACKEND_DOCKER;
        int refused = kt_refuse(p, p->backend, err); /* validation refused it; fail closed here as well */
        if (refused < 0)
                return refused;
        struct zb_result *r = res_new(docker ? "docker" : "oci");
        if (!r)
                return err_set(err, ENOMEM, "out of memory");
        int ret = docker ? eng_docker_run(p, r, err) : eng_oci_run(p, r, err);
        if (ret < 0) {
                zb_result_free(r);
                return ret;
        }
        *out = r;
        return 0;
}

/* Validation wants a command; an export may leave it to the image. The
 * keys the engine refuses (keytab.c: cow zones, network.allow, ...) are
 * refused for its column B, whatever backend the policy names. */
static int validate_for_export(const struct zb_policy *p, enum pol_backend b, struct zb_error *err)
{
        static char sh[] = "/bin/sh";
        static char *argv[] = { sh, NULL };
        struct zb_policy tmp = *p;
        if (!tmp.argc) {
                tmp.argv = argv;
                tmp.argc = 1;
        }
        tmp.backend = b;
        return zb_policy_validate(&tmp, err);
}

static char *json_text(json_object *o)
{
        const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                                  JSON_C_TO_STRING_NOSLASHESCAPE);
        return s ? util_asprintf("%s\n", s) : NULL;
}

/* Write the policy's seccomp profile to PATH (nothing when unconfined). */
static int write_profile(const struct zb_policy *p, const char *path, struct eng_notes *n,
                         struct zb_error *err)
{
        json_object *sc = NULL;
        int r = eng_seccomp_oci(p, &sc, n, err);
        if (r < 0 || !sc)
                return r;
        _cleanup_(freep) char *s = json_text(sc);
        json_object_put(sc);
        return s ? eng_write_file(path, s, err) : err_set(err, ENOMEM, "out of memory");
}

static int export_docker(const struct zb_policy *p, const char *path, char **text,
                         struct eng_notes *n, struct zb_error *err)
{
        struct eng_argv a = { 0 };
        struct eng_docker_opts o = { .cli = eng_docker_cli(p), .seccomp_file = path };
        const char *base = strrchr(o.cli, '/');
        o.podman = strcmp(base ? base + 1 : o.cli, "podman") == 0;
        int r = 0;

        /* The profile the command line names, written where asked. */
        if (path && (r = write_profile(p, path, n, err)) < 0)
                return r;
        r = eng_docker_argv(p, &o, &a, n, err);
        if (r == 0) {
                char *line = eng_shell_join(a.v);
                *text = line ? util_asprintf("%s\n", line) : NULL;
                free(line);
                if (!*text)
                        r = err_set(err, ENOMEM, "out of memory");
        }
        eng_argv_free(&a);
        return r;
}

int zb_export(const struct zb_policy *p, const char *engine, const char *path, char **text,
              char **warnings, struct zb_error *err)
{
        struct eng_notes n = { 0 };
        json_object *o = NULL;
        int r;

        *text = NULL;
        if (warnings)
                *warnings = NULL;
        enum pol_backend b;
        if (pol_backend_parse(engine, &b) < 0 || b == ZB_BACKEND_NAMESPACE || b == ZB_BACKEND_WASM)
                return err_set(err, EINVAL, "export: unknown engine '%s' (docker, oci or kubernetes)", engine);
        if ((r = validate_for_export(p, b, err)) < 0)
                return r;
        if (strcmp(engine, "docker") == 0) {
                r = export_docker(p, path, text, &n, err);
        } else if (strcmp(engine, "oci") == 0) {
                if (!path)
                        return err_set(err, EINVAL, "export oci: the bundle directory is required");
                r = eng_oci_write_bundle(p, path, &n, err);
                if (r == 0)
                        *text = util_asprintf("%s\n", path);
        } else if (strcmp(engine, "kubernetes") == 0) {
                bool confined = !(p->security.seccomp && strcmp(p->security.seccomp, "unconfined") == 0);
                struct eng_notes scratch = { 0 };
                /* The profile's own notes are the manifest's business: only the file is wanted here. */
                r = path && confined ? write_profile(p, path, &scratch, err) : 0;
                eng_notes_free(&scratch);
                if (r == 0)
                        r = eng_k8s_manifest(p, confined ? path : NULL, &o, &n, err);
                if (r == 0)
                        *text = json_text(o);
                json_object_put(o);
        } else {
                return err_set(err, EINVAL, "export: unknown engine '%s' (docker, oci or kubernetes)",
                                    engine);
        }
        if (r == 0 && !*text)
                r = err_set(err, ENOMEM, "out of memory");
        if (r == 0 && b != ZB_BACKEND_KUBERNETES) /* the manifest's own (kubernetes.c) */
                pol_unused_each(p, b, true, eng_warn_line, &n);
        if (r == 0)
                r = eng_notes_check(&n, p, engine, err);
        if (r == 0 && warnings)
                *warnings = eng_notes_text(&n);
        if (r < 0) {
                free(*text);
                *text = NULL;
        }
        eng_notes_free(&n);
        return r;
}
