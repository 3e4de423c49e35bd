// Name escaping (escaping.ts): prometheus/common's EscapeName table, the exposition's metric and
// label name rules, escaped canonical label keys, and the label names a canonical key holds.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { closingQuote, labelKey, labelNamesOf, newLabelNames, parseLabelKey } from "../src/common/labels";
import { isLegacyLabelName, isLegacyMetricName } from "../src/common/names";
import {
  ESCAPING_SCHEMES,
  escapeKey,
  escapeKeyChecked,
  escapeLabelName,
  escapeMetricName,
  escapeName,
  isEscapingScheme,
} from "../src/wire/exposition/escaping";
import { ESCAPE_FAMILY_CASES, ESCAPE_NAME_CASES } from "./data/escape-name-cases";

describe("escapeName: prometheus/common's TestEscapeName table", () => {
  it.each(ESCAPE_NAME_CASES)("$name", (c) => {
    expect(escapeName(c.input, "underscores")).toBe(c.expectedUnderscores);
    expect(escapeName(c.input, "dots")).toBe(c.expectedDots);
    expect(escapeName(c.input, "values")).toBe(c.expectedValue);
    expect(escapeName(c.input, "allow-utf-8")).toBe(c.input);
  });

  it("reads a lone UTF-16 surrogate as U+FFFD, what encoding the name as UTF-8 makes of it", () => {
    expect(escapeName("a\ud800b", "underscores")).toBe("a_b");
    expect(escapeName("a\ud800b", "dots")).toBe("a__b");
    expect(escapeName("a\udc00", "values")).toBe("U__a_fffd_");
    // A surrogate pair is one character (one rune in Go).
    expect(escapeName("a😱", "values")).toBe("U__a_1f631_");
  });

  it("escapes a leading digit, which the legacy charset allows only after the first character", () => {
    expect(escapeName("1a", "underscores")).toBe("_a");
    expect(escapeName("1a", "dots")).toBe("__a");
    expect(escapeName("1a", "values")).toBe("U___31_a");
  });
});

describe("escapeMetricName / escapeLabelName: what an exposition writes", () => {
  it.each(ESCAPE_FAMILY_CASES)("prometheus/common's TestEscapeMetricFamily: $name", (c) => {
    expect(escapeMetricName(c.metricName, c.scheme)).toBe(c.expectedMetricName);
    for (const [from, to] of c.labels) expect(escapeLabelName(from, c.scheme)).toBe(to);
  });

  it("leaves legacy names alone with every scheme (dots included), as EscapeMetricFamily does", () => {
    for (const scheme of ESCAPING_SCHEMES) {
      expect(escapeMetricName("no:escaping_required", scheme)).toBe("no:escaping_required");
      expect(escapeLabelName("some_label", scheme)).toBe("some_label");
    }
  });

  it("leaves every name alone with allow-utf-8", () => {
    expect(escapeMetricName("my.metric", "allow-utf-8")).toBe("my.metric");
    expect(escapeLabelName("k8s.pod", "allow-utf-8")).toBe("k8s.pod");
  });

  it("escapes ':' in label names (no legacy parser reads it there; prometheus/common keeps it)", () => {
    expect(escapeLabelName("a:b", "underscores")).toBe("a_b");
    expect(escapeLabelName("a:b", "dots")).toBe("a__b");
    expect(escapeLabelName("a:b", "values")).toBe("U__a_3a_b");
    expect(escapeMetricName("a:b", "values")).toBe("a:b");
    expect(escapeLabelName("a.b:c", "values")).toBe("U__a_2e_b_3a_c");
  });

  it("always gives a legacy name, whatever the input", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, unit: "grapheme" }), fc.constantFrom("underscores", "dots", "values") as fc.Arbitrary<"underscores" | "dots" | "values">, (name, scheme) => {
        expect(isLegacyMetricName(escapeMetricName(name, scheme))).toBe(true);
        expect(isLegacyLabelName(escapeLabelName(name, scheme))).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});

