/* Allocates and touches 1 MiB blocks until malloc fails (the runtime's
 * linear-memory cap) or the sandbox is killed (the cgroup's limit).
 * Prints "malloc failed after N MiB" when it sees the cap itself. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *volatile last; /* keeps the compiler from dropping the allocations */

int main(void)
{
        for (unsigned long mib = 0;; mib++) {
                char *p = malloc(1 << 20);
                if (!p) {
                        printf("malloc failed after %lu MiB\n", mib);
                        return 4;
                }
                memset(p, 1, 1 << 20);
                last = p;
        }
}
