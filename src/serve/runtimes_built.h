/* Present when runtimes.c, job.c and piston.c (the wt-piston half of issue
 * 20) are in the tree: the server's routes to srv_runtimes_load,
 * srv_runtimes_json, srv_runtime_run and srv_piston_execute are built only
 * then (server.c includes this with __has_include). */
#ifndef ZB_SERVE_RUNTIMES_BUILT_H
#define ZB_SERVE_RUNTIMES_BUILT_H
#define ZB_SERVE_HAVE_RUNTIMES 1
#endif
