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
 *
 * Conventions, for every function below unless it says otherwise:
 *   Errors     int functions return 0 or a negative errno (-EINVAL bad value,
 *              -ENOENT unknown flag or no such id, -ENOMEM, or the errno of
 *              the system call that failed) and then fill ERR: err->code is
 *              the same negative errno, err->message one line without a
 *              newline. ERR may be reused; it is only written on failure.
 *              Nothing here prints, exits or raises a signal in the caller.
 *   Ownership  const char * results point into the object they came from
 *              and live as long as it does. char * and char ** results
 *              (zb_result_json, TEXT, WARNINGS, JSON, FINAL_JSON) are the
 *              caller's, freed with free(). Objects from zb_policy_new and
 *              zb_run are freed with zb_policy_free and zb_result_free (both
 *              accept NULL). Strings passed in are copied: the caller may
 *              free them as soon as the call returns. A policy may be freed
 *              right after zb_run returns, the result outlives it.
 *   Threads    Different policies and results may be used from different
 *              threads at once, and zb_run may run in several threads at
 *              once (each sandbox has its own cgroup, pipes and pidfd); one
 *              policy must not be changed while another thread reads it
 *              (zb_run, zb_export, zb_policy_validate only read it).
 *              zb_session_start forks a daemon that goes on running
 *              ordinary code: call it from a single-threaded process.
 *   Processes  zb_run starts the sandbox as a child of the calling process
 *              and waits for it (by pidfd, not SIGCHLD: the caller's SIGCHLD
 *              handling is left alone); nothing of it is left when zb_run
 *              returns, also when the caller is killed (the sandbox dies
 *              with it). Environment read: ZONEBOX_COW_DIR,
 *              ZONEBOX_RUNTIME_DIR, XDG_RUNTIME_DIR, TERM and the variables
 *              that -e KEY copies.
 *   Linking    libzonebox.a only for now (no .so: docs/install.md says
 *              why): cc ... $(pkg-config --cflags --libs --static zonebox).
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

/* For zonebox check: put a small file at ZB_CHECK_LANDLOCK_CANARY in the
 * sandbox's root, outside every Landlock rule, so a probe can show that
 * Landlock (not the mounts) refuses it. */
#define ZB_CHECK_LANDLOCK_CANARY "/.zonebox-landlock-canary"
void zb_policy_set_check_mode(struct zb_policy *p, int on);

/* Command approval (docs/approval.md). When the policy's approval says ask
 * for a command and no approval.command is configured, zb_run calls the
 * policy's ask handler with QUESTION: a few lines for a person (the command,
 * why it is asked, the zones it will see with their modes, the network). The
 * handler returns ZB_ASK_ONCE (run it), ZB_ASK_ALWAYS (run it, and do not ask
 * again for the same argv in this process), ZB_ASK_DENY, or
 * ZB_ASK_NO_TERMINAL when it cannot ask anyone (the command is then denied).
 * Without a handler ask means deny. zb_ask_terminal is the CLI's handler: it
 * asks on the terminal (y/N/a) when stdin and stderr are both terminals. A
 * refused command does not start: the result has status "denied" (exit code
 * 126) and an error naming the rule. */
#define ZB_ASK_NO_TERMINAL (-1)
#define ZB_ASK_DENY 0
#define ZB_ASK_ONCE 1
#define ZB_ASK_ALWAYS 2
typedef int (*zb_ask_fn)(const char *question, void *data);
void zb_policy_set_ask(struct zb_policy *p, zb_ask_fn fn, void *data);
/* DATA: NULL (stdin and stderr) or a struct zb_ask_tty, e.g. a session's
 * exec asking on the terminal of the `zonebox session exec` that sent it. */
struct zb_ask_tty {
        int in_fd, out_fd;
        const char *scope; /* "[a]lways (for this SCOPE)"; NULL: "invocation" */
};
int zb_ask_terminal(const char *question, void *data);

/* Check the whole policy; zb_run does this too. */
/* image: (--image REF) for the namespace and oci backends: REF resolved
 * in the image store (an oci: layout or docker-archive: imported first),
 * its layers made the root, and its config's Env, WorkingDir, User and
 * Entrypoint/Cmd applied where the policy sets none. docker backend: a
 * layout or archive copied into the engine's storage (skopeo), REF then
 * its name there. A no-op without an image. */
int zb_policy_use_image(struct zb_policy *p, struct zb_error *err);
int zb_policy_validate(const struct zb_policy *p, struct zb_error *err);

/* Run the policy's command. Returns 0 when a result was produced (whatever
 * the command did, including setup errors inside the sandbox, which come back
 * as status "setup_error"); a negative errno when nothing could be started
 * (bad policy, a layer that cannot be applied before the start).
 *
 * To have termination signals (SIGINT, SIGTERM, SIGHUP, SIGQUIT) forwarded to
 * the command, block them in the calling thread before calling zb_run. */
int zb_run(const struct zb_policy *p, struct zb_result **out, struct zb_error *err);

/* Translate the policy for another engine without running anything.
 * ENGINE is "docker" (TEXT: the shell-quoted `docker run` line; PATH, if
 * not NULL, is a file to write the seccomp profile to, which the line
 * names), "oci" (PATH: the bundle directory to write, config.json and
 * rootfs/; TEXT: PATH) or "kubernetes" (TEXT: a JSON List of the Pod or Job
 * and its NetworkPolicy; PATH, if not NULL, is a file to write the seccomp
 * profile to, named as a Localhost profile). *WARNINGS (if not NULL) gets one line per layer
 * the engine cannot express ("warning: ...") or expresses by other means
 * ("note: ..."), or NULL. With strict in the policy a warning is an error.
 * TEXT and WARNINGS are malloc'd. */
