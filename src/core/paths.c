/* Where zonebox keeps its state: pure path computations (no directory is
 * created or checked here), shared by the code that creates the state and
 * by policy.c, which keeps every zone off it. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "paths.h"
#include "policy.h"

static bool xdg_usable(const char *xdg)
{
        struct stat st;
        return xdg && xdg[0] == '/' && stat(xdg, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == geteuid();
}

/* The sessions directory: --runtime-dir, $ZONEBOX_RUNTIME_DIR, else
 * /run/zonebox/sessions (root), $XDG_RUNTIME_DIR/zonebox/sessions, or
 * /tmp/zonebox-UID/sessions. */
int zb_session_runtime_path(const char *override, char *buf, size_t n)
{
        const char *env = getenv("ZONEBOX_RUNTIME_DIR");
        const char *xdg = getenv("XDG_RUNTIME_DIR");
        const char *dir = override && override[0] ? override : env && env[0] ? env : NULL;
        int len;
        uid_t uid = geteuid();

        if (dir) {
                _cleanup_(freep) char *abs = zb_path_absolute(NULL, dir);
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