describe("escapeKey", () => {
  it("returns a key without quoted names as it is, for every scheme", () => {
    const key = 'a="x",b="y\\"z",c="\\\\",d="\\n"';
    for (const scheme of ESCAPING_SCHEMES) expect(escapeKey(key, scheme)).toBe(key);
    expect(escapeKey("", "underscores")).toBe("");
  });

  it("returns every key as it is for allow-utf-8", () => {
    expect(escapeKey('"k8s.pod"="p",a="x"', "allow-utf-8")).toBe('"k8s.pod"="p",a="x"');
  });

  it("escapes quoted names and sorts the pairs again by escaped name", () => {
    // Canonical keys are sorted by unescaped name: "a.z" < "a_b" ('.' < '_'), but a_z > a_b.
    expect(escapeKey('a="x","k8s.pod"="p"', "underscores")).toBe('a="x",k8s_pod="p"');
    expect(escapeKey('"a.z"="1",a_b="2"', "underscores")).toBe('a_b="2",a_z="1"');
    expect(escapeKey('"k8s.pod"="p"', "dots")).toBe('k8s_dot_pod="p"');
    expect(escapeKey('"k8s.pod"="p"', "values")).toBe('U__k8s_2e_pod="p"');
    expect(escapeKey('"a:b"="1"', "underscores")).toBe('a_b="1"');
  });

  it("keeps label values exactly, escapes included", () => {
    const key = labelKey(["my.label", 'q"uote\\back\nnew,"', "b", "ü😱"]);
    expect(key).toBe('b="ü😱","my.label"="q\\"uote\\\\back\\nnew,\\""');
    const escaped = escapeKey(key, "underscores");
    expect(escaped).toBe('b="ü😱",my_label="q\\"uote\\\\back\\nnew,\\""');
    expect(parseLabelKey(escaped)).toEqual(["b", "ü😱", "my_label", 'q"uote\\back\nnew,"']);
  });

  it("reads quoted names holding '=', '\"', ',' and escapes", () => {
    const key = labelKey(["a=b", "1", 'c"d', "2", "e,f\\g\nh", "3"]);
    expect(key).toBe('"a=b"="1","c\\"d"="2","e,f\\\\g\\nh"="3"');
    expect(escapeKey(key, "underscores")).toBe('a_b="1",c_d="2",e_f_g_h="3"');
    expect(escapeKey(key, "values")).toBe('U__a_3d_b="1",U__c_22_d="2",U__e_2c_f_5c_g_a_h="3"');
  });

  it("parses a key whose value ends in ',' (it looks like it could hold a quoted name) and returns it as it is", () => {
    const key = 'a="x,",b="y"';
    expect(escapeKey(key, "underscores")).toBe(key);
  });

  it("reports two names escaping to the same name, and a name escaping to __name__", () => {
    expect(escapeKeyChecked('"a.b"="1",a_b="2"', "underscores")).toEqual({ reason: "escaped_label_clash", label: "a.b", key: 'a_b="1",a_b="2"' });
    expect(escapeKeyChecked(labelKey(["a.b", "1", "a-b", "2"]), "underscores")).toEqual({ reason: "escaped_label_clash", label: "a.b", key: 'a_b="2",a_b="1"' });
    expect(escapeKeyChecked('"..name__"="x"', "underscores")).toEqual({ reason: "escaped_reserved_label", label: "..name__", key: '__name__="x"' });
    expect(escapeKeyChecked('"-name_"="x"', "dots")).toEqual({ reason: "escaped_reserved_label", label: "-name_", key: '__name__="x"' });
    // The same names are distinct with another scheme.
    expect(escapeKeyChecked('"a.b"="1",a_b="2"', "dots")).toBe('a_b="2",a_dot_b="1"');
    expect(escapeKeyChecked('"a.b"="1",a_b="2"', "values")).toBe('U__a_2e_b="1",a_b="2"');
    // escapeKey writes such a key anyway.
    expect(escapeKey('"a.b"="1",a_b="2"', "underscores")).toBe('a_b="1",a_b="2"');
  });

  it("gives, for any label set, a key of legacy names whose values are the original values", () => {
    const name = fc.string({ minLength: 1, maxLength: 6, unit: fc.constantFrom("a", "b", "_", ".", "-", ":", "1", "é", "😱", "=", '"', ",", "\\", "\n", "{") }).filter((s) => !s.startsWith("__"));
    fc.assert(
      fc.property(fc.uniqueArray(fc.tuple(name, fc.string({ minLength: 1 })), { selector: (p) => p[0], maxLength: 5 }), fc.constantFrom("underscores", "dots", "values") as fc.Arbitrary<"underscores" | "dots" | "values">, (pairs, scheme) => {
        const key = labelKey(pairs.flat());
        const r = escapeKeyChecked(key, scheme);
        const escaped = typeof r === "string" ? r : r.key;
        const back = parseLabelKey(escaped);
        const names = back.filter((_, i) => i % 2 === 0);
        expect(names.every(isLegacyLabelName)).toBe(true);
        expect([...names].sort()).toEqual(names);
        expect(back.filter((_, i) => i % 2 === 1).sort()).toEqual(pairs.map((p) => p[1]).sort());
        // A problem exactly when two names escape alike or one escapes to a leading "__" (none starts so unescaped).
        expect(new Set(names).size === names.length && !names.some((n) => n.startsWith("__"))).toBe(typeof r === "string");
      }),
      { numRuns: 2000 },
    );
  });
});

