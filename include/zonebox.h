/* zonebox — run untrusted commands in a Linux sandbox.
 *
 * The public API: build a policy (defaults, a YAML file, Docker-style flags),
 * run it, read the result. Everything else in the tree is internal.
 *
 *     struct zb_error err = {0};
 *     struct zb_policy *p = zb_policy_new();
 *     zb_policy_apply_flag(p, "--timeout", "5s", &err);
 *     zb_policy_set_command(p, argc, argv, &err);
 *     struct zb_result *r = NULL;
 *     if (zb_run(p, &r, &err) == 0) puts(zb_result_json(r));
 *
 * Functions return 0 or a negative errno; on failure the error object holds a
 * one-line message naming the key, flag or layer at fault.
 */
#ifndef ZONEBOX_H
#define ZONEBOX_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ZB_VERSION "0.1.0"

struct zb_error {
        int code;          /* negative errno, 0 when no error */
        char message[512]; /* one line, no trailing newline */
};

struct zb_policy;
struct zb_result;

/* Policy: a fresh policy holds the safe defaults (see docs/config.md). */
struct zb_policy *zb_policy_new(void);
void zb_policy_free(struct zb_policy *p);

/* Merge a YAML config file into the policy. Paths in it are relative to the
 * file. Unknown keys are errors. */
int zb_policy_load_yaml(struct zb_policy *p, const char *path, struct zb_error *err);

/* Apply one command-line flag, e.g. ("--memory", "100m"), ("-v", "./d:/input:ro"),
 * ("--read-only", NULL). Host paths in flags are relative to the working
 * directory. Returns -ENOENT for a flag zonebox does not know. */
int zb_policy_apply_flag(struct zb_policy *p, const char *flag, const char *value,
                         struct zb_error *err);

/* Does this flag take a value? 1 yes, 0 no, -1 unknown flag. */
int zb_flag_takes_value(const char *flag);

/* Set the command and its arguments (argv[0] is resolved with the sandbox's PATH). */
int zb_policy_set_command(struct zb_policy *p, int argc, char *const argv[],
                          struct zb_error *err);

/* Capture stdout/stderr into the result (capped by limits.output) instead of
 * passing them through. */
void zb_policy_set_capture(struct zb_policy *p, int capture);

/* Check the whole policy; zb_run does this too. */
int zb_policy_validate(const struct zb_policy *p, struct zb_error *err);

/* Run the policy's command. Returns 0 when a result was produced (whatever
 * the command did, including setup errors inside the sandbox, which come back
 * as status "setup_error"); a negative errno when nothing could be started
 * (bad policy, a layer that cannot be applied before the start).
 *
 * To have termination signals (SIGINT, SIGTERM, SIGHUP, SIGQUIT) forwarded to
 * the command, block them in the calling thread before calling zb_run. */
int zb_run(const struct zb_policy *p, struct zb_result **out, struct zb_error *err);

/* Remove cgroups left by zonebox supervisors that are gone (killed with
 * SIGKILL, say): those under the cgroups this process runs in, and under
 * CGROUP_PARENT if not NULL. zb_run does this itself before each run. */
int zb_gc(const char *cgroup_parent, unsigned *removed, struct zb_error *err);

/* Result. */
const char *zb_result_status(const struct zb_result *r);
/* The CLI exit code: the command's own; 128+N on signal N; 124 on timeout;
 * 125 zonebox error; 126 not executable; 127 not found; 137 OOM kill. */
int zb_result_exit_code(const struct zb_result *r);
/* The error message of a setup_error result, or NULL. */
const char *zb_result_error(const struct zb_result *r);
/* The result as one JSON object (newly allocated; free with free()). */
char *zb_result_json(const struct zb_result *r);
void zb_result_free(struct zb_result *r);

#ifdef __cplusplus
}
#endif
#endif
