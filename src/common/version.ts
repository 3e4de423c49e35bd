/** The gateway's version, sent as `User-Agent: metrics-gateway/<version>` (kept equal to package.json by a test). */
export const VERSION = "0.1.0";
export const USER_AGENT = `metrics-gateway/${VERSION}`;
