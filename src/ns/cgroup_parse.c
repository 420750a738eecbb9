/* The resources layer's pure half: the parsers of /proc/self/mountinfo,
 * /proc/self/cgroup, cgroup names and flat keyed files (cpu.stat,
 * memory.events), and the path of a cgroup through a mount. No syscalls:
 * text in, typed fields out, so they are unit-tested and fuzzable
 * (tests/unit/test_cgroup.c). The process side is cgroup.c and
 * cgroup_fs.c; cgroup.h says how a run uses them. */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>

#include "cgroup.h"

/* The controllers' names on cgroup v1 (io was blkio there). */
static const char *const ctrl_v1_name[ZB_CG_N] = { "memory", "cpu", "cpuacct", "pids", "blkio" };

/* ---------------------------------------------------------------- parsing */

/* Only what the parsers and readers look at: the layout is ~280 KiB of
 * path buffers, and clearing it all faulted in ~70 pages per run. */
void cg_layout_init(struct cg_layout *l)
{
        l->n_mounts = 0;
        l->v2 = -1;
        l->strs[0] = '\0'; /* the shared "" */
        l->strs_used = 1;
        l->v2_self = l->strs;
        for (int c = 0; c < ZB_CG_N; c++) {
                l->v1[c] = -1;
                l->v1_self[c] = l->strs;
        }
}

bool cg_has_word(const char *list, const char *word)
{
        size_t n = strlen(word);
        for (const char *s = list; s && *s;) {
                while (*s == ' ' || *s == ',' || *s == '\n')
                        s++;
                size_t len = strcspn(s, " ,\n");
                if (len == n && strncmp(s, word, n) == 0)
                        return true;
                s += len;
        }
        return false;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
        char *w = s;
        for (char *r = s; *r; r++) {
                if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
                    r[3] >= '0' && r[3] <= '7') {
                        *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
                        r += 3;
                } else {
                        *w++ = *r;
                }
        }
        *w = '\0';
}

static int copy_field(char *dst, size_t size, const char *src, size_t len)
{
        if (len >= size)
                return -1;
        memcpy(dst, src, len);
        dst[len] = '\0';
        return 0;
}

/* A copy of SRC[0..LEN) in the layout's string space; NULL when it is
 * PATH_MAX or longer, or the space is full. */
static char *layout_str(struct cg_layout *l, const char *src, size_t len)
{
        if (len >= PATH_MAX || len >= sizeof(l->strs) - l->strs_used)
                return NULL;
        char *s = l->strs + l->strs_used;
        memcpy(s, src, len);
        s[len] = '\0';
        l->strs_used += len + 1;
        return s;
}

int cg_parse_mountinfo(struct cg_layout *l, const char *text)
{
        for (const char *line = text; line && *line;) {
                const char *eol = strchrnul(line, '\n');
                const char *f[12];
                size_t flen[12];
                int nf = 0, sep = -1;
                for (const char *s = line; s < eol && nf < 12;) {
                        while (s < eol && *s == ' ')
                                s++;
                        if (s >= eol)
                                break;
                        const char *e = s;
                        while (e < eol && *e != ' ')
                                e++;
                        f[nf] = s;
                        flen[nf] = (size_t)(e - s);
                        if (flen[nf] == 1 && *s == '-' && nf >= 6 && sep < 0)
                                sep = nf;
                        nf++;
                        s = e;
                }
                line = *eol ? eol + 1 : NULL;
                if (sep < 0 || nf < sep + 4 || l->n_mounts >= ZB_CG_MAX_MOUNTS)
                        continue;
                bool v2 = flen[sep + 1] == 7 && strncmp(f[sep + 1], "cgroup2", 7) == 0;
                bool v1 = flen[sep + 1] == 6 && strncmp(f[sep + 1], "cgroup", 6) == 0;
                if (!v1 && !v2)
                        continue;
                struct cg_mount *m = &l->mounts[l->n_mounts];
                m->ctrls = 0;
                size_t mark = l->strs_used;
                if (!(m->root = layout_str(l, f[3], flen[3])) || !(m->dir = layout_str(l, f[4], flen[4]))) {
                        l->strs_used = mark;
                        continue;
                }
                unescape(m->root);
                unescape(m->dir);
                m->v2 = v2;
                if (v1) {
                        char opts[512];
                        if (copy_field(opts, sizeof(opts), f[sep + 3], flen[sep + 3]) < 0) {
                                l->strs_used = mark;
                                continue;
                        }
                        for (int c = 0; c < ZB_CG_N; c++)
                                if (cg_has_word(opts, ctrl_v1_name[c]))
                                        m->ctrls |= 1u << c;
                        if (!m->ctrls) {
                                l->strs_used = mark;
                                continue; /* name=systemd and the like */
                        }
                }
                int idx = l->n_mounts++;
                if (v2 && l->v2 < 0)
                        l->v2 = idx;
                for (int c = 0; c < ZB_CG_N; c++)
                        if ((m->ctrls & (1u << c)) && l->v1[c] < 0)
                                l->v1[c] = idx;
        }
        return 0;
}

