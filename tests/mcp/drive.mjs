// Drives `zonebox mcp` with the official MCP TypeScript SDK (Client +
// StdioClientTransport) for tests/integration/test_mcp.py.
//   node drive.mjs ZONEBOX CONFIG SCENARIO [ARG]
// Prints one JSON object: what the scenario saw. The Python test asserts on
// it and on the host (files, processes). A client-side exception is printed
// as {"exception": "..."} so the test shows it.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import fs from "node:fs";

const [zb, config, scenario, arg] = process.argv.slice(2);
const out = {};
const elicited = [];

// The client's user: "accept", "decline", or no elicitation capability at all ("none").
const answer = process.env.ZB_ELICIT || "none";
const client = new Client({ name: "zonebox-test", version: "1.0.0" },
  answer === "none" ? {} : { capabilities: { elicitation: {} } });
if (answer !== "none") {
  client.setRequestHandler(ElicitRequestSchema, async (req) => {
    elicited.push(req.params.message);
    return answer === "accept" ? { action: "accept", content: { approve: true } } : { action: "decline" };
  });
}

const call = (name, args, opts) => client.callTool({ name, arguments: args }, undefined, opts);
const v = (r) => r.structuredContent;
const pidsWith = (needle) /* the sandbox's sleep NEEDLE */ => fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p)).filter((p) => {
  try { const a = fs.readFileSync(`/proc/${p}/cmdline`, "utf8").split("\0"); return a[0] === "sleep" && a[1] === needle; }
  catch { return false; }
});
const sleepMs = (ms) => new Promise((r) => setTimeout(r, ms));

const scenarios = {
  async tools() {
    out.tools = (await client.listTools()).tools;
    out.server = client.getServerVersion();
    out.protocol = client.transport?._protocolVersion ?? null;
  },
  async seed() {
    await client.listTools(); // the client then checks structuredContent against outputSchema
    out.run = await call("run", { command: ["python3", "-c", arg] });
  },
  async session() {
    await client.listTools();
    const s = await call("session_start", { name: arg });
    out.start = s;
    const id = v(s).id;
    out.write = await call("session_exec", { session: id, command: "echo kept > /tmp/state; echo $$ > /tmp/pid" });
    out.read = await call("session_exec", { session: arg, command: ["cat", "/tmp/state"] });
    out.list = await call("session_list", {});
    out.stop = await call("session_stop", { session: id });
    out.after = await call("session_exec", { session: id, command: ["true"] });
  },
  async session_left() {
    out.start = await call("session_start", { name: arg });
  },
  async files() {
    await client.listTools();
    out.ro = await call("write_file", { path: "/input/x.txt", content: "nope" });
    out.escape = await call("read_file", { path: "/input/../../etc/shadow" });
    out.symlink = await call("read_file", { path: "/input/link" });
    out.device = await call("read_file", { path: "/input/null" });
    out.dirlink = await call("read_file", { path: "/input/etcdir/passwd" });
    out.write_out = await call("write_file", { path: "/output/esc/pwned.txt", content: "x" });
    out.list_out = await call("list_files", { path: "/output/esc" });
    out.read = await call("read_file", { path: "/input/a.txt" });
    out.write = await call("write_file", { path: "/output/sub/new.txt", content: "written" });
    out.list = await call("list_files", { path: "/output/sub" });
    out.zones = await call("list_files", { path: "/" });
  },
  async cow() {
    await client.listTools();
    out.run = await call("run", { command: "echo changed > /work/new.txt" });
    const id = v(out.run).cow_id;
    out.list = await call("changes", {});
    out.diff = await call("changes", { id });
    out.commit = await call("commit", { id });
    out.foreign = await call("commit", { id: "0123456789ab" });
    out.elicited = elicited;
  },
  async ask() {
    await client.listTools();
    out.allowed = await call("run", { command: ["echo", "fine"] });
    out.asked = await call("run", { command: ["ls", "/"] });
    out.elicited = elicited;
  },
  async cancel() {
    const ac = new AbortController();
    const p = call("run", { command: ["sleep", arg] }, { signal: ac.signal }).then(() => "answered", (e) => "aborted");
    let t0 = Date.now();
    while (pidsWith(arg).length === 0 && Date.now() - t0 < 10000) await sleepMs(20);
    out.started = pidsWith(arg).length > 0;
    t0 = Date.now();
    ac.abort("test");
    out.call = await p;
    while (pidsWith(arg).length > 0 && Date.now() - t0 < 5000) await sleepMs(10);
    out.gone_ms = Date.now() - t0;
    out.left = pidsWith(arg);
    out.ping_after = await client.ping();
  },
  async progress() {
    const seen = [];
    out.run = await call("run", { command: ["sleep", "2.5"] }, { onprogress: (p) => seen.push(p) });
    out.progress = seen;
  },
  async widen() {
    await client.listTools();
    const args = JSON.parse(arg);
    out.results = [];
    for (const a of args) out.results.push(await call("run", { command: ["true"], ...a }));
  },
  async timeout() {
    await client.listTools();
    out.run = await call("run", { command: ["sleep", "30"], timeout: "1s" });
  },
  async files_run() {
    await client.listTools();
    out.run = await call("run", { command: ["sh", "-c", "cat /output/code.py; python3 /output/code.py < /dev/stdin"],
                                  files: { "/output/code.py": "import sys\nprint(sys.stdin.read().upper())\n" },
                                  stdin: "from stdin" });
    out.ro = await call("run", { command: ["true"], files: { "/input/x.py": "no" } });
  },
};

try {
  await client.connect(new StdioClientTransport({ command: zb, args: ["mcp", "--config", config], stderr: "inherit" }));
  await scenarios[scenario]();
} catch (e) {
  out.exception = String(e?.stack || e).slice(0, 2000);
}
await client.close();
console.log(JSON.stringify(out));
