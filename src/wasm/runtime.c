/* Finding a WASI runtime where the sandbox will see it, and asking it its
 * version. The runtime runs inside the sandbox, so it is looked up in the
 * sandbox's PATH dirs as the sandbox's root shows them (the host's system
 * dirs, or rootfs); one found only in a home directory is not usable and is
 * reported as not found. The version is asked outside the sandbox, beside
 * the run, with an empty environment and, when zonebox is root, as nobody. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "wasm.h"

static const enum pol_wasm_runtime auto_order[] = { ZB_WASM_WASMTIME, ZB_WASM_WASMER, ZB_WASM_WASMEDGE,
                                                   ZB_WASM_NODE };

static bool executable(const char *path)
{
        struct stat st;
        return stat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111);
}

/* NAME in the PATH dirs (absolute ones only) under ROOTFS. */
static bool find_in_path(const char *name, const char *path_env, const char *rootfs, struct wasm_runtime *out)
{
        _cleanup_(freep) char *dirs = strdup(path_env);
        char *save = NULL;
        for (char *d = dirs ? strtok_r(dirs, ":", &save) : NULL; d; d = strtok_r(NULL, ":", &save)) {
                if (d[0] != '/')
                        continue;
                int a = snprintf(out->path, sizeof(out->path), "%s/%s", d, name);
                int b = snprintf(out->host_path, sizeof(out->host_path), "%s%s", rootfs ? rootfs : "",
                                 out->path);
                if (a > 0 && (size_t)a < sizeof(out->path) && b > 0 && (size_t)b < sizeof(out->host_path) &&
                    executable(out->host_path))
                        return true;
        }
        return false;
}

int wasm_runtime_find(enum pol_wasm_runtime want, const char *path_env, const char *rootfs,
                      struct wasm_runtime *out, struct zb_error *err)
{
        if (!path_env)
                path_env = DEFAULT_PATH;
        for (size_t i = 0; i < ARRAY_SIZE(auto_order); i++) {
                enum pol_wasm_runtime rt = auto_order[i];
                if (want != ZB_WASM_AUTO && want != rt)
                        continue;
                out->kind = rt;
                if (find_in_path(pol_wasm_runtime_name(rt), path_env, rootfs, out))
                        return 0;
        }
        if (want == ZB_WASM_AUTO)
                return err_set(err, ENOENT,
                                    "wasm runtime (--wasm-runtime auto): none of wasmtime, wasmer, wasmedge, node found in the sandbox's PATH %s%s%s",
                                    path_env, rootfs ? " under rootfs " : "", rootfs ? rootfs : "");
        return err_set(err, ENOENT,
                            "wasm runtime (--wasm-runtime %s): not installed: not found in the sandbox's PATH %s%s%s (the runtime runs inside the sandbox: install it in a system dir)",
                            pol_wasm_runtime_name(want), path_env, rootfs ? " under rootfs " : "",
                            rootfs ? rootfs : "");
}

/* In the child: nothing but stdout, no privileges, then the runtime. */
static void version_child(const char *host_path, int out)
{
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null < 0 || dup2(null, 0) < 0 || dup2(out, 1) < 0 || dup2(null, 2) < 0)
                _exit(127);
        if (geteuid() == 0 && (setgroups(0, NULL) < 0 || setgid(DEFAULT_HOST_ID_FOR_ROOT) < 0 ||
                               setuid(DEFAULT_HOST_ID_FOR_ROOT) < 0))
                _exit(127);
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                _exit(127);
        char *const argv[] = { (char *)host_path, "--version", NULL };
        char *const envp[] = { NULL };
        execve(host_path, argv, envp);
        _exit(127);
}

int wasm_version_start(const char *host_path, pid_t *pid, int *fd)
{
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        pid_t c = fork();
        if (c < 0) {
                int e = errno;
                close(p[0]);
                close(p[1]);
                return -e;
        }
        if (c == 0)
                version_child(host_path, p[1]);
        close(p[1]);
        *pid = c;
        *fd = p[0];
        return 0;
}

/* The first line, without a leading "wasmtime " or the like: "v20.20.2",
 * "wasmtime 25.0.0" stays as printed (names are part of some versions). */
void wasm_version_collect(pid_t pid, int fd, char *out, size_t size)
{
        size_t len = 0;
        uint64_t deadline = util_now_ns() + (uint64_t)WASM_VERSION_TIMEOUT_MS * 1000000u;
        out[0] = '\0';
        while (len + 1 < size) {
                uint64_t now = util_now_ns();
                struct pollfd pfd = { .fd = fd, .events = POLLIN };
                if (now >= deadline || poll(&pfd, 1, (int)((deadline - now) / 1000000u) + 1) <= 0)
                        break;
                ssize_t k = read(fd, out + len, size - 1 - len);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        break;
                len += (size_t)k;
        }
        out[len] = '\0';
        out[strcspn(out, "\r\n")] = '\0';
        for (char *s = out; *s; s++)
                if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
                        *s = '?';
        close(fd);
        kill(pid, SIGKILL); /* gone already when it answered; a hung one is stopped */
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
}
