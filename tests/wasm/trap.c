/* Traps: trap unreachable | oob | stack. Output before the trap must still
 * reach stdout. */
#include <stdio.h>
#include <string.h>

static int depth(volatile int n)
{
        volatile char pad[256];
        if (n < 0) /* never: keeps the compiler from seeing the endless recursion */
                return 0;
        pad[0] = (char)n;
        return depth(n + 1) + pad[0];
}

int main(int argc, char **argv)
{
        const char *how = argc > 1 ? argv[1] : "unreachable";
        printf("before the trap\n");
        fflush(stdout);
        if (strcmp(how, "oob") == 0)
                return *(volatile int *)0xfffffff0u;
        if (strcmp(how, "stack") == 0)
                return depth(0);
        __builtin_trap();
}
