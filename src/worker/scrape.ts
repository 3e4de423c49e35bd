/**
 * The scrape: every shard's families merged page by page and rendered as they come, followed by
 * the gateway's own metrics. Memory stays bounded by a few pages per shard whatever is stored.
 */
import type { Catalog } from "../aggregator/contract";
import { shardStub } from "../aggregator/objects";
import { PUSH_FAILURE_TIME, PUSH_TIME } from "../aggregator/pages";
import { newCounters, renderSelfMetrics, type Counters } from "../common/self-metrics";
import type { EscapingScheme } from "../wire/exposition/escaping";
import { claimFamilyNames, renderHeader, renderSeriesParts, type OmissionReason, type Omitted, type RenderOptions } from "../wire/exposition/format";
import { mergedRuns } from "./merge-pages";
import { allShards } from "./shards";

export interface ScrapeOptions {
  openmetrics: boolean;
  escaping: EscapingScheme;
}

/** A part is handed on once it holds this many characters. */
const PART_CHARS = 64 * 1024;
/** Series rendered at a time (a few hundred bytes each at most, for ordinary label sets). */
const RENDER_SERIES = 256;

/** The exposition in parts, to stream (each part a few KB to about 100 KB). */
export async function* scrapeParts(env: Env, shards: number, options: ScrapeOptions): AsyncGenerator<string> {
  const catalogs = (await allShards(shards, "scrape", (i) => shardStub(env, i).catalog())) as Catalog[];
  const render: RenderOptions = { openmetrics: options.openmetrics, escaping: options.escaping };
  const omitted: Omitted = {};
  const claimed = new Set<string>();
  const narrowed = new Map<string, number>();
  let families = 0;
  let series = 0;
  let skip = false;
  let part = "";
  for await (const run of mergedRuns(env, shards, { what: "scrape", narrowed, render })) {
    const count = run.rendered === undefined ? run.series.to - run.series.from : run.rendered.series;
    const view = { ...run.family, series: run.series };
    if (run.first) {
      // The registry keeps families from colliding at push time; this keeps a scrape valid even if
      // data from before that check (or a registry that lost a race) would make two collide.
      skip = !claimFamilyNames(run.family, render, claimed);
      if (!skip) {
        part += renderHeader(run.family, render);
        if (run.family.name !== PUSH_TIME && run.family.name !== PUSH_FAILURE_TIME) families++;
      }
    }
    if (skip) {
      omitted.name_clash = (omitted.name_clash ?? 0) + count;
      continue;
    }
    if (run.family.name !== PUSH_TIME && run.family.name !== PUSH_FAILURE_TIME) series += count;
    // Parts stay under ~100 KB: V8 puts a string over 128 KB in its large-object space, which only a
    // full collection empties. A shard's text comes in pieces; series are rendered a slice at a time.
    const rendered = run.rendered;
    if (rendered !== undefined) {
      for (const [reason, n] of Object.entries(rendered.omitted) as [OmissionReason, number][]) omitted[reason] = (omitted[reason] ?? 0) + n;
    }
    for (const text of rendered?.text ?? renderSeriesParts(view, render, omitted, RENDER_SERIES)) {
      part += text;
      if (part.length >= PART_CHARS) {
        yield part;
        part = "";
      }
    }
  }
  const counters = sumCounters(catalogs.map((c) => c.counters));
  part += renderSelfMetrics({ families, series, counters, omitted, narrowed }, options.openmetrics);
  if (options.openmetrics) part += "# EOF\n";
  yield part;
}

/** Shards' counters added up; the export's counters are shard 0's (it keeps the export bookkeeping). */
export function sumCounters(all: readonly Counters[]): Counters {
  const out = newCounters();
  all.forEach((c, i) => {
    out.accepted += c.accepted;
    out.writeCalls += c.writeCalls;
    out.rowsWritten += c.rowsWritten;
    out.expired += c.expired;
    for (const [reason, n] of c.rejected) out.rejected.set(reason, (out.rejected.get(reason) ?? 0) + n);
    for (const [family, n] of c.narrowed) out.narrowed.set(family, (out.narrowed.get(family) ?? 0) + n);
    if (i === 0) out.export = c.export;
  });
  return out;
}
