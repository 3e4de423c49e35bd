/**
 * The gateway's fixed limits: what one write may carry so that storing it can never fail and no
 * stored size can make a read fail. Each is answered with 413 LimitExceeded before anything is
 * applied. The configurable ones (body size, series per shard, bytes per shard, series per family)
 * are vars in wrangler.toml.
 */

/** Characters of a family's HELP text. Real HELP texts are a sentence; SQLite refuses rows over 2 MB. */
export const MAX_HELP_CHARS = 16_384;

/** Characters of one label value. */
export const MAX_LABEL_VALUE_CHARS = 65_536;

/**
 * Characters of a whole label set as stored (the canonical key, `a="x",b="y"`): one series must fit
 * a storage row (2 MB, UTF-8 is at most 3 bytes per character) and a read page, with room to spare.
 */
export const MAX_KEY_CHARS = 131_072;

/** Buckets of one histogram series, or quantiles of one summary series. */
export const MAX_BUCKETS = 1_000;

/** Characters of a metric or label name. */
export const MAX_NAME_CHARS = 1_024;

/** Characters of a source id (`Metrics-Source`, RPC `source`). */
export const MAX_SOURCE_CHARS = 256;

/** The largest TTL a write may ask for: a year. */
export const MAX_TTL_SECONDS = 366 * 24 * 3600;
