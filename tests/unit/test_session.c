/* Sessions (src/ns/session.c): names and ids, and the runtime directory's
 * walls, through the public list call (no sandbox is started here; the
 * integration tests in tests/integration/test_session.py start real ones). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ns/session.h"
#include "test.h"
#include "zonebox.h"

TEST(session_ids_and_names)
{
        CHECK(sess_id_valid("0123456789ab"));
        CHECK(!sess_id_valid("0123456789AB")); /* ids are lowercase */
        CHECK(!sess_id_valid("0123456789a"));
        CHECK(!sess_id_valid("0123456789abc"));
        CHECK(!sess_id_valid("0123456789ag"));
        CHECK(!sess_id_valid(""));
        CHECK(!sess_id_valid(NULL));

        CHECK(sess_name_valid("task1"));
        CHECK(sess_name_valid("agent_run-2.b"));
        CHECK(sess_name_valid("0123456789abc")); /* 13 hex: not an id */
        CHECK(!sess_name_valid("0123456789ab"));  /* would shadow an id */
        CHECK(!sess_name_valid(""));
        CHECK(!sess_name_valid(NULL));
        CHECK(!sess_name_valid("a b"));
        CHECK(!sess_name_valid("../x"));
        CHECK(!sess_name_valid(".hidden"));
        CHECK(!sess_name_valid("-flag"));
        CHECK(!sess_name_valid("a/b"));
        CHECK(!sess_name_valid("\xc3\xa9t\xc3\xa9"));
        char longname[66];
        memset(longname, 'a', 65);
        longname[65] = '\0';
        CHECK(!sess_name_valid(longname));
        longname[64] = '\0';
        CHECK(sess_name_valid(longname));
}

static void write_file(const char *path, const char *text)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        CHECK(fd >= 0);
        if (fd >= 0) {
                CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
                close(fd);
        }
}

TEST(session_runtime_dir)
{
        char base[] = "/tmp/zb-unit-rt-XXXXXX", dir[128], entry[192], path[256];
        struct zb_error err = { 0 };
        char *json = NULL;

        CHECK(mkdtemp(base) != NULL);
        snprintf(dir, sizeof(dir), "%s/sessions", base);

        /* Missing: no sessions, nothing created by a list. */
        CHECK(zb_session_list(dir, &json, &err) == 0);
        CHECK(json && strcmp(json, "[]") == 0);
        free(json);
        json = NULL;
        struct stat st;
        CHECK(stat(dir, &st) < 0 && errno == ENOENT);

        /* Others could enter it: refused, the message names it. */
        CHECK(mkdir(dir, 0755) == 0);
        CHECK(zb_session_list(dir, &json, &err) == -EPERM);
        CHECK(strstr(err.message, dir) != NULL && strstr(err.message, "0700") != NULL);
        CHECK(json == NULL);

        /* A symlink in its place: refused too. */
        CHECK(rmdir(dir) == 0);
        CHECK(symlink("/tmp", dir) == 0);
        CHECK(zb_session_list(dir, &json, &err) == -EPERM);
        CHECK(unlink(dir) == 0);

        /* A stale entry (its daemon is gone) is removed by list; a live one
         * (this process, with its real start time) stays. */
        CHECK(mkdir(dir, 0700) == 0);
        snprintf(entry, sizeof(entry), "%s/0123456789ab", dir);
        CHECK(mkdir(entry, 0700) == 0);
        snprintf(path, sizeof(path), "%s/info.json", entry);
        write_file(path, "{\"id\":\"0123456789ab\",\"name\":\"old\",\"pid\":2147483646,\"pid_start\":1}");
        CHECK(zb_session_list(dir, &json, &err) == 0);
        CHECK(json && strcmp(json, "[]") == 0);
        free(json);
        json = NULL;
        CHECK(stat(entry, &st) < 0 && errno == ENOENT);

        /* Not an id: left alone. */
        snprintf(entry, sizeof(entry), "%s/not-a-session", dir);
        CHECK(mkdir(entry, 0700) == 0);
        CHECK(zb_session_list(dir, &json, &err) == 0);
        CHECK(stat(entry, &st) == 0);
        free(json);
        rmdir(entry);
        rmdir(dir);
        rmdir(base);
}

TEST(session_bad_requests)
{
        struct zb_error err = { 0 };
        struct zb_result *r = NULL;
        char *const argv[] = { "true", NULL };
        char *const bad_env[] = { "NOVALUE", NULL };

        /* Refused before any connection: nothing to find. */
        CHECK(zb_session_exec("/tmp/zb-unit-none", "x", argv, 1, bad_env, 1, NULL, -1, 1, &r, &err) == -EINVAL);
        CHECK(strstr(err.message, "-e") != NULL);
        CHECK(zb_session_exec("/tmp/zb-unit-none", "x", argv, 1, NULL, 0, "rel/dir", -1, 1, &r, &err) == -EINVAL);
        CHECK(strstr(err.message, "-w") != NULL);
        CHECK(zb_session_exec("/tmp/zb-unit-none", "x", argv, 0, NULL, 0, NULL, -1, 1, &r, &err) == -EINVAL);
        CHECK(zb_session_exec("/tmp/zb-unit-none", "x", argv, 1, NULL, 0, NULL, -1, 1, &r, &err) == -ENOENT);
        CHECK(strstr(err.message, "no such session") != NULL);
        CHECK(r == NULL);

        struct zb_policy *p = zb_policy_new();
        char id[32];
        CHECK(zb_session_start(p, "/tmp/zb-unit-none", "bad name", -1, id, sizeof(id), &err) == -EINVAL);
        CHECK(strstr(err.message, "--name") != NULL);
        CHECK(zb_policy_set_command(p, 1, argv, &err) == 0);
        CHECK(zb_session_start(p, "/tmp/zb-unit-none", NULL, -1, id, sizeof(id), &err) == -EINVAL);
        CHECK(strstr(err.message, "no command") != NULL);
        zb_policy_free(p);
        struct stat st;
        CHECK(stat("/tmp/zb-unit-none", &st) < 0); /* nothing made on the host */
}
