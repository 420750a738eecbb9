/* Docker/OCI seccomp profiles (--seccomp FILE, security.seccomp): JSON that
 * users copy from elsewhere. ns_seccomp_build_json is ns_seccomp_build's
 * path for a profile after the file is read (capped at 4 MiB). On success
 * the program must be one the kernel would take: 1..BPF_MAXINSNS
 * instructions. */
#include <linux/bpf_common.h>

#include "fuzz.h"

#include "ns/seccomp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct zb_error err = { 0 };
        struct sock_fprog prog = { 0 };

        int r = ns_seccomp_build_json((const char *)data, size, &prog, &err);
        fuzz_check_error(&err);
        fuzz_assert(r <= 0);
        if (r == 0)
                fuzz_assert(prog.filter && prog.len >= 1 && prog.len <= BPF_MAXINSNS);
        else
                fuzz_assert(!prog.filter && prog.len == 0 &&
                            strncmp(err.message, "layer seccomp: ", 15) == 0);
        ns_seccomp_free(&prog);
        return 0;
}
