/* zonebox version: the first thing a bug report needs. Plain: one line.
 * --json: the version, the git commit and the build's options (from
 * $(BUILD)/gen/buildinfo.h, which mk/install.mk rewrites only when they
 * change), the versions of the libraries linked in (asked from the
 * libraries themselves, not their headers), the kernel headers the binary
 * was built against, what is compiled in, and the kernel it runs on. */
#define _GNU_SOURCE
#include <json-c/json.h>
#include <linux/version.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <yaml.h>

#include "buildinfo.h"
#include "cli.h"

static const char version_help[] =
"Usage: zonebox version [--json]\n"
"\n"
"Print the version. With --json, one object for bug reports: version, git\n"
"commit, build options (compiler, flags, variant, static or dynamic),\n"
"libseccomp, libyaml and json-c versions, the kernel headers built against,\n"
"what is compiled in, and the running kernel.\n";

/* Everything the namespace backend and the engines use is always compiled
 * in (the build has no optional features); the list says what this
 * version's binary can do, so a report from an older one shows the gap. */
static const char *const compiled_in[] = {
        "user-namespaces", "cgroup-v1", "cgroup-v2", "seccomp", "seccomp-default-precompiled",
        "landlock", "overlayfs-cow-zones", "idmapped-mounts", "clone3", "pidfd", "sessions",
        "command-approval", "audit-log", "net-allow-proxy", "engine-docker", "engine-oci",
        "engine-kubernetes",
};

static json_object *build_json(void)
{
        json_object *b = json_object_new_object();
        json_object_object_add(b, "variant", json_object_new_string(ZB_BUILD_VARIANT));
        json_object_object_add(b, "cc", json_object_new_string(ZB_BUILD_CC));
        json_object_object_add(b, "cflags", json_object_new_string(ZB_BUILD_CFLAGS));
        json_object_object_add(b, "ldflags", json_object_new_string(ZB_BUILD_LDFLAGS));
        json_object_object_add(b, "static", json_object_new_boolean(strstr(ZB_BUILD_LDFLAGS, "-static") != NULL));
        return b;
}

static json_object *libraries_json(void)
{
        const struct scmp_version *sv = seccomp_version();
        char seccomp[32];
        snprintf(seccomp, sizeof(seccomp), "%u.%u.%u", sv->major, sv->minor, sv->micro);
        json_object *l = json_object_new_object();
        json_object_object_add(l, "libseccomp", json_object_new_string(seccomp));
        json_object_object_add(l, "libyaml", json_object_new_string(yaml_get_version_string()));
        json_object_object_add(l, "json-c", json_object_new_string(json_c_version()));
        return l;
}

static json_object *kernel_json(void)
{
        char headers[32];
        snprintf(headers, sizeof(headers), "%d.%d.%d", LINUX_VERSION_CODE >> 16,
                 (LINUX_VERSION_CODE >> 8) & 0xff, LINUX_VERSION_CODE & 0xff);
        json_object *k = json_object_new_object();
        json_object_object_add(k, "headers", json_object_new_string(headers));
        json_object *features = json_object_new_array();
        for (size_t i = 0; i < sizeof(compiled_in) / sizeof(compiled_in[0]); i++)
                json_object_array_add(features, json_object_new_string(compiled_in[i]));
        json_object_object_add(k, "compiled_in", features);
        struct utsname u;
        if (uname(&u) == 0) {
                json_object_object_add(k, "running", json_object_new_string(u.release));
                json_object_object_add(k, "machine", json_object_new_string(u.machine));
        }
        return k;
}

static void print_json(void)
{
        json_object *o = json_object_new_object();
        json_object_object_add(o, "version", json_object_new_string(ZB_VERSION));
        json_object_object_add(o, "commit", json_object_new_string(ZB_BUILD_COMMIT));
        json_object_object_add(o, "build", build_json());
        json_object_object_add(o, "libraries", libraries_json());
        json_object_object_add(o, "kernel", kernel_json());
        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        json_object_put(o);
}

int cli_version(int argc, char **argv)
{
        bool json = false;
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--json") == 0) {
                        json = true;
                } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
                        fputs(version_help, stdout);
                        return 0;
                } else {
                        fprintf(stderr, "zonebox version: %s: unknown flag (see zonebox version --help)\n", argv[i]);
                        return ZB_EXIT_ERROR;
                }
        }
        if (json)
                print_json();
        else
                printf("zonebox %s (%s)\n", ZB_VERSION, ZB_BUILD_COMMIT);
        return 0;
}