int cg_parse_self(struct cg_layout *l, const char *text)
{
        for (const char *line = text; line && *line;) {
                const char *eol = strchrnul(line, '\n');
                const char *c1 = memchr(line, ':', (size_t)(eol - line));
                const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(eol - c1 - 1)) : NULL;
                if (c2) {
                        char ctrls[256], *path;
                        if (copy_field(ctrls, sizeof(ctrls), c1 + 1, (size_t)(c2 - c1 - 1)) == 0 &&
                            (path = layout_str(l, c2 + 1, (size_t)(eol - c2 - 1)))) {
                                if (line[0] == '0' && c1 == line + 1 && !ctrls[0])
                                        l->v2_self = path;
                                for (int c = 0; c < ZB_CG_N; c++)
                                        if (cg_has_word(ctrls, ctrl_v1_name[c]))
                                                l->v1_self[c] = path;
                        }
                }
                line = *eol ? eol + 1 : NULL;
        }
        return 0;
}

int cg_dir(const struct cg_layout *l, int m, const char *path, char *out, size_t size)
{
        if (m < 0 || m >= l->n_mounts || path[0] != '/')
                return -1;
        const char *root = l->mounts[m].root;
        size_t rlen = strcmp(root, "/") == 0 ? 0 : strlen(root);
        if (rlen && (strncmp(path, root, rlen) != 0 || (path[rlen] != '/' && path[rlen] != '\0')))
                return -1;
        const char *rest = path + rlen;
        if (strcmp(rest, "/") == 0)
                rest = "";
        int n = snprintf(out, size, "%s%s", l->mounts[m].dir, rest);
        return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* A plain decimal number (digits only, at most MAX) at *S, ended by SEP;
 * *S moves past SEP. sscanf's %llu would also take blanks, signs and
 * wrap-around, and these names come from directories anyone with write
 * access to the parent can create. */
static bool take_decimal(const char **s, char sep, unsigned long long max, unsigned long long *out)
{
        char *end;
        if (!isdigit((unsigned char)**s))
                return false;
        errno = 0;
        unsigned long long v = strtoull(*s, &end, 10);
        if (errno || *end != sep || v > max)
                return false;
        *out = v;
        *s = sep ? end + 1 : end;
        return true;
}

bool cg_name_parse(const char *name, pid_t *pid, unsigned long long *start)
{
        unsigned long long p, s, seq;
        const char *c = name + 8;
        if (strncmp(name, "zonebox-", 8) != 0 || !take_decimal(&c, '-', INT32_MAX, &p) ||
            !take_decimal(&c, '-', ULLONG_MAX, &s) || !take_decimal(&c, '\0', UINT_MAX, &seq) ||
            p == 0)
                return false;
        *pid = (pid_t)p;
        *start = s;
        return true;
}

int cg_keyed(const char *text, const char *key, uint64_t *out)
{
        size_t n = strlen(key);
        for (const char *line = text; line && *line;) {
                if (strncmp(line, key, n) == 0 && line[n] == ' ') {
                        char *end;
                        errno = 0;
                        unsigned long long v = strtoull(line + n + 1, &end, 10);
                        if (errno || end == line + n + 1)
                                return -1;
                        *out = v;
                        return 0;
                }
                line = strchr(line, '\n');
                if (line)
                        line++;
        }
        return -1;
}