int zb_export(const struct zb_policy *p, const char *engine, const char *path, char **text,
              char **warnings, struct zb_error *err);

/* Remove cgroups left by zonebox supervisors that are gone (killed with
 * SIGKILL, say): those under the cgroups this process runs in, and under
 * CGROUP_PARENT if not NULL. zb_run does this itself before each run. */
int zb_gc(const char *cgroup_parent, unsigned *removed, struct zb_error *err);

/* Change sets of cow zones (docs/config.md, "cow zones"). STORE is the
 * directory they are kept in; NULL: the default ($ZONEBOX_COW_DIR, else
 * /run/zonebox/cow for root, $XDG_RUNTIME_DIR/zonebox/cow or
 * /tmp/zonebox-UID/cow for others). *JSON gets a malloc'd JSON text.
 *   zb_cow_list    an array: one object per kept change set (what runs whose
 *                  supervisor was killed left unfinished is removed)
 *   zb_cow_diff    one change set: its zones, their changes, and the
 *                  conflicts with the host dirs as they are now
 *   zb_cow_commit  apply one to the host dirs, then remove it. -ESTALE when a
 *                  host dir changed since the run: nothing applied, *JSON
 *                  lists the conflicts
 *   zb_cow_discard remove one */
int zb_cow_list(const char *store, char **json, struct zb_error *err);
int zb_cow_diff(const char *store, const char *id, char **json, struct zb_error *err);
int zb_cow_commit(const char *store, const char *id, char **json, struct zb_error *err);
int zb_cow_discard(const char *store, const char *id, struct zb_error *err);

/* Sessions (docs/sessions.md): a sandbox that stays up between commands.
 * RUNTIME_DIR: where sessions live; NULL: $ZONEBOX_RUNTIME_DIR, else
 * /run/zonebox/sessions (root), $XDG_RUNTIME_DIR/zonebox/sessions or
 * /tmp/zonebox-UID/sessions. SESSION: an id or a name.
 *   zb_session_start  start P's sandbox (no command) under a daemon that
 *                     outlives the caller; ID_OUT gets its id. IDLE_TIMEOUT_MS
 *                     -1: the policy's session.idle_timeout (default 30m); 0:
 *                     never. Returns once the sandbox is ready, or failed.
 *   zb_session_exec   run ARGV in it (approval and audit as the session's
 *                     policy says; ENV adds KEY=VALUE; WORKDIR NULL: the
 *                     session's; TIMEOUT_MS -1: the session's wall_time, 0:
 *                     none). CAPTURE: output into the result, else passed
 *                     to our stdout/stderr. Blocked termination signals
 *                     are forwarded to the command.
 *   zb_session_stop   kill everything in it and remove it; *FINAL_JSON (if
 *                     not NULL) gets the session's own result.
 *   zb_session_list   a JSON array of the live sessions. */
int zb_session_start(struct zb_policy *p, const char *runtime_dir, const char *name,
                     long long idle_timeout_ms, char *id_out, size_t id_size, struct zb_error *err);
int zb_session_exec(const char *runtime_dir, const char *session, char *const argv[], int argc,
                    char *const env[], int n_env, const char *workdir, long long timeout_ms,
                    int capture, struct zb_result **out, struct zb_error *err);
int zb_session_stop(const char *runtime_dir, const char *session, char **final_json,
                    struct zb_error *err);
int zb_session_list(const char *runtime_dir, char **json, struct zb_error *err);

/* Result. */
const char *zb_result_status(const struct zb_result *r);
/* The CLI exit code: the command's own; 128+N on signal N; 124 on timeout;
 * 125 zonebox error; 126 not executable or denied by the approval policy;
 * 127 not found; 137 OOM kill. */
int zb_result_exit_code(const struct zb_result *r);
/* The error message of a setup_error result, or NULL. */
const char *zb_result_error(const struct zb_result *r);
/* The id of the change set the run's cow zones left (zb_cow_diff), or NULL
 * when none was kept (no cow zone, nothing changed, committed, discarded). */
const char *zb_result_cow_id(const struct zb_result *r);
/* Why the commit that cow_action asked for was not done (or the changes
 * could not be read), or NULL. The exit code is then 125 if it was 0. */
const char *zb_result_cow_error(const struct zb_result *r);
/* Settings the run did not use ("key: why; ignored"), one per line, or
 * NULL. Owned by R. */
const char *zb_result_warnings(const struct zb_result *r);
/* One line on the limits the run reached without a status of their own
 * (output cap, file size, a zone's size cap), or NULL; free with free(). */
char *zb_result_limit_note(const struct zb_result *r);
/* What the sandbox stopped, for a person: "write /etc/passwd (root is
 * read-only); lookup google.com (network none)", at most one line, or NULL
 * when it stopped nothing; free with free(). */
char *zb_result_blocked(const struct zb_result *r);
/* The result as one JSON object (newly allocated; free with free()). */
char *zb_result_json(const struct zb_result *r);
void zb_result_free(struct zb_result *r);

#ifdef __cplusplus
}
#endif
#endif
