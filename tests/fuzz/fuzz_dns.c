/* The loopback resolver's query parser (src/ns/resolver.c, network none):
 * every datagram a sandbox sends to 127.0.0.1:53 goes through it. Besides
 * memory safety: an answer is REFUSED with the query's id and exactly its
 * first question, never longer than the query or NS_DNS_ANSWER_MAX; the
 * name is printable ASCII in lower case (glibc's \DDD escapes for the
 * rest) and fits; a dropped query leaves the name empty. */
#include "fuzz.h"

#include "ns/resolver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        uint8_t ans[NS_DNS_ANSWER_MAX];
        char name[NS_DNS_NAME_MAX];

        ssize_t len = ns_dns_refusal(data, size, ans, name);
        fuzz_assert(len == -1 || (len >= 12 + 1 + 4 && (size_t)len <= size && len <= NS_DNS_ANSWER_MAX));
        size_t n = strnlen(name, sizeof(name));
        fuzz_assert(n < sizeof(name));
        if (len < 0) {
                fuzz_assert(n == 0);
                return 0;
        }
        fuzz_assert(n > 0);
        for (size_t i = 0; i < n; i++)
                fuzz_assert(name[i] > ' ' && name[i] < 0x7f && !(name[i] >= 'A' && name[i] <= 'Z'));
        fuzz_assert(ans[0] == data[0] && ans[1] == data[1]);
        fuzz_assert((ans[2] & 0x80) && (ans[2] & 0x7f) == (data[2] & 0x79) && ans[3] == 5);
        fuzz_assert(ans[4] == 0 && ans[5] == 1);
        for (int i = 6; i < 12; i++)
                fuzz_assert(ans[i] == 0);
        fuzz_assert(memcmp(ans + 12, data + 12, (size_t)len - 12) == 0);
        return 0;
}
