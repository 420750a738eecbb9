/* embed.c: zonebox as a library. Builds a policy, runs a command in the
 * sandbox and prints the verdict, through include/zonebox.h only.
 *
 *   cc -o embed embed.c $(pkg-config --cflags --libs --static zonebox)
 *   ./embed                      # echo hello in a sandbox: status exited, exit code 0
 *   ./embed sh -c 'exit 3'       # any command: the verdict is its own exit code
 *
 * As an ordinary user without a delegated cgroup, add --allow-unenforced
 * the way zonebox run does: ZONEBOX_EMBED_UNENFORCED=1 ./embed */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <zonebox.h>

static int fail(const char *what, const struct zb_error *err)
{
        fprintf(stderr, "embed: %s: %s\n", what, err->message);
        return 125;
}

int main(int argc, char **argv)
{
        static char *const hello[] = { "sh", "-c", "echo hello from the sandbox > /scratch/f && cat /scratch/f", NULL };
        struct zb_error err = { 0 };
        struct zb_policy *p = zb_policy_new();
        if (!p)
                return 125;

        /* The same flags as zonebox run: each one a key of the policy. */
        if (zb_policy_apply_flag(p, "--timeout", "10s", &err) < 0 ||
            zb_policy_apply_flag(p, "--memory", "128m", &err) < 0 ||
            zb_policy_apply_flag(p, "--tmpfs", "/scratch:size=8m", &err) < 0 ||
            (getenv("ZONEBOX_EMBED_UNENFORCED") &&
             zb_policy_apply_flag(p, "--allow-unenforced", NULL, &err) < 0) ||
            zb_policy_set_command(p, argc > 1 ? argc - 1 : 3, argc > 1 ? argv + 1 : hello, &err) < 0) {
                zb_policy_free(p);
                return fail("policy", &err);
        }
        zb_policy_set_capture(p, 1);

        /* Ctrl-C should reach the command, not kill us mid-run (zonebox.h, zb_run). */
        sigset_t sigs;
        sigemptyset(&sigs);
        sigaddset(&sigs, SIGINT);
        sigaddset(&sigs, SIGTERM);
        sigprocmask(SIG_BLOCK, &sigs, NULL);

        struct zb_result *r = NULL;
        int rc = zb_run(p, &r, &err);
        zb_policy_free(p);
        if (rc < 0)
                return fail("run", &err);

        char *json = zb_result_json(r);
        printf("status %s, exit code %d\n%s\n", zb_result_status(r), zb_result_exit_code(r),
               json ? json : "");
        free(json);
        int code = zb_result_exit_code(r);
        zb_result_free(r);
        return code;
}
