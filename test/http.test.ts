import { exports } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { withoutSelfMetrics } from "./helpers";

const gw = exports.default;
const BASE = "http://gateway";

function call(path: string, init?: RequestInit): Promise<Response> {
  return gw.fetch(new Request(`${BASE}${path}`, init));
}

async function userScrape(): Promise<string> {
  return withoutSelfMetrics(await (await call("/metrics")).text());
}

async function errorOf(response: Response): Promise<{ status: number; error: string; message: string }> {
  const body = (await response.json()) as { error: string; message: string };
  return { status: response.status, ...body };
}

beforeEach(async () => {
  await call("/metrics/__all", { method: "DELETE" });
});

describe("POST /metrics", () => {
  it("stores the seed README's curl example (form-urlencoded content type)", async () => {
    const body = [
      "# TYPE some_metric counter",
      'some_metric{label="val1"} 42',
      "# TYPE another_metric gauge",
      "# HELP another_metric Just an example.",
      "another_metric 2398.283",
      "",
    ].join("\n");
    const response = await call("/metrics", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body,
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ families: 2, series: 2 });
    expect(await userScrape()).toBe(
      [
        "# HELP another_metric Just an example.",
        "# TYPE another_metric gauge",
        "another_metric 2398.283",
        "# HELP some_metric ",
        "# TYPE some_metric counter",
        'some_metric{label="val1"} 42',
        "",
      ].join("\n"),
    );
  });

  it("stores the seed README's promjs example: a JSON string of exposition text", async () => {
    const exposition = '# HELP my_counter A counter for things\n# TYPE my_counter counter\nmy_counter{user="user1",plan="pro"} 1\nmy_counter{user="user2",plan="free"} 3\n';
    const response = await call("/metrics", { method: "POST", body: JSON.stringify(exposition) });
    expect(response.status).toBe(200);
    expect(await userScrape()).toContain('my_counter{plan="free",user="user2"} 3\n');
  });

  it("keeps the last sample of a body without a trailing newline, and +Inf", async () => {
    await call("/metrics", { method: "POST", body: "# TYPE g gauge\ng +Inf" });
    expect(await userScrape()).toContain("g +Inf\n");
  });

  it("escapes label values and HELP on output", async () => {
    await call("/metrics", {
      method: "POST",
      body: '# HELP e Help with \\\\ and \\n.\n# TYPE e gauge\ne{v="a\\"b\\\\c\\nd"} 1\n',
    });
    expect(await userScrape()).toBe('# HELP e Help with \\\\ and \\n.\n# TYPE e gauge\ne{v="a\\"b\\\\c\\nd"} 1\n');
  });

  it("answers 400 with line and column for a parse error and stores nothing", async () => {
    const response = await call("/metrics", { method: "POST", body: "ok 1\nbroken{a=\"1\" 2\n" });
    const error = await errorOf(response);
    expect(error.status).toBe(400);
    expect(error.error).toBe("ParseError");
    expect(error.message).toMatch(/^line 2, column \d+:/);
    expect(await userScrape()).toBe("");
  });

  it("rejects timestamps, negative counters and duplicate series with 400", async () => {
    for (const body of ["a 1 1700000000000\n", "# TYPE c counter\nc -1\n", 'd{x="1"} 1\nd{x="1"} 2\n']) {
      const response = await call("/metrics", { method: "POST", body });
      expect(response.status, body).toBe(400);
    }
    expect(await userScrape()).toBe("");
  });

  it("answers 409 on a type conflict with stored data", async () => {
    await call("/metrics", { method: "POST", body: "# TYPE m gauge\nm 1\n" });
    const error = await errorOf(await call("/metrics", { method: "POST", body: "# TYPE m counter\nm 1\n" }));
    expect(error).toMatchObject({ status: 409, error: "TypeConflict" });
    expect(error.message).toContain('"m"');
  });

  it("answers 413 past the body limit and keeps serving", async () => {
    const big = `# TYPE big gauge\n${"big 1\n".repeat(200_000)}`;
    const response = await call("/metrics", { method: "POST", body: big });
    expect((await errorOf(response)).status).toBe(413);
    expect((await call("/-/healthy")).status).toBe(200);
  });

  it("reads a body whole when its length is declared and chunk by chunk when not, within the same limit", async () => {
    const text = "# TYPE sized counter\nsized 2\n";
    // The body in `pieces` chunks (the last one takes the rest).
    const streamed = (body: string, pieces = 1): ReadableStream<Uint8Array> => {
      const bytes = new TextEncoder().encode(body);
      const size = Math.max(1, Math.floor(bytes.length / pieces));
      let at = 0;
      return new ReadableStream({
        pull(controller) {
          if (at >= bytes.length) return controller.close();
          controller.enqueue(bytes.slice(at, (at += size)));
        },
      });
    };
    expect((await call("/metrics", { method: "POST", headers: { "Content-Length": String(text.length) }, body: text })).status).toBe(200);
    expect((await call("/metrics", { method: "POST", body: streamed(text) })).status).toBe(200);
    // Many chunks, no declared length.
    const many = `# TYPE sized counter\n${Array.from({ length: 1_000 }, (_, i) => `sized{n="${i}"} 1\n`).join("")}`;
    expect((await call("/metrics", { method: "POST", body: streamed(many, 997) })).status).toBe(200);
    const scraped = await userScrape();
    expect(scraped).toContain("sized 4\n");
    expect(scraped.match(/^sized\{n="\d+"\} 1$/gm)?.length).toBe(1_000);
    // (Past the limit without a declared length: the gzip bomb below, read the same way.)
  });

  it("answers 413 for a label set too long to store, and stores nothing of that push", async () => {
    const response = await call("/metrics", { method: "POST", body: `ok 1\nlong{v="${"x".repeat(70_000)}"} 1\n` });
    const error = await errorOf(response);
    expect(error).toMatchObject({ status: 413, error: "LimitExceeded" });
    expect(error.message).toContain("over the limit of 65536");
    expect(await userScrape()).toBe("");
    const rpc = await call(`/metrics/long_total?v=${"y".repeat(70_000)}`, { method: "PATCH" });
    expect(rpc.status).toBe(413);
  });

  it("answers 413 for a gzip body that decompresses past the limit", async () => {
    const bomb = new Blob([new Uint8Array(4 * 1024 * 1024).fill(35)]).stream().pipeThrough(new CompressionStream("gzip"));
    const bytes = await new Response(bomb).arrayBuffer();
    expect(bytes.byteLength).toBeLessThan(100_000);
    const response = await call("/metrics", { method: "POST", headers: { "Content-Encoding": "gzip" }, body: bytes });
    expect((await errorOf(response)).status).toBe(413);
  });

  it("reads gzip bodies", async () => {
    const gz = new Blob(["# TYPE z counter\nz 5\n"]).stream().pipeThrough(new CompressionStream("gzip"));
    const response = await call("/metrics", { method: "POST", headers: { "Content-Encoding": "gzip" }, body: await new Response(gz).arrayBuffer() });
    expect(response.status).toBe(200);
    expect(await userScrape()).toContain("z 5\n");
  });

  it("answers 415 for an unsupported content type or encoding", async () => {
    const type = await call("/metrics", { method: "POST", headers: { "Content-Type": "application/x-protobuf" }, body: "x" });
    expect((await errorOf(type)).status).toBe(415);
    const encoding = await call("/metrics", { method: "POST", headers: { "Content-Encoding": "br" }, body: "x" });
    expect((await errorOf(encoding)).status).toBe(415);
  });
});

