/** Metric and label name rules: the legacy Prometheus charset, UTF-8 names, reserved prefixes. */

import { GatewayError } from "./errors";

/** `[a-zA-Z_:]`, plus digits after the first character. */
function isMetricChar(c: number, first: boolean): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c === 58 || (!first && c >= 48 && c <= 57);
}

/** `[a-zA-Z_]`, plus digits after the first character. */
function isLabelChar(c: number, first: boolean): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || (!first && c >= 48 && c <= 57);
}

/**
 * Whether `s` matches `[a-zA-Z_:][a-zA-Z0-9_:]*`, the names every Prometheus version and
 * exposition format accepts without quoting.
 *
 * @example isLegacyMetricName("http_requests_total") // true; isLegacyMetricName("my.metric") // false
 */
export function isLegacyMetricName(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (!isMetricChar(s.charCodeAt(i), i === 0)) return false;
  return true;
}

/**
 * Whether `s` matches `[a-zA-Z_][a-zA-Z0-9_]*`, the label names that need no quoting.
 *
 * @example isLegacyLabelName("code") // true; isLegacyLabelName("k8s.pod") // false
 */
export function isLegacyLabelName(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (!isLabelChar(s.charCodeAt(i), i === 0)) return false;
  return true;
}

/**
 * Index of the first lone UTF-16 surrogate in `s` (text that cannot be written as UTF-8, which
 * would reach a scrape as U+FFFD and make two different strings one), or -1.
 */
export function loneSurrogateAt(s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        i++;
        continue;
      }
    }
    return i;
  }
  return -1;
}

/**
 * Why `name` cannot be a metric name, or `undefined` when it can. Any non-empty UTF-8 text is a
 * valid name since Prometheus 3 (names outside the legacy charset are quoted on the wire).
 */
export function metricNameProblem(name: unknown): string | undefined {
  if (typeof name !== "string") return `metric name must be a string, got ${typeof name}`;
  if (name.length === 0) return 'metric name is empty; give the metric a name such as "orders_total"';
  const bad = loneSurrogateAt(name);
  if (bad >= 0) {
    return `metric name ${JSON.stringify(name)} is not valid UTF-8 (lone surrogate at index ${bad}); fix the string's encoding`;
  }
  return undefined;
}

/**
 * Why `name` cannot be a label name, or `undefined` when it can: like metric names, plus the
 * `__` prefix, which Prometheus reserves for its own labels (`__name__`, `__address__`, ...).
 */
export function labelNameProblem(name: unknown): string | undefined {
  if (typeof name !== "string") return `label name must be a string, got ${typeof name}`;
  if (name.length === 0) return 'label name is empty; give the label a name such as "code"';
  if (name.charCodeAt(0) === 95 && name.charCodeAt(1) === 95) {
    return `label name ${JSON.stringify(name)} starts with "__", which Prometheus reserves for internal labels; rename the label`;
  }
  const bad = loneSurrogateAt(name);
  if (bad >= 0) {
    return `label name ${JSON.stringify(name)} is not valid UTF-8 (lone surrogate at index ${bad}); fix the string's encoding`;
  }
  return undefined;
}

/**
 * Throws `GatewayError("InvalidName")` when `name` cannot be a metric name.
 * `where` says where the name came from; it starts the message.
 *
 * @example checkMetricName("orders_total", "inc()") // ok
 * @example checkMetricName("", "inc()") // throws InvalidName: inc(): metric name is empty; ...
 */
export function checkMetricName(name: string, where: string): void {
  const problem = metricNameProblem(name);
  if (problem !== undefined) throw new GatewayError("InvalidName", `${where}: ${problem}`);
}

/**
 * Throws `GatewayError("InvalidName")` when `name` cannot be a label name.
 * `where` says where the name came from; it starts the message.
 *
 * @example checkLabelName("plan", "inc() labels") // ok
 * @example checkLabelName("__plan", "inc() labels") // throws InvalidName (reserved prefix)
 */
export function checkLabelName(name: string, where: string): void {
  const problem = labelNameProblem(name);
  if (problem !== undefined) throw new GatewayError("InvalidName", `${where}: ${problem}`);
}
