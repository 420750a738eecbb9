/* Is this file a WASI preview 1 command module, before any runtime starts?
 * Reads the binary format's header and its section list (WebAssembly core
 * spec 1.0, chapter 5 "Binary Format"): every import must be one of the
 * functions of wasi_snapshot_preview1 (what every runtime here provides),
 * and _start must be exported. Function bodies are not validated: that is
 * the runtime's compiler's job. Pure code over a byte buffer, every read
 * bounded by the buffer (fuzzed by tests/fuzz/fuzz_wasm.c). */
#define _GNU_SOURCE
#include <stdio.h>

#include "wasm.h"

/* The functions of wasi_snapshot_preview1 (WASI's witx/typenames of the
 * 2020 snapshot: 46 functions). */
static const char *const preview1[] = {
        "args_get", "args_sizes_get", "environ_get", "environ_sizes_get", "clock_res_get",
        "clock_time_get", "fd_advise", "fd_allocate", "fd_close", "fd_datasync", "fd_fdstat_get",
        "fd_fdstat_set_flags", "fd_fdstat_set_rights", "fd_filestat_get", "fd_filestat_set_size",
        "fd_filestat_set_times", "fd_pread", "fd_prestat_get", "fd_prestat_dir_name", "fd_pwrite",
        "fd_read", "fd_readdir", "fd_renumber", "fd_seek", "fd_sync", "fd_tell", "fd_write",
        "path_create_directory", "path_filestat_get", "path_filestat_set_times", "path_link",
        "path_open", "path_readlink", "path_remove_directory", "path_rename", "path_symlink",
        "path_unlink_file", "poll_oneoff", "proc_exit", "proc_raise", "sched_yield", "random_get",
        "sock_accept", "sock_recv", "sock_send", "sock_shutdown",
};

#define WASI_MODULE "wasi_snapshot_preview1"
enum { SEC_IMPORT = 2, SEC_EXPORT = 7 };
enum { KIND_FUNC = 0, KIND_TABLE = 1, KIND_MEMORY = 2, KIND_GLOBAL = 3, KIND_TAG = 4 };

struct reader {
        const unsigned char *p, *end;
        bool bad;
};

static unsigned char byte(struct reader *r)
{
        if (r->bad || r->p >= r->end) {
                r->bad = true;
                return 0;
        }
        return *r->p++;
}

/* Unsigned LEB128 of at most 64 bits (the spec caps u32 at 5 bytes, u64 at 10). */
static uint64_t leb(struct reader *r, unsigned max_bytes)
{
        uint64_t v = 0;
        for (unsigned i = 0; i < max_bytes; i++) {
                unsigned char c = byte(r);
                v |= (uint64_t)(c & 0x7f) << (7 * i);
                if (!(c & 0x80))
                        return v;
        }
        r->bad = true;
        return 0;
}

static uint32_t u32(struct reader *r)
{
        uint64_t v = leb(r, 5);
        if (v > UINT32_MAX)
                r->bad = true;
        return (uint32_t)v;
}

/* A name: its bytes stay in the buffer; *LEN is their count. */
static const char *name(struct reader *r, size_t *len)
{
        uint32_t n = u32(r);
        if (r->bad || n > (size_t)(r->end - r->p)) {
                r->bad = true;
                *len = 0;
                return "";
        }
        const char *s = (const char *)r->p;
        r->p += n;
        *len = n;
        return s;
}

static bool name_is(const char *s, size_t n, const char *want)
{
        return n == strlen(want) && memcmp(s, want, n) == 0;
}

static void limits(struct reader *r)
{
        unsigned char flags = byte(r);
        unsigned width = flags & 0x04 ? 10 : 5; /* memory64 */
        if (flags & ~0x07u)
                r->bad = true;
        leb(r, width);
        if (flags & 0x01)
                leb(r, width);
}

/* Skips the import's description; true when it is a function. */
static bool import_desc(struct reader *r)
{
        unsigned char kind = byte(r);
        switch (kind) {
        case KIND_FUNC:
                u32(r);
                return true;
        case KIND_TABLE:
                byte(r);
                limits(r);
                break;
        case KIND_MEMORY:
                limits(r);
                break;
        case KIND_GLOBAL:
                byte(r);
                byte(r);
                break;
        case KIND_TAG:
                byte(r);
                u32(r);
                break;
        default:
                r->bad = true;
        }
        return false;
}

