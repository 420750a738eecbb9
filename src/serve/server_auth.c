/* zonebox serve: bearer tokens (kept as SHA-256 digests, compared in
 * constant time) and the per-token rate limit. */
#include "server_int.h"

void srv_sha256(const char *data, size_t len, unsigned char out[32])
{
        unsigned int n = 32;
        if (!EVP_Digest(data, len, out, &n, EVP_sha256(), NULL))
                memset(out, 0, 32);
}

int srv_load_tokens(struct srv *s, const char *path, struct zb_error *err)
{
        _cleanup_(closep) int fd = open(path, O_RDONLY | O_CLOEXEC);
        char buf[16384];
        if (fd < 0)
                return err_errno(err, errno, "--token-file: cannot open %s", path);
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        if (n < 0)
                return err_errno(err, errno, "--token-file: cannot read %s", path);
        buf[n] = '\0';
        for (char *save = NULL, *line = strtok_r(buf, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
                while (*line == ' ' || *line == '\t')
                        line++;
                size_t len = strlen(line);
                while (len && (line[len - 1] == ' ' || line[len - 1] == '\t'))
                        line[--len] = '\0';
                if (!len || *line == '#')
                        continue;
                if (len < 16)
                        return err_set(err, EINVAL, "--token-file: %s: a token shorter than 16 characters", path);
                if (s->n_tokens == SRV_MAX_TOKENS)
                        return err_set(err, EINVAL, "--token-file: %s: more than %d tokens", path, SRV_MAX_TOKENS);
                srv_sha256(line, len, s->tokens[s->n_tokens++]);
        }
        explicit_bzero(buf, sizeof(buf));
        if (!s->n_tokens)
                return err_set(err, EINVAL, "--token-file: %s holds no token (one per line)", path);
        return 0;
}

/* The owner of the request: a token's index, the unix peer's uid + 1e6, or
 * -1 (401). Every stored digest is compared, whatever matched. */
long srv_authenticate(const struct srv *s, struct MHD_Connection *conn)
{
        if (!s->n_tokens) {
                const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
                struct ucred cred;
                socklen_t len = sizeof(cred);
                if (s->tcp || !ci || getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
                        return -1;
                return 1000000L + (long)cred.uid;
        }
        const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
        if (!h || strncasecmp(h, "Bearer ", 7) != 0)
                return -1;
        unsigned char d[32];
        srv_sha256(h + 7, strlen(h + 7), d);
        long who = -1;
        for (size_t i = 0; i < s->n_tokens; i++)
                if (CRYPTO_memcmp(d, s->tokens[i], 32) == 0)
                        who = (long)i;
        return who;
}

/* A token bucket per owner; 0 when the request may go on, else the seconds
 * until it may (Retry-After). */
unsigned srv_rate_wait(struct srv *s, long owner)
{
        if (s->conf.rate <= 0)
                return 0;
        uint64_t now = util_now_ns();
        struct bucket *b = NULL, *oldest = &s->buckets[0];
        for (size_t i = 0; i < N_BUCKETS && !b; i++) {
                if (s->buckets[i].last_ns && s->buckets[i].owner == owner)
                        b = &s->buckets[i];
                else if (s->buckets[i].last_ns < oldest->last_ns)
                        oldest = &s->buckets[i];
        }
        if (!b) {
                b = oldest;
                *b = (struct bucket){ .owner = owner, .tokens = s->conf.burst, .last_ns = now };
        }
        b->tokens += (double)(now - b->last_ns) / 1e9 * s->conf.rate;
        if (b->tokens > s->conf.burst)
                b->tokens = s->conf.burst;
        b->last_ns = now;
        if (b->tokens >= 1) {
                b->tokens -= 1;
                return 0;
        }
        return (unsigned)((1 - b->tokens) / s->conf.rate) + 1;
}
