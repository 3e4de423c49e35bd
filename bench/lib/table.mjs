// Formatting and a plain-text table printer shared by the bench's sections.

export const fmt = {
  int: (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : "-"),
  num: (x, digits = 1) => (Number.isFinite(x) ? x.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits }) : "-"),
  ms: (x) => (Number.isFinite(x) ? `${x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : Math.round(x)} ms` : "-"),
  s: (x) => (Number.isFinite(x) ? `${x < 1 ? x.toFixed(3) : x < 100 ? x.toFixed(2) : x.toFixed(0)} s` : "-"),
  mb: (x) => (Number.isFinite(x) ? `${(x / 1e6).toFixed(x < 1e7 ? 2 : 1)} MB` : "-"),
  b: (x) => (Number.isFinite(x) ? `${Math.round(x)} B` : "-"),
  usd: (x) => (Number.isFinite(x) ? `$${x < 10 ? x.toFixed(2) : Math.round(x).toLocaleString("en-US")}` : "-"),
  ratio: (x) => (Number.isFinite(x) ? `${x >= 100 ? Math.round(x) : x >= 10 ? x.toFixed(1) : x.toFixed(2)}x` : "-"),
};

export function median(xs) {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** `values` as "median (min-max)" with `f`, or just the value when there is one. */
export function spread(values, f) {
  const xs = (values ?? []).filter(Number.isFinite);
  if (xs.length === 0) return "-";
  if (xs.length === 1) return f(xs[0]);
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  return lo === hi ? f(lo) : `${f(median(xs))} (${f(lo)}-${f(hi)})`;
}

/** Prints `rows` (arrays of cells) under `headers`; the first column left-aligned. */
export function printTable(title, headers, rows, notes = []) {
  const cells = rows.map((r) => r.map((c) => (c === undefined || c === null ? "" : String(c))));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((l) => (l[i] ?? "").length)));
  const line = (l) => l.map((c, i) => (i === 0 ? (c ?? "").padEnd(widths[i]) : (c ?? "").padStart(widths[i]))).join("  ");
  console.log("");
  console.log(title);
  for (const n of notes) console.log(n);
  console.log("");
  console.log(line(headers));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const l of cells) console.log(line(l));
}
