/* Where zonebox keeps its state. Pure path computations from the
 * environment, the uid and strings: no directory is made or opened here
 * (one stat, to see that $XDG_RUNTIME_DIR is the user's). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "paths.h"
#include "policy.h"

int cow_store_default(uid_t euid, const char *xdg_runtime, char *buf, size_t n)
{
        int len;
        if (euid == 0)
                len = snprintf(buf, n, "%s", ZB_COW_ROOT_STORE);
        else if (xdg_runtime && xdg_runtime[0] == '/')
                len = snprintf(buf, n, "%s/zonebox/cow", xdg_runtime);
        else
                len = snprintf(buf, n, "/tmp/zonebox-%u/cow", (unsigned)euid);
        return len < 0 || (size_t)len >= n ? -ENAMETOOLONG : 0;
}

static bool xdg_usable(const char *xdg)
{
        struct stat st;
        return xdg && xdg[0] == '/' && stat(xdg, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == geteuid();
}

int cow_store_path(const char *override, char *buf, size_t n, struct zb_error *err)
{
        const char *env = getenv("ZONEBOX_COW_DIR");
        const char *dir = override && override[0] ? override : env && env[0] ? env : NULL;
        if (dir) {
                _cleanup_(freep) char *abs = util_path_absolute(NULL, dir);
                if (!abs || strlen(abs) >= n)
                        return err_set(err, ENAMETOOLONG, "cow: store path '%s' is not usable", dir);
                memcpy(buf, abs, strlen(abs) + 1);
                return 0;
        }
        const char *xdg = getenv("XDG_RUNTIME_DIR");
        if (cow_store_default(geteuid(), xdg_usable(xdg) ? xdg : NULL, buf, n) < 0)
                return err_set(err, ENAMETOOLONG, "cow: store path too long");
        return 0;
}

/* The sessions directory: --runtime-dir, $ZONEBOX_RUNTIME_DIR, else
 * /run/zonebox/sessions (root), $XDG_RUNTIME_DIR/zonebox/sessions, or
 * /tmp/zonebox-UID/sessions. */
int sess_runtime_path(const char *override, char *buf, size_t n)
{
        const char *env = getenv("ZONEBOX_RUNTIME_DIR");
        const char *xdg = getenv("XDG_RUNTIME_DIR");
        const char *dir = override && override[0] ? override : env && env[0] ? env : NULL;
        int len;
        uid_t uid = geteuid();

        if (dir) {
                _cleanup_(freep) char *abs = util_path_absolute(NULL, dir);
                len = abs ? snprintf(buf, n, "%s", abs) : -1;
        } else if (uid == 0) {
                len = snprintf(buf, n, "/run/zonebox/sessions");
        } else if (xdg_usable(xdg)) {
                len = snprintf(buf, n, "%s/zonebox/sessions", xdg);
        } else {
                len = snprintf(buf, n, "/tmp/zonebox-%u/sessions", (unsigned)uid);
        }
        /* sun_path holds 108 bytes: DIR/ID/sock must fit. */
        size_t sun_path_size = sizeof(((struct sockaddr_un *)0)->sun_path);
        if (len < 0 || (size_t)len >= n || (size_t)len + 1 + SESSION_ID_LEN + 5 >= sun_path_size)
                return -ENAMETOOLONG;
        return 0;
}
