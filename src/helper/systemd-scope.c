/* zonebox-systemd: ask a systemd manager over D-Bus (sd-bus) for a transient
 * scope with Delegate=yes holding one process — what crun's and Podman's
 * systemd cgroup managers do. zonebox itself links static-pie and Debian
 * ships libsystemd only as a shared library, so this small dynamic program
 * is the one place that links it; src/ns/systemd.c runs it.
 *
 *   zonebox-systemd scope NAME PID    start NAME.scope with PID in it; wait
 *                                     until the job is done (5 s at most)
 *
 * The manager: the user's own (its bus at $DBUS_SESSION_BUS_ADDRESS or
 * $XDG_RUNTIME_DIR/bus, /run/user/UID/bus when neither is set) for an
 * ordinary user, the system manager for root. Exit 0 when the scope runs,
 * 1 with one line on stderr naming the step that failed. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#define WAIT_USEC 5000000ull

struct job {
        const char *path; /* the job object StartTransientUnit returned */
        char result[32];  /* JobRemoved's result: "done" on success */
        bool removed;
};

static int fail(const char *what, int r)
{
        fprintf(stderr, "zonebox-systemd: %s: %s\n", what, strerror(r < 0 ? -r : r));
        return 1;
}

static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        struct job *job = userdata;
        const char *path, *unit, *result;
        uint32_t id;
        (void)ret_error;
        if (sd_bus_message_read(m, "uoss", &id, &path, &unit, &result) < 0 || !job->path ||
            strcmp(path, job->path) != 0)
                return 0;
        snprintf(job->result, sizeof(job->result), "%s", result);
        job->removed = true;
        return 0;
}

static int open_bus(sd_bus **bus)
{
        if (geteuid() == 0)
                return sd_bus_open_system(bus);
        if (!getenv("DBUS_SESSION_BUS_ADDRESS") && !getenv("XDG_RUNTIME_DIR")) {
                char dir[64];
                struct stat st;
                snprintf(dir, sizeof(dir), "/run/user/%u", (unsigned)geteuid());
                if (stat(dir, &st) == 0 && st.st_uid == geteuid())
                        setenv("XDG_RUNTIME_DIR", dir, 1);
        }
        return sd_bus_open_user(bus);
}

static uint64_t now_usec(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000ull + (uint64_t)ts.tv_nsec / 1000;
}

static int start_scope(const char *name, uint32_t pid)
{
        sd_bus *bus = NULL;
        sd_bus_message *m = NULL, *reply = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        struct job job = { 0 };
        int r, rc = 1;

        if ((r = open_bus(&bus)) < 0)
                return fail(geteuid() ? "cannot reach the systemd user manager (no user session bus)"
                                      : "cannot reach the systemd system bus",
                            r);
        /* Subscribe before the call, so the job cannot finish unseen. */
        r = sd_bus_match_signal(bus, NULL, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                "org.freedesktop.systemd1.Manager", "JobRemoved", on_job_removed, &job);
        if (r < 0) {
                fail("subscribe to JobRemoved", r);
                goto out;
        }
        r = sd_bus_message_new_method_call(bus, &m, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                           "org.freedesktop.systemd1.Manager", "StartTransientUnit");
        if (r >= 0)
                r = sd_bus_message_append(m, "ss", name, "fail");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "(sv)");
        if (r >= 0)
                r = sd_bus_message_append(m, "(sv)(sv)(sv)(sv)", "PIDs", "au", 1, pid, "Delegate", "b", 1,
                                          "CollectMode", "s", "inactive-or-failed", "Description", "s",
                                          "zonebox sandbox");
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_message_append(m, "a(sa(sv))", 0);
        if (r < 0) {
                fail("build the StartTransientUnit call", r);
                goto out;
        }
        r = sd_bus_call(bus, m, WAIT_USEC, &error, &reply);
        if (r < 0) {
                fprintf(stderr, "zonebox-systemd: StartTransientUnit %s: %s\n", name,
                        error.message ? error.message : strerror(-r));
                goto out;
        }
        if ((r = sd_bus_message_read(reply, "o", &job.path)) < 0) {
                fail("read the job of StartTransientUnit", r);
                goto out;
        }
        for (uint64_t end = now_usec() + WAIT_USEC; !job.removed;) {
                uint64_t t = now_usec();
                if (t >= end) {
                        fprintf(stderr, "zonebox-systemd: the job starting %s did not finish in %llu s\n", name,
                                WAIT_USEC / 1000000ull);
                        goto out;
                }
                r = sd_bus_process(bus, NULL);
                if (r < 0) {
                        fail("read from the bus", r);
                        goto out;
                }
                if (r == 0 && (r = sd_bus_wait(bus, end - t)) < 0) {
                        fail("wait on the bus", r);
                        goto out;
                }
        }
        if (strcmp(job.result, "done") != 0)
                fprintf(stderr, "zonebox-systemd: starting %s: job %s\n", name, job.result);
        else
                rc = 0;
out:
        sd_bus_error_free(&error);
        sd_bus_message_unref(reply);
        sd_bus_message_unref(m);
        sd_bus_flush_close_unref(bus);
        return rc;
}

int main(int argc, char **argv)
{
        char *end;
        if (argc != 4 || strcmp(argv[1], "scope") != 0) {
                fprintf(stderr, "usage: zonebox-systemd scope NAME PID\n");
                return 2;
        }
        errno = 0;
        unsigned long pid = strtoul(argv[3], &end, 10);
        if (errno || *end || pid == 0 || pid > INT32_MAX) {
                fprintf(stderr, "zonebox-systemd: bad pid '%s'\n", argv[3]);
                return 2;
        }
        return start_scope(argv[2], (uint32_t)pid);
}
