// Drives a running `zonebox serve` with the real Piston client (piston-client
// from the npm registry, pinned in package-lock.json), unchanged:
//   node drive.mjs URL TOKEN SCENARIO
// piston-client sends no Authorization header (Piston has no auth), so the
// client talks to a loopback proxy here that adds the bearer token, as a
// reverse proxy in front of zonebox serve would (docs/serve.md).
// Prints one JSON line: {"runtimes": [...], "result": execute's answer}.
import http from "node:http";
import { piston } from "piston-client";

const [url, token, scenario] = process.argv.slice(2);
const upstream = new URL(url);

const scenarios = {
  python: ["python3", "import sys\nprint(6*7, sys.argv[1:], input())", { stdin: "hi\n", args: ["a", "b"] }],
  c: ["c", "#include <stdio.h>\nint main(void){puts(\"hello from c\");return 0;}", {}],
  "compile-error": ["c", "int main(void){ nope }", {}],
  timeout: ["python3", "while True: pass", { runTimeout: 500 }],
  oom: ["python3", "x = bytearray(400 << 20)\nprint('survived')", { runMemoryLimit: 64 * 1024 * 1024 }],
};

const proxy = http.createServer((req, res) => {
  const headers = { ...req.headers, authorization: `Bearer ${token}`, host: upstream.host };
  const up = http.request({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers },
    r => { res.writeHead(r.statusCode, r.headers); r.pipe(res); });
  up.on("error", e => { res.writeHead(502); res.end(String(e)); });
  req.pipe(up);
});

try {
  await new Promise(ok => proxy.listen(0, "127.0.0.1", ok));
  const client = piston({ server: `http://127.0.0.1:${proxy.address().port}` });
  const [language, code, opts] = scenarios[scenario];
  const runtimes = await client.runtimes();
  const result = await client.execute(language, code, opts);
  console.log(JSON.stringify({ runtimes, result }));
} catch (e) {
  console.log(JSON.stringify({ exception: String(e && e.stack || e) }));
} finally {
  proxy.close();
}
