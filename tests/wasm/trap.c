/* Traps: trap unreachable | oob | stack. Output before the trap must still
 * reach stdout. */
#include <stdio.h>
#include <string.h>

/* Called through a volatile pointer, so the compiler can neither turn the
 * recursion into a loop nor keep frames on wasi-libc's shadow stack (in
 * linear memory, where running off its end is an out-of-bounds trap): the
 * runtime's own call stack overflows. */
static int (*volatile self)(int);

static int depth(int n)
{
        return self(n + 1) + 1;
}

int main(int argc, char **argv)
{
        const char *how = argc > 1 ? argv[1] : "unreachable";
        printf("before the trap\n");
        fflush(stdout);
        if (strcmp(how, "oob") == 0)
                return *(volatile int *)0xfffffff0u;
        if (strcmp(how, "stack") == 0) {
                self = depth;
                return depth(0);
        }
        __builtin_trap();
}
