/* Names shared by zonebox check (outside) and zonebox __probe (inside). */
#ifndef ZB_CLI_PROBE_H
#define ZB_CLI_PROBE_H

#include "zonebox.h"

/* Where check binds the directory holding a copy of this binary. */
#define ZB_CHECK_DIR "/.zonebox-check"
/* A file in the root's top level that no Landlock rule covers (made only
 * for zonebox check: zb_policy_set_check_mode). */
#define ZB_LANDLOCK_CANARY ZB_CHECK_LANDLOCK_CANARY
/* Set in zonebox's own environment by check; must not reach the command. */
#define ZB_ENV_CANARY "ZONEBOX_CHECK_CANARY"

#endif
