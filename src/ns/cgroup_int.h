/* Shared between the resources layer's files, and only them: the control
 * file helpers and the teardown steps of cgroup_fs.c that setup and finish
 * in cgroup.c use too. Not for other layers: they go through cgroup.h. */
#ifndef ZB_NS_CGROUP_INT_H
#define ZB_NS_CGROUP_INT_H

#include "cgroup.h"

/* The leaf a supervisor moves into when its own v2 cgroup must hand
 * controllers to children (the no-internal-processes rule). */
#define CG_SUPERVISOR_LEAF "zonebox-supervisor"

/* DIR/FILE into OUT; -ENAMETOOLONG rather than a truncated path. */
int cg_join(char *out, size_t size, const char *dir, const char *file);
/* PATH into BUF (NUL-terminated, "" on failure): bytes read or -errno. */
ssize_t cg_read_text(const char *path, char *buf, size_t size);
/* TEXT into DIR/FILE: 0 or -errno. */
int cg_write_text(const char *dir, const char *file, const char *text);
int cg_write_u64(const char *dir, const char *file, uint64_t v);
bool cg_file_exists(const char *dir, const char *file);
/* KEY of the flat keyed file DIR/FILE (cpu.stat, memory.events); -1 if absent. */
int cg_read_keyed(const char *dir, const char *file, const char *key, uint64_t *out);
/* DIR/FILE holding one number (memory.peak); -1 if absent or not a number. */
int cg_read_u64(const char *dir, const char *file, uint64_t *out);
/* The parent cgroup in one hierarchy whose own cgroup is SELF: PARENT
 * (limits.cgroup_parent) when absolute, relative to SELF when relative,
 * SELF when NULL. -1 when it does not fit OUT. */
int cg_parent_path(const char *self, const char *parent, char *out, size_t size);
/* Kill every process of the cgroup DIR (v2: cgroup.kill). */
void cg_kill_all(const char *dir, bool v2);
/* rmdir DIR, waiting for the kernel to release it: 0 (also when gone) or -errno. */
int cg_remove_dir(const char *dir);
/* Remove the zonebox cgroups directly under DIR whose supervisor is gone. */
void cg_gc_dir(const char *dir, bool v2, unsigned *removed);

#endif
