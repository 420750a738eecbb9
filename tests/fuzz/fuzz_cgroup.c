/* The cgroup file parsers (src/ns/cgroup.h). /proc/self/mountinfo shows
 * mount points a user chose (escaped by the kernel, but long and odd);
 * cgroup names under a delegated parent, and hence /proc/self/cgroup
 * paths, are picked by whoever owns that parent; cpu.stat and
 * memory.events are kernel text. Input: mountinfo text, a NUL byte, then
 * /proc/self/cgroup text; the keyed-file and name parsers read the whole
 * input as well. */
#include <limits.h>

#include "fuzz.h"

#include "ns/cgroup.h"

static struct cg_layout layout; /* ~300 KiB: not on the stack */

static void check_dir(const struct cg_layout *l, int m, const char *path)
{
        char out[PATH_MAX];
        if (path[0] && cg_dir(l, m, path, out, sizeof(out)) == 0)
                fuzz_assert(memchr(out, '\0', sizeof(out)) != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const char *const keys[] = { "usage_usec", "user_usec", "oom_kill", "oom",
                                             "under_oom", "max", "" };
        char *text = fuzz_cstr(data, size);
        size_t first = strlen(text);
        const char *self = first < size ? text + first + 1 : "";
        uint64_t v;

        cg_layout_init(&layout);
        cg_parse_mountinfo(&layout, text);
        cg_parse_self(&layout, self);
        fuzz_assert(layout.n_mounts >= 0 && layout.n_mounts <= ZB_CG_MAX_MOUNTS);
        fuzz_assert(layout.v2 >= -1 && layout.v2 < layout.n_mounts);
        for (int c = 0; c < ZB_CG_N; c++)
                fuzz_assert(layout.v1[c] >= -1 && layout.v1[c] < layout.n_mounts);
        for (int m = -1; m <= layout.n_mounts; m++) {
                check_dir(&layout, m, layout.v2_self);
                for (int c = 0; c < ZB_CG_N; c++)
                        check_dir(&layout, m, layout.v1_self[c]);
        }
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
                (void)cg_keyed(text, keys[i], &v);
                (void)cg_keyed(self, keys[i], &v);
        }
        (void)cg_has_word(text, "memory");
        (void)cg_has_word(self, "pids");
        for (char *line = text, *next; line; line = next) {
                pid_t pid;
                unsigned long long start;
                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                if (cg_name_parse(line, &pid, &start))
                        fuzz_assert(pid > 0);
        }
        free(text);
        return 0;
}
