/* Prints its arguments and one environment variable: argv and env reach
 * the module (tests/integration/test_wasm.py). */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
        const char *v = getenv("ZB_WASM_VAR");
        printf("hello from wasm");
        for (int i = 1; i < argc; i++)
                printf(" [%s]", argv[i]);
        printf(" env=%s\n", v ? v : "(unset)");
        return 0;
}
