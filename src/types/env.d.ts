/** Secrets are not in wrangler.toml, so `wrangler types` cannot see them: declared here. */
declare namespace Cloudflare {
  interface Env {
    /** Remote write URL, e.g. https://prometheus-us-central1.grafana.net/api/prom/push. Unset: no export. */
    SECRET_PROM_ENDPOINT?: string;
    /** Basic auth user (Grafana Cloud: the instance id). */
    SECRET_PROM_USER?: string;
    /** Basic auth password with SECRET_PROM_USER, else a Bearer token. */
    SECRET_PROM_TOKEN?: string;
    /**
     * A grouping label whose value names a cumulative source (e.g. `instance`): Pushgateway pushes
     * with it add only their increase since that source's previous push, and the label is not stored.
     * Unset by default.
     */
    SOURCE_LABEL?: string;
  }
}
