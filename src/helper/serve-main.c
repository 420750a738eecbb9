/* zonebox-serve: the program `zonebox serve` runs (src/cli/serve.c says
 * why it is its own binary); all of it is src/serve/server.c's srv_main. */
#include "serve/serve.h"

int main(int argc, char **argv)
{
        return srv_main(argc, argv);
}
