/* One setter for every scalar config key, shared by the YAML and flag parsers. */
#ifndef ZB_KEYS_H
#define ZB_KEYS_H

#include "policy.h"

/* Set KEY ("limits.memory", "network", ...) from VALUE. LABEL names the key
 * or flag in messages; relative paths resolve against BASE_DIR (NULL: cwd).
 * Returns -ENOENT (err untouched) when KEY is not a scalar key. */
int pol_set_key(struct zb_policy *p, const char *key, const char *value, const char *label,
                      const char *base_dir, struct zb_error *err);

/* backend and wasm.runtime (backend.c); -ENOENT for any other KEY. */
int pol_backend_set_key(struct zb_policy *p, const char *key, const char *value, const char *label,
                       struct zb_error *err);

/* One zone option (name, mode, hostPath, path, size) into Z. */
int pol_zone_option(struct pol_zone *z, const char *k, const char *v, const char *label,
                   const char *base_dir, struct zb_error *err);
/* Default the size and add Z (copied) to the policy. */
int pol_zone_finish(struct zb_policy *p, struct pol_zone *z, const char *label, struct zb_error *err);

/* Parse a YAML config held in memory (NAME for messages, BASE_DIR for
 * relative paths). zb_policy_load_yaml reads the file and calls this. */
int pol_load_yaml_buffer(struct zb_policy *p, const char *data, size_t len, const char *name,
                               const char *base_dir, struct zb_error *err);

#endif
