/** The status page at `GET /`: one self-contained HTML document (no external assets). */
import { redactEndpoint } from "../wire/remote-write/send";
import type { StatusData } from "./reads";
import { parseLabelKey } from "../common/labels";

/** The page for a person: what is stored, the groups and their last pushes, the biggest families, the last export. */
export function statusPage(status: StatusData, env: Env): string {
  const endpoint = (env.SECRET_PROM_ENDPOINT ?? "").trim();
  const exporting = endpoint !== "";
  const groupCount = status.groups.filter((g) => g.key !== "").length;
  const ex = status.counters.export;
  const rw = { lastRunMs: ex.lastRunMs, lastRunOk: ex.lastRunOk, lastSuccessSeconds: ex.lastSuccessSeconds, lastDurationSeconds: ex.lastDurationSeconds, samplesSent: ex.samplesSent, samplesFailed: ex.samplesFailed, pendingStaleMarkers: status.staleMarkers };
  const when = (ms: number) => (ms > 0 ? new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC") : "never");
  const groups = status.groups
    .map((g) => {
      const labels = g.key === "" ? "<em>ungrouped</em>" : esc(labelText(g.key));
      const failed = g.failureTime > g.pushTime;
      const ttl = g.ttlMs > 0 ? `${g.ttlMs / 1000} s` : "&mdash;";
      return `<tr${failed ? ' class="failed"' : ""}><td>${labels}</td><td class="n">${g.families}</td><td class="n">${g.series}</td><td>${g.key === "" ? "&mdash;" : when(g.pushTime)}</td><td>${when(g.failureTime)}</td><td>${ttl}</td></tr>`;
    })
    .join("\n");
  const familyRows = status.families
    .map((f) => `<tr><td><code>${esc(f.name)}</code></td><td>${f.type}</td><td class="n">${f.series}</td><td>${esc(f.help)}</td></tr>`)
    .join("\n");
  const topRows = status.top.map((f) => `<tr><td><code>${esc(f.name)}</code></td><td class="n">${f.series}</td></tr>`).join("\n");
  const narrowed = [...status.counters.narrowed].sort((a, b) => (a[0] < b[0] ? -1 : 1));
  const narrowedRows = narrowed.map(([name, n]) => `<tr><td><code>${esc(name)}</code></td><td class="n">${n}</td></tr>`).join("\n");
  const lastRun = rw.lastRunMs === 0 ? "no run yet" : `${rw.lastRunOk ? "succeeded" : "FAILED"} at ${when(rw.lastRunMs)} in ${rw.lastDurationSeconds.toFixed(3)} s`;
  const remote = exporting
    ? `<p id="rw-last">To <code>${esc(redactEndpoint(endpoint))}</code>. Last run: <strong>${lastRun}</strong>. Last success: ${when(rw.lastSuccessSeconds * 1000)}.
       Samples sent: ${rw.samplesSent}, failed: ${rw.samplesFailed} (since the aggregator started). Stale markers pending: ${rw.pendingStaleMarkers}.</p>`
    : `<p id="rw-last">Not configured: set <code>SECRET_PROM_ENDPOINT</code> to export on each cron trigger.</p>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>metrics-gateway</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2rem;color:#222}h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}
table{border-collapse:collapse;min-width:40rem}th,td{border-bottom:1px solid #ddd;padding:.3rem .6rem;text-align:left}
th{background:#f4f4f4}.n{text-align:right}tr.failed td{background:#fde8e8}code{font-size:13px}
</style></head>
<body>
<h1>metrics-gateway</h1>
<p id="totals"><strong>${status.families.length}</strong> families, <strong>${status.series}</strong> series, <strong>${groupCount}</strong> group${groupCount === 1 ? "" : "s"}, ${status.shards} shard${status.shards === 1 ? "" : "s"}.
Scrape <a href="/metrics">/metrics</a>; JSON at <a href="/api/v1/metrics">/api/v1/metrics</a> and <a href="/api/v1/status">/api/v1/status</a>.</p>
<h2>Groups</h2>
<table id="groups"><thead><tr><th>Grouping labels</th><th>Families</th><th>Series</th><th>Last push</th><th>Last failed push</th><th>TTL</th></tr></thead>
<tbody>
${groups || '<tr><td colspan="6">Nothing pushed yet.</td></tr>'}
</tbody></table>
<h2>Most series</h2>
<table id="top"><thead><tr><th>Family</th><th>Series</th></tr></thead>
<tbody>
${topRows || '<tr><td colspan="2">Nothing stored yet.</td></tr>'}
</tbody></table>
<h2>Families</h2>
<table id="families"><thead><tr><th>Name</th><th>Type</th><th>Series</th><th>Help</th></tr></thead>
<tbody>
${familyRows || '<tr><td colspan="4">Nothing stored yet.</td></tr>'}
</tbody></table>
${narrowed.length === 0 ? "" : `<h2>Histogram layouts narrowed</h2>
<p>Pushes with other bucket bounds than stored were merged over the bounds both have (see README).</p>
<table id="narrowed"><thead><tr><th>Family</th><th>Merges</th></tr></thead>
<tbody>
${narrowedRows}
</tbody></table>`}
<h2>Remote write</h2>
${remote}
</body></html>
`;
}

function labelText(key: string): string {
  const pairs = parseLabelKey(key);
  const parts: string[] = [];
  for (let i = 0; i < pairs.length; i += 2) parts.push(`${pairs[i]}="${pairs[i + 1]}"`);
  return parts.join(", ");
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