describe("isEscapingScheme", () => {
  it("accepts exactly the four scheme names", () => {
    for (const s of ESCAPING_SCHEMES) expect(isEscapingScheme(s)).toBe(true);
    for (const s of ["", "Underscores", "utf-8", "allow-utf8", "dot"]) expect(isEscapingScheme(s)).toBe(false);
  });
});

describe("label names of a key", () => {
  it("finds the quote that closes a quoted text as a character-by-character reading does", () => {
    // The reading it replaced: a backslash escapes the character after it.
    const byCharacter = (s: string, open: number): number => {
      for (let i = open + 1; i < s.length; i++) {
        const c = s.charCodeAt(i);
        if (c === 92) i++;
        else if (c === 34) return i;
      }
      return s.length;
    };
    const text = fc.array(fc.constantFrom('"', "\\", "a", ",", "="), { maxLength: 12 }).map((cs) => cs.join(""));
    fc.assert(
      fc.property(text, text, (before, after) => {
        const s = `${before}"${after}`;
        expect(closingQuote(s, before.length)).toBe(byCharacter(s, before.length));
      }),
      { numRuns: 3000, seed: 20261202 },
    );
  });

  it("finds the names not yet known, whatever the values hold (quotes, backslashes, commas, equals signs)", () => {
    const name = fc.oneof(fc.constantFrom("a", "le", "b_c", "x.y", "ü", "a b"), fc.string({ minLength: 1, maxLength: 4 }));
    const value = fc.oneof(fc.constantFrom('"', "\\", '\\"', '",b="', "=", ",", "\\\\"), fc.string({ maxLength: 6 }));
    fc.assert(
      fc.property(fc.array(fc.tuple(name, value), { maxLength: 5 }), fc.array(name, { maxLength: 3 }), (pairs, known) => {
        const unique = [...new Map(pairs.filter(([, v]) => v !== "")).entries()];
        const key = labelKey(unique.flat());
        const expected = [...new Set(labelNamesOf(key).filter((n) => !known.includes(n)))];
        expect(newLabelNames(key, known)).toEqual(expected);
      }),
      { numRuns: 2000, seed: 20261202 },
    );
  });
});