describe("PATCH /metrics/:name", () => {
  it("increments by 1, or by the number in the body, with labels from the query", async () => {
    expect((await call("/metrics/worker_request?country=NL&anotherLabel=value", { method: "PATCH" })).status).toBe(204);
    await call("/metrics/worker_request?anotherLabel=value&country=NL", { method: "PATCH", body: "2.5" });
    expect(await userScrape()).toContain('worker_request{anotherLabel="value",country="NL"} 3.5\n');
  });

  it("rejects a negative or non-numeric body", async () => {
    expect((await call("/metrics/x", { method: "PATCH", body: "-1" })).status).toBe(400);
    expect((await call("/metrics/x", { method: "PATCH", body: "abc" })).status).toBe(400);
    expect(await userScrape()).toBe("");
  });

  it("decodes percent-encoded names (UTF-8 names are escaped for scrapers that did not ask for them) and rejects malformed encoding", async () => {
    expect((await call("/metrics/my.metric%20x", { method: "PATCH" })).status).toBe(204);
    expect(await userScrape()).toContain("\nmy_metric_x 1\n");
    const utf8 = await call("/metrics", { headers: { Accept: "text/plain;version=1.0.0;escaping=allow-utf-8" } });
    expect(await utf8.text()).toContain('\n{"my.metric x"} 1\n');
    const bad = await call("/metrics/bad%E0%A4%A", { method: "PATCH" });
    expect((await errorOf(bad)).status).toBe(400);
  });
});

