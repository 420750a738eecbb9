/* The network.allow proxy's parsers (src/ns/proxy.h): request heads from
 * the sandbox (untrusted), allowlist entries and network.hosts pins. Besides
 * memory safety: a parsed request has a valid host and port, its rewritten
 * head is one clean head ending the same way; an error has a reason; an
 * entry that parses allows what it names. */
#include "fuzz.h"

#include "ns/proxy.h"

static void check_request(const uint8_t *data, size_t size)
{
        struct net_proxy_request req;
        int st = net_proxy_parse((const char *)data, size, &req);
        fuzz_assert(st == 0 || st == ZB_PROXY_INCOMPLETE || st == 400 || st == 405 || st == 503);
        if (st != 0) {
                fuzz_assert(req.forward == NULL);
                fuzz_assert(st == ZB_PROXY_INCOMPLETE || (req.why && req.why[0] && !strchr(req.why, '\n')));
                return;
        }
        fuzz_assert(req.head_len >= 4 && req.head_len <= size);
        fuzz_assert(memcmp(data + req.head_len - 4, "\r\n\r\n", 4) == 0);
        fuzz_assert(req.port > 0);
        fuzz_assert(req.host[0] && strlen(req.host) <= ZB_NET_NAME_MAX);
        for (const char *c = req.host; *c; c++)
                fuzz_assert(*c > ' ' && *c < 0x7f && *c != '/' && *c != '@' && !(*c >= 'A' && *c <= 'Z'));
        if (req.kind == ZB_PROXY_CONNECT) {
                fuzz_assert(req.forward == NULL);
        } else {
                fuzz_assert(req.forward && req.forward_len == strlen(req.forward));
                /* One head: it ends at its first blank line, with Connection: close. */
                const char *end = strstr(req.forward, "\r\n\r\n");
                fuzz_assert(end && (size_t)(end - req.forward) + 4 == req.forward_len);
                fuzz_assert(strstr(req.forward, "\r\nConnection: close\r\n\r\n") == end - 19);
        }
        net_proxy_request_free(&req);
}

static void check_rule(const char *s)
{
        struct net_rule r;
        const char *why = NULL;
        if (net_rule_parse(s, &r, &why) < 0) {
                fuzz_assert(why && why[0]);
                return;
        }
        uint16_t port = r.any_port ? 1 : r.port ? r.port : 443;
        char host[ZB_NET_NAME_MAX + 8];
        if (r.ip.family)
                net_addr_str(&r.ip, host, sizeof(host));
        else
                snprintf(host, sizeof(host), "%s%s", r.wildcard ? "a." : "", r.host);
        if (strlen(host) <= ZB_NET_NAME_MAX)
                fuzz_assert(net_rules_match(&r, 1, host, port) == 0);
        if (r.wildcard)
                fuzz_assert(net_rules_match(&r, 1, r.host, port) == -1);

        char name[ZB_NET_NAME_MAX + 1];
        struct net_addr a;
        (void)net_pin_parse(s, name, &a, &why);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        check_request(data, size);
        char *s = fuzz_cstr(data, size < 1024 ? size : 1024);
        check_rule(s);
        free(s);
        return 0;
}
