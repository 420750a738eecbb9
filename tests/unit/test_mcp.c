/* zonebox mcp without a sandbox: the tool table's schemas, the `mcp:`
 * section, and narrowing (src/mcp/narrow.c): every argument that would
 * widen the server's config is refused naming itself, every narrowing one
 * lands in the policy. Table-driven, one row per argument set. */
#include "mcp/mcp.h"
#include "test.h"

static const char cfg[] = "sandbox:\n"
                          "  zones:\n"
                          "    - {name: input, mode: ro, hostPath: /tmp}\n"
                          "  limits: {memory: 256m, wall_time: 30s, pids: 64}\n"
                          "  network: {allow: [pypi.org:443, example.org]}\n";

static bool server(struct mcp_server *s, const char *text)
{
        struct zb_error err = { 0 };
        return mcp_server_init_buffer(s, text, strlen(text), "t.yaml", "/", -1, -1, &err) == 0;
}

TEST(mcp_tools_have_parsing_schemas)
{
        struct zb_error err = { 0 };
        json_object *list = mcp_tools_list(&err), *tools = NULL;
        CHECK(list && json_object_object_get_ex(list, "tools", &tools));
        CHECK(json_object_array_length(tools) == 11);
        for (size_t i = 0; tools && i < json_object_array_length(tools); i++) {
                json_object *t = json_object_array_get_idx(tools, i), *in, *out;
                CHECK(json_object_object_get_ex(t, "inputSchema", &in) && json_object_object_get_ex(t, "outputSchema", &out));
                CHECK(mcp_tool_find(json_object_get_string(json_object_object_get(t, "name"))) != NULL);
        }
        CHECK(mcp_tool_find("nope") == NULL);
        json_object_put(list);
}

static const struct {
        const char *args;
        const char *error; /* NULL: accepted */
} narrowing[] = {
        { "{}", NULL },
        { "{\"timeout\":\"5s\",\"memory\":\"64m\",\"pids\":8,\"cpu_time\":\"2s\"}", NULL },
        { "{\"timeout\":30}", NULL },
        { "{\"network\":\"none\"}", NULL },
        { "{\"network\":[\"pypi.org:443\"]}", NULL },
        { "{\"env\":{\"A\":\"b\"},\"workdir\":\"/input\"}", NULL },
        { "{\"timeout\":\"31s\"}", "timeout: 31s would widen" },
        { "{\"timeout\":0}", "timeout: 0 would widen" },
        { "{\"timeout\":\"none\"}", "would widen" },
        { "{\"memory\":\"1g\"}", "memory: 1g would widen" },
        { "{\"memory\":\"unlimited\"}", "would widen" },
        { "{\"pids\":65}", "pids: 65 would widen" },
        { "{\"network\":\"host\"}", "network: host would widen" },
        { "{\"network\":[\"evil.example:443\"]}", "not in the server's network.allow" },
        { "{\"network\":[]}", "empty list" },
        { "{\"network\":\"bogus\"}", "expected none" },
        { "{\"zones\":[]}", "zones: unknown argument" },
        { "{\"seccomp\":\"unconfined\"}", "seccomp: unknown argument" },
        { "{\"memory\":-1}", "non-negative" },
        { "{\"env\":{\"A=B\":\"c\"}}", "env:" },
};

TEST(mcp_arguments_only_narrow)
{
        static const char *const keys[] = { "timeout", "memory", "pids", "cpu_time", "network", "env", "workdir", NULL };
        struct mcp_server s;
        CHECK(server(&s, cfg));
        for (size_t i = 0; i < sizeof(narrowing) / sizeof(narrowing[0]); i++) {
                struct zb_error err = { 0 };
                json_object *args = json_tokener_parse(narrowing[i].args);
                struct zb_policy *p = mcp_policy(&s, args, keys, &err);
                if (narrowing[i].error) {
                        CHECK(p == NULL);
                        CHECK_STR_CONTAINS(err.message, narrowing[i].error);
                } else {
                        CHECK(p != NULL);
                        if (!p)
                                fprintf(stderr, "  row %zu: %s\n", i, err.message);
                }
                if (p && i == 1)
                        CHECK(p->limits.wall_time_ms == 5000 && p->limits.memory == (64ull << 20) && p->limits.pids == 8);
                if (p && i == 4)
                        CHECK(p->net.n_allow == 1 && strcmp(p->net.allow[0], "pypi.org:443") == 0);
                if (p && i == 3)
                        CHECK(p->net.n_allow == 0 && p->network == ZB_NET_NONE);
                zb_policy_free(p);
                json_object_put(args);
        }
        mcp_server_free(&s);
}

TEST(mcp_host_network_only_when_configured)
{
        static const char *const keys[] = { "network", NULL };
        struct mcp_server s;
        struct zb_error err = { 0 };
        CHECK(server(&s, "sandbox: {network: host}\n"));
        json_object *args = json_tokener_parse("{\"network\":\"host\"}");
        struct zb_policy *p = mcp_policy(&s, args, keys, &err);
        CHECK(p && p->network == ZB_NET_HOST);
        zb_policy_free(p);
        json_object_put(args);
        mcp_server_free(&s);
}

TEST(mcp_config_section)
{
        struct mcp_server s;
        CHECK(server(&s, "sandbox: {}\nmcp: {commit: allow}\n") && s.conf.commit == MCP_COMMIT_ALLOW);
        mcp_server_free(&s);
        CHECK(server(&s, "sandbox: {}\n") && s.conf.commit == MCP_COMMIT_ASK);
        mcp_server_free(&s);
        CHECK(!server(&s, "sandbox: {}\nmcp: {commit: yes}\n"));
        mcp_server_free(&s);
        CHECK(!server(&s, "sandbox: {}\nmcp: {comit: allow}\n"));
        mcp_server_free(&s);
        /* An agent's writes never reach the host unreviewed by default. */
        CHECK(!server(&s, "sandbox: {cow_action: commit}\n"));
        mcp_server_free(&s);
        CHECK(server(&s, "sandbox: {cow_action: commit}\nmcp: {commit: allow}\n"));
        mcp_server_free(&s);
}