static bool is_preview1(const char *s, size_t n)
{
        for (size_t i = 0; i < ARRAY_SIZE(preview1); i++)
                if (name_is(s, n, preview1[i]))
                        return true;
        return false;
}

/* A name from the module, for a message: printable ASCII, cut at 64. */
static void quote(char *out, size_t size, const char *s, size_t n)
{
        size_t k = 0;
        for (size_t i = 0; i < n && i < 64 && k + 1 < size; i++) {
                out[k] = s[i];
                if (s[i] < 0x20 || s[i] >= 0x7f)
                        out[k] = '?';
                k++;
        }
        out[k] = '\0';
}

static enum wasm_check imports(struct reader *r, char *why, size_t size)
{
        uint32_t count = u32(r);
        for (uint32_t i = 0; i < count && !r->bad; i++) {
                size_t mn, fn;
                const char *m = name(r, &mn), *f = name(r, &fn);
                bool func = import_desc(r);
                if (r->bad)
                        break;
                if (func && name_is(m, mn, WASI_MODULE) && is_preview1(f, fn))
                        continue;
                char qm[72], qf[72];
                quote(qm, sizeof(qm), m, mn);
                quote(qf, sizeof(qf), f, fn);
                snprintf(why, size,
                         "needs the import %s.%s, which WASI preview 1 (%s functions) does not provide",
                         qm, qf, WASI_MODULE);
                return WASM_CHECK_NOT_WASI;
        }
        return WASM_CHECK_OK;
}

static bool exports_start(struct reader *r)
{
        uint32_t count = u32(r);
        for (uint32_t i = 0; i < count && !r->bad; i++) {
                size_t n;
                const char *s = name(r, &n);
                unsigned char kind = byte(r);
                u32(r);
                if (!r->bad && kind == KIND_FUNC && name_is(s, n, "_start"))
                        return true;
        }
        return false;
}

static enum wasm_check header(const unsigned char *b, size_t n, char *why, size_t size)
{
        static const unsigned char magic[4] = { 0x00, 'a', 's', 'm' };
        if (n < 8 || memcmp(b, magic, 4) != 0) {
                snprintf(why, size, "not a WebAssembly module (it does not begin with the magic bytes 00 61 73 6d)");
                return WASM_CHECK_NOT_MODULE;
        }
        uint32_t version = (uint32_t)b[4] | (uint32_t)b[5] << 8 | (uint32_t)b[6] << 16 | (uint32_t)b[7] << 24;
        if (version == 1)
                return WASM_CHECK_OK;
        /* Components: version 0x0d with layer 1 in the high half (0x1000d). */
        if ((version & 0xffff0000u) == 0x00010000u) {
                snprintf(why, size,
                         "a WebAssembly component (version 0x%x): the component model is not supported; give a WASI preview 1 core module",
                         version);
                return WASM_CHECK_UNSUPPORTED;
        }
        snprintf(why, size, "WebAssembly binary version %u is not supported (only version 1)", version);
        return WASM_CHECK_UNSUPPORTED;
}

enum wasm_check wasm_module_check(const unsigned char *b, size_t n, char *why, size_t size)
{
        enum wasm_check c = header(b, n, why, size);
        if (c != WASM_CHECK_OK)
                return c;
        struct reader r = { b + 8, b + n, false };
        bool start = false;
        while (r.p < r.end && !r.bad) {
                unsigned char id = byte(&r);
                uint32_t len = u32(&r);
                if (r.bad || len > (size_t)(r.end - r.p)) {
                        r.bad = true;
                        break;
                }
                struct reader s = { r.p, r.p + len, false };
                r.p += len;
                if (id == SEC_IMPORT && (c = imports(&s, why, size)) != WASM_CHECK_OK)
                        return c;
                if (id == SEC_EXPORT)
                        start = exports_start(&s);
                r.bad = s.bad;
        }
        if (r.bad) {
                snprintf(why, size, "a malformed WebAssembly module (its sections do not parse, near byte %zu)",
                         (size_t)(r.p - b));
                return WASM_CHECK_NOT_WASI;
        }
        if (!start) {
                snprintf(why, size, "exports no _start: a library or reactor module, not a WASI command");
                return WASM_CHECK_NOT_WASI;
        }
        return WASM_CHECK_OK;
}
