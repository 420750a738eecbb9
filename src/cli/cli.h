/* The zonebox command: one function per subcommand, all over the public API. */
#ifndef ZB_CLI_H
#define ZB_CLI_H

#include <stdbool.h>

#include "zonebox.h"

#define ZB_EXIT_ERROR 125

int cli_run(int argc, char **argv);
int cli_gc(int argc, char **argv);

#endif
