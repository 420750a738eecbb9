/* main's return value is the exit code: 3. With "proc_exit N", exit(N)
 * (WASI proc_exit) from deep inside. */
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
        if (argc > 2 && strcmp(argv[1], "proc_exit") == 0)
                exit(atoi(argv[2]));
        return 3;
}
