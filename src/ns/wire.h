/* The sessions' wire format: the records a session's client, its daemon and
 * the sandbox's init send each other, one record per SOCK_SEQPACKET message
 * (wire.c packs and unpacks them; docs/sessions.md tells the story).
 *
 *   client -> daemon  SESS_REQ_EXEC (+ stdin, stdout, stderr, and the
 *                     terminal for approval questions), SESS_REQ_KILL,
 *                     SESS_REQ_STOP
 *   daemon -> client  SESS_REPLY_ACCEPTED (the command was approved and
 *                     handed to init), SESS_REPLY_RESULT (its verdict),
 *                     SESS_REPLY_FINAL (the session's own result, to the
 *                     client that stopped it)
 *   daemon -> init    SESS_INIT_EXEC (+ the command's three fds),
 *                     SESS_INIT_KILL
 *   init -> daemon    SESS_INIT_STARTED, SESS_INIT_FAILED, SESS_INIT_DONE
 *
 * Both ends are this build of zonebox: the records are plain structs, and
 * every receiver checks a record's length and its strings' terminators. */
#ifndef ZB_NS_WIRE_H
#define ZB_NS_WIRE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../core/result.h"
#include "ns.h"

/* A session's init and its daemon (session_daemon.c) speak in records over a
 * SOCK_SEQPACKET pair, one record per message. EXEC carries the command's
 * stdin, stdout and stderr as SCM_RIGHTS; its blob holds ARGC argument
 * strings, ENVC environment strings and the working directory, each
 * NUL-terminated. Init answers STARTED once the command was exec'd, FAILED
 * (with the child's report) when it could not be, and DONE when it ends. */
enum { SESS_INIT_EXEC = 1, SESS_INIT_KILL, SESS_INIT_STARTED, SESS_INIT_FAILED, SESS_INIT_DONE };
#define SESS_RECORD_MAX 65536

struct sess_init_exec {
        uint32_t type, id;
        uint32_t argc, envc;
        uint32_t blob_len;
        char blob[SESS_RECORD_MAX - 5 * sizeof(uint32_t)];
};

struct sess_init_kill {
        uint32_t type, id;
        int32_t sig; /* to the command's process group */
};

struct sess_init_reply {
        uint32_t type, id;
        int32_t pid;
        int32_t exited, code; /* DONE: as struct ns_status */
        uint64_t utime_us, stime_us, maxrss_kb;
        struct ns_report report; /* FAILED */
};

/* A client's requests and the daemon's replies (session_client.c,
 * session_daemon.c), over the session's socket. */
enum {
        SESS_REQ_EXEC = 1, SESS_REQ_KILL, SESS_REQ_STOP,
        SESS_REPLY_ACCEPTED = 10, SESS_REPLY_RESULT, SESS_REPLY_FINAL,
};

/* SESS_REQ_EXEC: ARGC arguments, ENVC "KEY=VALUE" additions, then the working
 * directory ("" for the session's), each NUL-terminated. */
struct sess_req_exec {
        uint32_t type;
        uint32_t argc, envc;
        int64_t timeout_ms; /* -1: the session's wall_time */
        char blob[SESS_RECORD_MAX - 4 * sizeof(uint32_t) - sizeof(int64_t)];
};

struct sess_req_kill {
        uint32_t type;
        int32_t sig;
};

struct sess_reply_accepted {
        uint32_t type;
        uint32_t exec_id;
        uint64_t output_limit;
        uint32_t output_kill;
        uint32_t output_set; /* limits.output given: pass-through output is capped too */
};

#define SESS_LAYERS_LEN 400
#define SESS_VIOL_LEN 16384
struct sess_reply_result {
        uint32_t type;
        uint32_t exec_id;
        int32_t status, setup_kind, exit_code, signal, oom_killed;
        double wall_ms, cpu_user_ms, cpu_sys_ms;
        uint64_t peak_memory_bytes;
        uint32_t has_proxy;
        uint64_t proxy_allowed, proxy_refused, proxy_failed;
        char applied[SESS_LAYERS_LEN], skipped[SESS_LAYERS_LEN]; /* comma-separated */
        char error[1024];
        char viol[SESS_VIOL_LEN]; /* the exec's violations, as the verdict's JSON (viol_pack) */
};

/* wire.c: one record into MSG and up to MAX (<= SESS_MAX_PASSED_FDS)
 * SCM_RIGHTS fds, close-on-exec, into FDS (-1 where none came; extra ones
 * closed). Its size, or a negative errno (-EMSGSIZE: cut, no fds kept).
 * Also every other fd hand-over between the sandbox and the supervisor or
 * the proxy (notify.c, net.c, proxy.c). */
#define SESS_MAX_PASSED_FDS 4
ssize_t sess_recv_fds(int sock, void *msg, size_t len, int *fds, int max, int flags);
int sess_send_fds(int sock, const void *msg, size_t len, const int *fds, int nfds);
/* STR and its NUL appended to BLOB (SIZE bytes, *LEN used); *OVERFLOW set
 * instead when it does not fit. */
void sess_blob_add(char *blob, size_t size, size_t *len, const char *str, bool *overflow);
void sess_result_pack(const struct zb_result *r, struct sess_reply_result *m);
void sess_result_unpack(const struct sess_reply_result *m, struct zb_result *r);

#endif