describe("DELETE", () => {
  it("deletes by name, by label subset, and everything", async () => {
    await call("/metrics", { method: "POST", body: 'a{x="1",y="1"} 1\na{x="1",y="2"} 1\na{x="2"} 1\nb 1\n' });
    expect(await (await call("/metrics/a?x=1", { method: "DELETE" })).json()).toEqual({ deleted: 2 });
    expect(await (await call("/metrics/nope?x=1", { method: "DELETE" })).json()).toEqual({ deleted: 0 });
    expect(await (await call("/metrics/a", { method: "DELETE" })).json()).toEqual({ deleted: 1 });
    expect(await (await call("/metrics/__all", { method: "DELETE" })).json()).toEqual({ deleted: 1 });
  });
});

describe("GET /metrics", () => {
  it("serves text 0.0.4 to Prometheus's default Accept header", async () => {
    const accept =
      "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    await call("/metrics/c", { method: "PATCH" });
    const response = await call("/metrics", { headers: { Accept: accept } });
    expect(response.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8; escaping=underscores");
    expect(await response.text()).toContain("\nc 1\n");
  });

  it("serves OpenMetrics when asked explicitly", async () => {
    await call("/metrics/c", { method: "PATCH" });
    const byQuery = await call("/metrics?format=openmetrics");
    expect(byQuery.headers.get("content-type")).toBe("application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=underscores");
    const text = await byQuery.text();
    expect(text).toContain("# TYPE c counter\nc_total 1\n");
    expect(text.endsWith("# EOF\n")).toBe(true);
    const byAccept = await call("/metrics", { headers: { Accept: "application/openmetrics-text; version=1.0.0" } });
    expect(byAccept.headers.get("content-type")).toContain("application/openmetrics-text");
  });

  it("orders families by name and series by labels, whatever the push order", async () => {
    await call("/metrics", { method: "POST", body: 'zz{b="2"} 1\nzz{b="1"} 1\n# TYPE aa gauge\naa 1\n' });
    const text = await userScrape();
    expect(text.indexOf("aa 1")).toBeLessThan(text.indexOf("zz"));
    expect(text.indexOf('zz{b="1"}')).toBeLessThan(text.indexOf('zz{b="2"}'));
  });

  it("gzips when the client accepts it", async () => {
    await call("/metrics/c", { method: "PATCH" });
    const response = await call("/metrics", { headers: { "Accept-Encoding": "gzip" } });
    expect(response.headers.get("content-encoding")).toBe("gzip");
    // workerd's fetch decodes gzip transparently: getting the text back proves the body was valid gzip.
    expect(await response.text()).toContain("\nc 1\n");
    const plain = await call("/metrics");
    expect(plain.headers.get("content-encoding")).toBeNull();
  });
});

describe("routing", () => {
  it("answers health and readiness", async () => {
    expect(await (await call("/-/healthy")).text()).toBe("OK\n");
    expect((await call("/-/ready")).status).toBe(200);
  });

  it("answers 404 for unknown paths and 405 with Allow for wrong methods", async () => {
    expect((await call("/nope")).status).toBe(404);
    const wrong = await call("/metrics", { method: "PUT", body: "x 1\n" });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get("allow")).toBe("GET, HEAD, POST");
    const all = await call("/metrics/__all", { method: "PATCH" });
    expect(all.status).toBe(405);
    expect(all.headers.get("allow")).toBe("DELETE");
  });
});
