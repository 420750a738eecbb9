// Latency of a `run` of /bin/true through `zonebox mcp` against `zonebox run
// -- /bin/true`, both measured from the same Node process that holds the
// official MCP SDK client: the MCP figure is callTool's round trip (request
// out, verdict back); the CLI figure is spawn to exit of a `zonebox run`
// (what an agent framework without MCP would pay). Interleaved, so a load
// change hits both alike. Prints one JSON object (bench/mcp.sh makes the table).
//   node mcp.mjs ZONEBOX CONFIG RUNS
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { spawnSync } from "node:child_process";
import { performance } from "node:perf_hooks";

const [zb, config, runsArg] = process.argv.slice(2);
const runs = Number(runsArg || 100);
const client = new Client({ name: "zonebox-bench", version: "1.0.0" });
await client.connect(new StdioClientTransport({ command: zb, args: ["mcp", "--config", config] }));
const mcp = [], cli = [];
const once = async () => {
  let t = performance.now();
  const r = await client.callTool({ name: "run", arguments: { command: ["/bin/true"] } });
  const m = performance.now() - t;
  if (r.structuredContent?.status !== "exited") throw new Error(JSON.stringify(r).slice(0, 300));
  t = performance.now();
  const p = spawnSync(zb, ["run", "--config", config, "--", "/bin/true"], { stdio: "ignore" });
  const c = performance.now() - t;
  if (p.status !== 0) throw new Error("zonebox run exited " + p.status);
  return [m, c];
};
for (let i = 0; i < 5; i++) await once(); // warm-up
for (let i = 0; i < runs; i++) {
  const [m, c] = await once();
  mcp.push(m);
  cli.push(c);
}
await client.close();
const median = (a) => { const s = [...a].sort((x, y) => x - y); return (s[(s.length - 1) >> 1] + s[s.length >> 1]) / 2; };
const diffs = mcp.map((m, i) => m - cli[i]);
console.log(JSON.stringify({ runs, mcp_median_ms: median(mcp), run_median_ms: median(cli), paired_diff_median_ms: median(diffs) }));
