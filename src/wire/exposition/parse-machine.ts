/** The exposition parser proper: one pass over the body, line by line (metadata, samples, labels), assembling families as it goes. */

import { GatewayError, parseError } from "../../common/errors";
import type { Family, Histogram, LabelPairs, Summary } from "../../common/model";
import { labelNameProblem, metricNameProblem } from "../../common/names";
import {
  BSLASH, COMMA, CR, DOT, EQ, HASH, LBRACE, LF, NINE, QUOTE, RBRACE, SP, TAB, UNDERSCORE, ZERO,
  codePoints, escapeSequence, formatLabels, formatNumber, isDigit, isLabelChar, isLoneSurrogate, isMetricChar, isSurrogate, loneSurrogateProblem, rangeEquals, sameText,
} from "./parse-chars";
import { FNV_PRIME, LabelScan, NAME_END, SeriesIndex, mix } from "./parse-index";
import { LabelKeys } from "./parse-keys";
import {
  K_COUNTER, K_GAUGEHISTOGRAM, K_HISTOGRAM, K_INFO, K_STATESET, K_SUMMARY, K_UNTYPED, OM_TYPES, R_BUCKET, R_COUNT, R_CREATED, R_INFO, R_NONE,
  R_QUANTILE, R_STATE, R_SUM, R_TOTAL, R_VALUE, TEXT_TYPES, kindName, roleOf, storedType, suffixes,
} from "./parse-kinds";
import { Lexer } from "./parse-lexer";
import { POW10, parseIntToken, parseNumber } from "./parse-number";
import { type FamilyState, G_NEW, G_NEXT_POINT, G_SAME, INFO_GROUP, type Slot, familyOf } from "./parse-state";

// What `Parser.labels` makes of a quoted string followed by ',' or '}' (a metric name among the labels).
/** An error: the name came before '{', or this is OpenMetrics. */
const NAME_NONE = 0;
/** The metric name, not read yet: skip it once. */
const NAME_SKIP = 1;
/** A second metric name: an error. */
const NAME_TAKEN = 2;

/** One parse of one body (see `parseExposition` in parse.ts): `run` reads it all and returns its families. */
export class Parser extends Lexer {
  readonly allowTs: boolean;
  eof = false;
  /** Every family so far, in body order. */
  readonly states: FamilyState[] = [];
  /** Every name a family owns (its own and its samples'), to reject reuse and clashes. */
  readonly used = new Map<string, FamilyState>();
  cur: FamilyState | undefined = undefined;
  unsupported: FamilyState | undefined = undefined;
  /** Labels of the current sample and of the previous one (swapped per sample). */
  lab = new LabelScan();
  prevLab = new LabelScan();
  /** The histogram or summary series of the previous sample, and the index of its le / quantile label. */
  prevSlot: Slot | undefined = undefined;
  prevSkip = -1;
  readonly exemplarLab = new LabelScan();
  /** Where a sample's labels are scanned first when its metric name is among them (see `sample`). */
  readonly nameScan = new LabelScan();
  readonly seed = (Math.random() * 0x100000000) | 0;
  readonly index: SeriesIndex;
  /** Canonical keys of the scanned labels (parse-keys.ts). */
  readonly labelKeys: LabelKeys;
  /**
   * Label names by index as recent scans had them, `scanNames` of them: where one is in the body,
   * its length, `hashKey`'s hash of it, and whether it sorts after the one before. Each was checked
   * after those before it, so a scan whose names all match needs no name checks, no hashing of names,
   * and no looking for repeats: consecutive series mostly repeat their label names.
   */
  scanNames = 0;
  /** Counts changes to the cached names: the same generation means the same names. */
  scanGeneration = 0;
  readonly scanNameAt: number[] = [];
  readonly scanNameLen: number[] = [];
  readonly scanNameHash: number[] = [];
  readonly scanNameUp: boolean[] = [];
  /** Where the current sample's labels start in the body (after '{' or the quoted name's ','), or -1. */
  labelsAt = -1;
  /** Where `labels` found the metric name among the labels (NAME_SKIP), or -1. */
  nameItemAt = -1;
  /**
   * The open scalar family's keys and values (see `FamilyState.count`): kept from family to family
   * and copied out at their exact size when a family ends, so that they grow once per parse rather
   * than once per family, which left a trail of outgrown arrays for the garbage collector.
   */
  readonly scalarKeys: string[] = [];
  readonly scalarValues: number[] = [];

  constructor(src: string, om: boolean, allowTs: boolean, group: LabelPairs) {
    super(src, om);
    this.allowTs = allowTs;
    this.index = SeriesIndex.forBody(src.length);
    this.labelKeys = new LabelKeys(src, this.seed, group);
  }

  run(): Family[] {
    const s = this.src;
    const len = this.len;
    while (this.pos < len) {
      this.line++;
      this.lineStart = this.pos;
      const c = s.charCodeAt(this.pos);
      if (c === HASH) {
        this.comment();
      } else if (c === LF) {
        if (this.om) this.fail(this.pos, "blank line: OpenMetrics does not allow empty lines; remove it");
        this.pos++;
      } else if (!this.om && (c === SP || c === TAB || c === CR)) {
        const p = this.blanks(this.pos);
        const d = s.charCodeAt(p);
        if (p >= len || d === LF) this.pos = p + 1;
        else if (d === HASH) {
          this.pos = p;
          this.comment();
        } else {
          this.pos = p;
          this.sample();
        }
      } else {
        this.sample();
      }
    }
    this.closeFamily();
    if (!this.om) for (const st of this.states) for (const slot of st.slots) this.checkPoint(st, slot);
    if (this.om && !this.eof) {
      const endsWithLf = len > 0 && s.charCodeAt(len - 1) === LF;
      const line = endsWithLf || len === 0 ? this.line + 1 : this.line;
      const column = endsWithLf || len === 0 ? 1 : this.column(len);
      throw parseError(line, column, 'missing "# EOF": an OpenMetrics body must end with the line "# EOF"');
    }
    return this.states.map(familyOf);
  }

  // ---- comments and metadata ----------------------------------------------------------------

  comment(): void {
    const s = this.src;
    let p = this.pos + 1;
    if (this.om) {
      if (s.charCodeAt(p) !== SP) {
        this.fail(p, 'expected a space after "#": OpenMetrics allows only "# HELP", "# TYPE", "# UNIT" and "# EOF" lines, no comments');
      }
      p++;
      const kwEnd = this.tokenEnd(p);
      const kw = s.slice(p, kwEnd);
      if (kw === "EOF") {
        if (kwEnd < this.len) {
          // kwEnd is the line's end here: tokenEnd stops only at a space or LF, and "# EOF " is not "# EOF".
          if (s.charCodeAt(kwEnd) !== LF) this.fail(kwEnd, '"# EOF" must be alone on its line');
          if (kwEnd + 1 < this.len) {
            this.line++;
            this.lineStart = kwEnd + 1;
            this.fail(kwEnd + 1, 'text after "# EOF": "# EOF" must be the last line of an OpenMetrics body; remove what follows it');
          }
        }
        this.eof = true;
        this.pos = this.len;
        return;
      }
      if (kw !== "HELP" && kw !== "TYPE" && kw !== "UNIT") {
        this.fail(p, `unknown line "# ${kw}": OpenMetrics allows only "# HELP", "# TYPE", "# UNIT" and "# EOF" lines, no comments`);
      }
      if (s.charCodeAt(kwEnd) !== SP) this.fail(kwEnd, `expected a space and a metric name after "# ${kw}"`);
      this.metadata(kw, kwEnd + 1);
      return;
    }
    // Text format: "# HELP" and "# TYPE" lines; every other line starting with '#' is a comment.
    p = this.blanks(p);
    const kwEnd = this.tokenEnd(p);
    const isHelp = kwEnd - p === 4 && s.startsWith("HELP", p);
    if (isHelp || (kwEnd - p === 4 && s.startsWith("TYPE", p))) {
      const nameAt = this.blanks(kwEnd);
      // Like Prometheus, "# HELP" with nothing after it is an ordinary comment.
      if (nameAt > kwEnd && nameAt < this.len && s.charCodeAt(nameAt) !== LF) {
        this.metadata(isHelp ? "HELP" : "TYPE", nameAt);
        return;
      }
    }
    this.pos = this.lineEnd(p) + 1;
  }

  /** Reads a metric name at p (plain or quoted), leaving `pos` after it. */
  metricName(p: number, where: string): string {
    const s = this.src;
    const c = s.charCodeAt(p);
    if (c === QUOTE) {
      const name = this.quoted(p);
      const problem = metricNameProblem(name);
      if (problem !== undefined) this.fail(p, problem);
      return name;
    }
    const start = p;
    while (p < this.len && isMetricChar(s.charCodeAt(p))) p++;
    if (p === start) this.fail(start, `expected a metric name ${where}, found ${this.describe(start)}`);
    if (isDigit(c)) this.fail(start, `metric name "${s.slice(start, p)}" starts with a digit; names match [a-zA-Z_:][a-zA-Z0-9_:]* (or are quoted)`);
    this.pos = p;
    return s.slice(start, p);
  }

  metadata(kw: string, p: number): void {
    const s = this.src;
    const om = this.om;
    const nameAt = p;
    const name = this.metricName(p, `after "# ${kw}"`);
    p = this.pos;
    const c = s.charCodeAt(p);
    const what = kw === "HELP" ? "help text" : kw === "TYPE" ? "metric type" : "unit";
    if (om) {
      if (c !== SP) {
        if (p >= this.len || c === LF) this.fail(p, `expected a space and the ${what} after the metric name "${name}"`);
        this.fail(p, `found ${this.describe(p)} after metric name "${name}", expected a single space; names match [a-zA-Z_:][a-zA-Z0-9_:]*, quote others: # ${kw} "my.name" ...`);
      }
      p++;
    } else if (this.isBlank(c)) {
      p = this.blanks(p);
    } else if (p < this.len && c !== LF) {
      this.fail(p, `found ${this.describe(p)} in metric name "${name}"; names match [a-zA-Z_:][a-zA-Z0-9_:]*, quote others: # ${kw} "my.name" ...`);
    }
    const end = this.lineEnd(p);
    this.pos = end + 1;
    // "# HELP name" or "# TYPE name" with nothing after the name is a comment in the text format,
    // as in the Pushgateway's parser (it has no text to take).
    if (!om && p >= end) return;

    const st = this.familyForMetadata(name, kw, nameAt);
    if (kw === "HELP") {
      if (st.hasHelp) this.fail(nameAt, `second HELP line for "${name}"; a family has at most one`);
      st.hasHelp = true;
      let helpEnd = end;
      if (!om && helpEnd > p && s.charCodeAt(helpEnd - 1) === CR) helpEnd--;
      st.help = this.unescapeHelp(p, helpEnd);
    } else if (kw === "TYPE") {
      if (st.hasType) this.fail(nameAt, `second TYPE line for "${name}"; a family has exactly one type`);
      const typeEnd = this.tokenEnd(p);
      if (typeEnd === p) this.fail(p, `expected a metric type after "# TYPE ${name}"`);
      if (!om && this.blanks(typeEnd) < end) this.fail(this.blanks(typeEnd), `unexpected text after the metric type`);
      if (om && typeEnd < end) this.fail(typeEnd, `unexpected text after the metric type (OpenMetrics allows no trailing spaces)`);
      this.setType(st, s.slice(p, typeEnd), p, nameAt);
    } else {
      if (st.hasUnit) this.fail(nameAt, `second UNIT line for "${name}"; a family has at most one`);
      const unit = s.slice(p, end);
      if (unit !== "" && !name.endsWith(`_${unit}`)) {
        this.fail(p, `unit "${unit}" must be the suffix of the metric name: name the metric "${name}_${unit}", or drop the UNIT line`);
      }
      if (unit !== "" && (st.kind === K_INFO || st.kind === K_STATESET)) {
        this.fail(p, `${kindName(st.kind, om)} "${name}" cannot have a unit; remove the UNIT line`);
      }
      st.hasUnit = true;
      st.unit = unit;
    }
  }

  /**
   * The HELP text in `[start, end)`, unescaped: `\\`, `\n` and `\"` (the Pushgateway's parser reads
   * `\"` in text-format HELP too). Any other backslash is an error in the text format, as there, and
   * stays as written in OpenMetrics, as its test vectors require.
   */
  unescapeHelp(start: number, end: number): string {
    const s = this.src;
    // Looked for within the line: indexOf would search on to the body's end whenever the line has
    // no backslash, once per HELP line.
    let i = start;
    for (let c = s.charCodeAt(i); i < end && c !== BSLASH; c = s.charCodeAt(++i)) {
      if (isSurrogate(c) && isLoneSurrogate(s, i)) this.fail(i, loneSurrogateProblem(c));
    }
    if (i >= end) return s.slice(start, end);
    let out = "";
    let from = start;
    for (; i < end; i++) {
      const c = s.charCodeAt(i);
      if (isSurrogate(c) && isLoneSurrogate(s, i)) this.fail(i, loneSurrogateProblem(c));
      if (c !== BSLASH) continue;
      const d = i + 1 < end ? s.charCodeAt(i + 1) : -1;
      if (d === BSLASH || d === 110 /* n */ || d === QUOTE) {
        out += s.slice(from, i) + (d === 110 ? "\n" : d === QUOTE ? '"' : "\\");
        i++;
        from = i + 1;
      } else if (!this.om) {
        this.fail(
          i,
          d < 0
            ? "the HELP text ends with a lone backslash; write a backslash as \\\\"
            : `invalid escape sequence ${escapeSequence(s, i)} in HELP text; the text format knows only \\\\ (backslash), \\n (newline) and \\" (quote): write a backslash as \\\\`,
        );
      }
    }
    return out + s.slice(from, end);
  }

  /**
   * The family a metadata line is about. The text format keeps a family's lines together wherever
   * they are (a HELP may come after the samples, or after other families), as the Pushgateway's
   * parser does; only TYPE must precede the samples. OpenMetrics wants all metadata first.
   */
  familyForMetadata(name: string, kw: string, pos: number): FamilyState {
    const cur = this.cur;
    let st = cur !== undefined && cur.name === name ? cur : undefined;
    if (st === undefined && !this.om) {
      const earlier = this.used.get(name);
      if (earlier !== undefined && earlier.name === name) st = earlier;
    }
    if (st === undefined) return this.openFamily(name, pos, false);
    if (st.hasSamples && (this.om || kw === "TYPE")) {
      const what = this.om ? "HELP, TYPE and UNIT lines" : "the TYPE line";
      this.fail(pos, `# ${kw} for "${name}" comes after its samples; put ${what} before the family's first sample`);
    }
    return st;
  }

  setType(st: FamilyState, type: string, pos: number, namePos: number): void {
    const om = this.om;
    const kind = (om ? OM_TYPES : TEXT_TYPES).get(type);
    if (kind === undefined) {
      const known = om ? "counter, gauge, histogram, gaugehistogram, summary, info, stateset or unknown" : "counter, gauge, histogram, summary or untyped";
      const gauge = !om && /^gauge_?histogram$/i.test(type);
      const hint =
        om && type === "untyped"
          ? ' (OpenMetrics calls it "unknown")'
          : !om && type === "unknown"
            ? ' (the text format calls it "untyped")'
            : gauge
              ? " (the gateway does not store gauge histograms: push it as a histogram or as gauges)"
              : "";
      this.fail(pos, `unknown metric type "${type}"${hint}; use ${known}`);
    }
    if (st.hasUnit && st.unit !== "" && (kind === K_INFO || kind === K_STATESET)) {
      this.fail(pos, `${type} "${st.name}" cannot have a unit; remove the UNIT line`);
    }
    for (const suffix of suffixes(kind, om)) {
      const other = this.used.get(st.name + suffix);
      if (other !== undefined && other !== st) {
        this.fail(namePos, `${type} "${st.name}" has samples named "${st.name}${suffix}", which clashes with the family "${other.name}" at line ${other.line}; rename one of them`);
      }
      this.used.set(st.name + suffix, st);
    }
    st.kind = kind;
    st.hasType = true;
    st.type = storedType(kind);
    if (om && kind === K_COUNTER) st.outName = `${st.name}_total`;
    if (kind === K_INFO) st.outName = `${st.name}_info`;
    if (kind === K_GAUGEHISTOGRAM) this.unsupported ??= st;
  }

  // ---- families -----------------------------------------------------------------------------

  openFamily(name: string, pos: number, bySample: boolean): FamilyState {
    const prev = this.used.get(name);
    if (prev !== undefined) {
      const type = kindName(prev.kind, this.om);
      if (bySample && (prev === this.cur || !this.om)) {
        const names = suffixes(prev.kind, this.om).map((x) => `"${prev.name}${x}"`);
        if (roleOf(prev, prev.name, this.om) !== R_NONE) names.unshift(`"${prev.name}"`);
        this.fail(pos, `sample "${name}" does not fit the ${type} "${prev.name}", whose samples are named ${names.join(", ")}`);
      }
      if (prev.name === name) {
        this.fail(pos, `metric "${name}" already appeared at line ${prev.line}; keep a family's metadata and samples together in one block`);
      }
      this.fail(pos, `metric name "${name}" clashes with the ${type} "${prev.name}" at line ${prev.line}, which uses that name for its samples; rename one of them`);
    }
    this.closeFamily();
    const st: FamilyState = {
      outName: name,
      type: "untyped",
      help: "",
      unit: "",
      name,
      line: this.line,
      kind: K_UNTYPED,
      hasType: false,
      hasHelp: false,
      hasUnit: false,
      hasSamples: false,
      keys: [],
      values: [],
      count: 0,
      first: this.index.count,
      index: undefined,
      histograms: [],
      summaries: [],
      slots: [],
      bodyKeys: [],
      replaced: false,
      // Created when needed: most families have neither, and a body may have thousands of families.
      pending: undefined,
      groups: undefined,
      group: undefined,
      groupHasTs: false,
      groupTs: 0,
      lastName: "",
      lastNameAt: -1,
      lastRole: R_NONE,
    };
    this.used.set(name, st);
    this.states.push(st);
    this.index.open();
    this.cur = st;
    this.prevSlot = undefined;
    return st;
  }

  closeFamily(): void {
    const st = this.cur;
    if (st === undefined) return;
    this.cur = undefined;
    // A text-format family may come back later (see `reopen`): its series are checked at the end.
    if (this.om) for (const slot of st.slots) this.checkPoint(st, slot);
    if (st.count > 0 && st.index === undefined) {
      st.keys = this.scalarKeys.slice(0, st.count);
      st.values = this.scalarValues.slice(0, st.count);
    }
    const pending = st.pending;
    if (pending !== undefined && pending.size > 0) {
      st.keys = st.keys.filter((_, i) => !pending.has(i));
      st.values = st.values.filter((_, i) => !pending.has(i));
    }
  }

  /**
   * Makes an earlier family the open one again: in the text format a family's lines may be spread
   * over the body, and the Pushgateway's parser merges them (expfmt's "evil summary" case). The
   * family moves to a series index of its own the first time, so that its series stay findable,
   * duplicates included, however often the body switches between families.
   */
  reopen(st: FamilyState): FamilyState {
    this.closeFamily();
    st.index ??= this.index.extract(st.first, st.type === "histogram" || st.type === "summary" ? st.slots.length : st.count);
    this.cur = st;
    this.prevSlot = undefined;
    return st;
  }

  // ---- samples and labels ---------------------------------------------------------------------

  sample(): void {
    const s = this.src;
    const len = this.len;
    const om = this.om;
    let p = this.pos;
    const nameStart = p;
    let c = s.charCodeAt(p);
    const cur = this.cur;
    let name: string;
    let role = R_NONE;
    let hasLabels = false;
    let afterComma = false;
    let nameItems = NAME_NONE;

    if (c === LBRACE) {
      // {"name", labels...}: the quoted-name form Prometheus 3 uses for UTF-8 names. The text format
      // also allows the name after labels ({a="1", "name"}), as the Pushgateway's parser does.
      p = this.blanks(p + 1);
      const quoteAt = p;
      let nameFirst = false;
      name = "";
      if (s.charCodeAt(p) === QUOTE) {
        const quoted = this.quoted(p);
        const q = this.blanks(this.pos);
        c = s.charCodeAt(q);
        if (c !== EQ) {
          const problem = metricNameProblem(quoted);
          if (problem !== undefined) this.fail(quoteAt, problem);
          name = quoted;
          nameFirst = true;
          if (c === COMMA) hasLabels = afterComma = true;
          else if (c !== RBRACE) this.fail(q, `expected ',' or '}' after the quoted metric name, found ${this.describe(q)}`);
          p = q + 1;
          nameItems = NAME_TAKEN;
        } else if (om) {
          this.fail(quoteAt, `the sample has no metric name: ${JSON.stringify(quoted)} is followed by '=', so it is a label name; put the metric name before '{' or first inside the braces`);
        }
      } else if (om) {
        this.fail(p, `expected the metric name as a quoted string after '{', found ${this.describe(p)}; a sample needs a metric name`);
      }
      if (!nameFirst) {
        // Look for the name among the labels: this scan also reports anything wrong with them.
        this.nameItemAt = -1;
        this.labels(p, this.nameScan, false, "", NAME_SKIP);
        if (this.nameItemAt < 0) {
          this.fail(nameStart, `the sample has no metric name: write it before '{' or quote it inside the braces, e.g. {"my.metric",label="value"} 1`);
        }
        name = this.metricName(this.nameItemAt, "");
        hasLabels = true;
        nameItems = NAME_SKIP;
      }
    } else {
      // The previous sample's name, already validated, is the likely one: compare before scanning.
      const last = cur === undefined ? "" : cur.lastName;
      if (cur !== undefined && cur.lastNameAt >= 0 && sameText(s, nameStart, cur.lastNameAt, last.length) && !isMetricChar(s.charCodeAt(nameStart + last.length))) {
        p = nameStart + last.length;
        name = last;
        role = cur.lastRole;
      } else {
        while (p < len && isMetricChar(s.charCodeAt(p))) p++;
        if (p === nameStart) {
          this.fail(nameStart, `expected a metric name at the start of the line, found ${this.describe(nameStart)}`);
        }
        if (isDigit(c)) {
          this.fail(nameStart, `metric name "${s.slice(nameStart, p)}" starts with a digit; names match [a-zA-Z_:][a-zA-Z0-9_:]* (or are quoted: {"0name"})`);
        }
        name = s.slice(nameStart, p);
      }
      c = s.charCodeAt(p);
      if (!om && this.isBlank(c)) {
        // The text format allows blanks between the name and '{'.
        const q = this.blanks(p);
        if (s.charCodeAt(q) === LBRACE) {
          p = q;
          c = LBRACE;
        }
      }
      if (c === LBRACE) {
        hasLabels = true;
        p++;
      } else if (!this.isBlank(c)) {
        if (p >= len || c === LF) this.fail(p, `sample "${name}" has no value; write "${name} <value>"`);
        let q = p;
        for (let d = s.charCodeAt(q); q < len && d !== SP && d !== TAB && d !== LF && d !== LBRACE; d = s.charCodeAt(++q));
        const whole = s.slice(nameStart, q);
        this.fail(p, `found ${this.describe(p)} in metric name "${whole}"; names match [a-zA-Z_:][a-zA-Z0-9_:]*, quote others inside the braces: {${JSON.stringify(whole)}} 1`);
      }
    }

    let st: FamilyState;
    if (role !== R_NONE && cur !== undefined) {
      st = cur;
    } else {
      role = cur === undefined ? R_NONE : roleOf(cur, name, om);
      if (cur !== undefined && role !== R_NONE) {
        st = cur;
      } else {
        // The text format merges a family's lines wherever they are (see `reopen`).
        const earlier = om ? undefined : this.used.get(name);
        const earlierRole = earlier === undefined || earlier === cur ? R_NONE : roleOf(earlier, name, om);
        if (earlier !== undefined && earlierRole !== R_NONE) {
          st = this.reopen(earlier);
          role = earlierRole;
        } else {
          st = this.openFamily(name, nameStart, true);
          role = R_VALUE;
        }
      }
      st.lastName = name;
      st.lastNameAt = s.charCodeAt(nameStart) === LBRACE ? -1 : nameStart;
      st.lastRole = role;
    }
    st.hasSamples = true;

    const kind = st.kind;
    const lab = this.prevLab;
    this.prevLab = this.lab;
    this.lab = lab;
    if (hasLabels) {
      const special = role === R_BUCKET ? "le" : role === R_QUANTILE ? "quantile" : role === R_STATE ? st.name : "";
      this.labelsAt = p;
      p = this.labels(p, lab, afterComma, special, nameItems);
    } else {
      this.labelsAt = -1;
      lab.reset();
    }

    // Separator, value, timestamp, exemplar.
    c = s.charCodeAt(p);
    if (om) {
      if (c !== SP) this.fail(p, p >= len || c === LF ? `expected a space and the sample value` : `expected a space before the sample value, found ${this.describe(p)}`);
      p++;
    } else if (this.isBlank(c)) {
      p = this.blanks(p);
    } else if (p >= len || c === LF) {
      this.fail(p, `expected a blank and the sample value`);
    } else if (!hasLabels && s.charCodeAt(nameStart) !== LBRACE) {
      this.fail(p, `expected a blank before the sample value, found ${this.describe(p)}`);
    }
    // (In the text format the value may follow '}' directly: `a{b="c"}1`, as the Pushgateway reads it.)
    const valueAt = p;
    // Plain decimals (most values) are read here in one pass; the rest by tokenEnd and parseNumber.
    let mantissa = 0;
    let digits = 0;
    let scale = 0;
    for (c = s.charCodeAt(p); c >= ZERO && c <= NINE; c = s.charCodeAt(++p)) {
      mantissa = mantissa * 10 + (c - ZERO);
      digits++;
    }
    if (c === DOT) {
      for (c = s.charCodeAt(++p); c >= ZERO && c <= NINE; c = s.charCodeAt(++p)) {
        mantissa = mantissa * 10 + (c - ZERO);
        digits++;
        scale--;
      }
    }
    let value: number;
    // As in parseNumber: up to 15 significant digits and a power of ten up to 1e22 divide exactly.
    if (digits > 0 && mantissa <= 999_999_999_999_999 && scale >= -22 && (p >= len || c === SP || c === LF || (!om && (c === TAB || c === CR)))) {
      value = scale < 0 ? mantissa / (POW10[-scale] ?? 1) : mantissa;
    } else {
      p = this.tokenEnd(valueAt);
      if (p === valueAt) this.fail(p, om && s.charCodeAt(p) === SP ? "expected the sample value, found a second space (OpenMetrics separates with exactly one space)" : "expected the sample value");
      const parsed = parseNumber(s, valueAt, p);
      if (parsed === undefined) {
        this.fail(valueAt, `invalid sample value "${s.slice(valueAt, p)}"; write a decimal number such as 42, -1.5 or 2e-3, or NaN, +Inf, -Inf`);
      }
      value = parsed;
    }

    let hasTs = false;
    let ts = 0;
    let tsAt = 0;
    if (om) {
      if (p < len && s.charCodeAt(p) === SP) {
        p++;
        if (s.charCodeAt(p) === HASH) {
          p = this.exemplar(p, kind, role);
        } else {
          tsAt = p;
          ts = this.omTimestamp(p, "sample");
          p = this.pos;
          hasTs = true;
          if (p < len && s.charCodeAt(p) === SP) {
            p++;
            if (s.charCodeAt(p) !== HASH) this.fail(p, `expected "# {...}" (an exemplar) or the end of the line after the timestamp, found ${this.describe(p)}`);
            p = this.exemplar(p, kind, role);
          }
        }
      }
      if (p < len && s.charCodeAt(p) !== LF) this.fail(p, `found ${this.describe(p)} where the sample should end; OpenMetrics allows no trailing spaces or extra fields`);
    } else {
      p = this.blanks(p);
      if (p < len && s.charCodeAt(p) !== LF) {
        tsAt = p;
        const end = this.tokenEnd(p);
        const t = parseIntToken(s, p, end);
        if (t === undefined) {
          if (s.charCodeAt(p) === HASH) {
            this.fail(p, "exemplars are only allowed in OpenMetrics; send the body as application/openmetrics-text or drop the exemplar");
          }
          this.fail(p, `invalid timestamp "${s.slice(p, end)}"; the text format's timestamps are integer milliseconds since the epoch`);
        }
        ts = t;
        hasTs = true;
        p = this.blanks(end);
        if (p < len && s.charCodeAt(p) !== LF) this.fail(p, `found ${this.describe(p)} after the timestamp, expected the end of the line; a sample is: name{labels} value [timestamp]`);
      }
    }
    if (hasTs && !this.allowTs) {
      throw new GatewayError("InvalidValue", `line ${this.line}: sample has a timestamp; the gateway stamps its own time on export, remove the timestamp`);
    }
    this.pos = p + 1;

    if (kind === K_HISTOGRAM || kind === K_GAUGEHISTOGRAM || kind === K_SUMMARY) {
      this.composite(st, role, value, hasTs, ts, nameStart, valueAt, tsAt);
    } else {
      this.scalar(st, role, name, value, hasTs, ts, nameStart, valueAt, tsAt);
    }
  }

  /**
   * Scans `name="value", ...}` from p, just after '{' (or, with `afterComma`, after the comma that
   * follows a quoted metric name), into `lab`; returns the position after '}'. Checks names and
   * duplicates, notes where the label named `special` is, and whether the text is already the
   * canonical key (`lab.plain`, `lab.sorted`). `nameItems` says what a quoted string that is not
   * followed by '=' is: an error (NAME_NONE), the metric name, skipped and its quote's position
   * left in `nameItemAt` (NAME_SKIP, once), or a second metric name (NAME_TAKEN).
   */
  labels(p: number, lab: LabelScan, afterComma: boolean, special: string, nameItems: number): number {
    const s = this.src;
    const len = this.len;
    const om = this.om;
    lab.reset();
    p = this.blanks(p);
    let c = s.charCodeAt(p);
    if (c === RBRACE && (!afterComma || !om)) return p + 1;
    let plain = true;
    let sorted = true;
    let sum = 0;
    // Whether every name so far is the cached one at its index (see `scanNames`).
    let cached = true;
    for (let i = 0; ; i++) {
      // Label name. A name the previous scans had at this index needs no checks and no hashing.
      const nameAt = p;
      let h = 0;
      let quotedName: string | undefined = undefined;
      if (c === QUOTE) {
        quotedName = this.quoted(p);
        p = this.pos;
        if (nameItems !== NAME_NONE) {
          // Followed by ',' or '}' rather than '=': the sample's metric name, which the text format
          // may put anywhere in the braces (`{a="1","my.metric"}`), as the Pushgateway reads it.
          const q = this.blanks(p);
          const d = s.charCodeAt(q);
          if (d === COMMA || d === RBRACE) {
            if (nameItems === NAME_TAKEN) {
              this.fail(nameAt, `${JSON.stringify(quotedName)} is a second metric name: a sample has one; a label is written "name"="value"`);
            }
            nameItems = NAME_TAKEN;
            this.nameItemAt = nameAt;
            // Neither the text between the labels nor the names' positions are the usual ones.
            plain = false;
            cached = false;
            this.scanNames = Math.min(this.scanNames, i);
            p = q;
            if (d === RBRACE) break;
            p = this.blanks(p + 1);
            c = s.charCodeAt(p);
            if (c === RBRACE && !om) break;
            i--;
            continue;
          }
        }
        const problem = labelNameProblem(quotedName);
        if (problem !== undefined) this.fail(nameAt, problem);
        // Even a legacy name differs from its quoted spelling.
        plain = false;
        cached = false;
      } else if (cached && i < this.scanNames && this.sameName(p, i)) {
        p += this.scanNameLen[i] ?? 0;
        h = this.scanNameHash[i] ?? 0;
      } else {
        h = this.seed;
        while (p < len && isLabelChar(c)) {
          h = Math.imul(h ^ c, FNV_PRIME);
          c = s.charCodeAt(++p);
        }
        if (p === nameAt) {
          if (c === RBRACE || c === COMMA) this.fail(p, om ? `expected a label name, found ${this.describe(p)} (OpenMetrics allows no empty or trailing commas)` : `expected a label name, found ${this.describe(p)}`);
          this.fail(p, `expected a label name, found ${this.describe(p)}; label names match [a-zA-Z_][a-zA-Z0-9_]* (quote others: {"my.label"="v"})`);
        }
        const first = s.charCodeAt(nameAt);
        if (isDigit(first)) this.fail(nameAt, `label name "${s.slice(nameAt, p)}" starts with a digit; label names match [a-zA-Z_][a-zA-Z0-9_]* (or are quoted)`);
        if (first === UNDERSCORE && s.charCodeAt(nameAt + 1) === UNDERSCORE) {
          this.fail(nameAt, `label name "${s.slice(nameAt, p)}" starts with "__", which Prometheus reserves for internal labels; rename the label`);
        }
        cached = false;
      }
      const nameEnd = p;
      const nameHash = h;
      h = Math.imul(h ^ NAME_END, FNV_PRIME);

      // '=' and the quoted value: a value with a backslash (or an unterminated one) is decoded.
      // Blanks, which the text format allows around them, are looked for only when needed.
      if (s.charCodeAt(p) !== EQ) {
        p = this.blanks(p);
        if (s.charCodeAt(p) !== EQ) this.fail(p, `expected '=' after label name "${this.labelName(lab, i, nameAt, nameEnd, quotedName)}", found ${this.describe(p)}`);
        plain = false;
      }
      p++;
      if (s.charCodeAt(p) !== QUOTE) {
        p = this.blanks(p);
        if (s.charCodeAt(p) !== QUOTE) {
          this.fail(p, `expected '"' to open the value of label "${this.labelName(lab, i, nameAt, nameEnd, quotedName)}", found ${this.describe(p)}; label values are double-quoted`);
        }
        plain = false;
      }
      const valueAt = p + 1;
      let q = valueAt;
      let decoded: string | undefined = undefined;
      for (;;) {
        c = q < len ? s.charCodeAt(q) : LF;
        if (c === QUOTE) break;
        if (c === BSLASH || c === LF) {
          this.oddEscape = false;
          // quoted() decodes from the opening quote and checks the rest of the value.
          decoded = this.quoted(p);
          // `\\`, `\"` and `\n` are also how the key escapes; any other backslash is kept, and doubled there.
          if (this.oddEscape) plain = false;
          const end = this.pos - 1;
          for (; q < end; q++) h = Math.imul(h ^ s.charCodeAt(q), FNV_PRIME);
          break;
        }
        if (isSurrogate(c) && isLoneSurrogate(s, q)) this.fail(q, loneSurrogateProblem(c));
        h = Math.imul(h ^ c, FNV_PRIME);
        q++;
      }
      const ph = mix(h);
      sum = (sum + ph) | 0;
      // An empty value is no label: the key leaves it out.
      if (q === valueAt) plain = false;
      lab.ns[i] = nameAt;
      lab.ne[i] = nameEnd;
      lab.nq[i] = quotedName;
      lab.vs[i] = valueAt;
      lab.ve[i] = q;
      lab.vq[i] = decoded;
      lab.ph[i] = ph;
      lab.n = i + 1;
      p = q + 1;

      if (special !== "" && (quotedName === undefined ? nameEnd - nameAt === special.length && rangeEquals(s, nameAt, special) : quotedName === special)) {
        lab.special = i;
      }
      if (cached) {
        // The same names as a scan that checked them: same order, no repeats.
        if (i > 0 && this.scanNameUp[i] !== true) sorted = false;
      } else {
        // Names in strictly ascending order (the usual case) cannot repeat; once out of order, look.
        const up = i === 0 || this.labelKeys.compareNames(lab, i - 1, i) < 0;
        if (i > 0 && (!sorted || !up)) {
          sorted = false;
          for (let k = 0; k < i; k++) {
            if (this.labelKeys.compareNames(lab, k, i) === 0) this.fail(nameAt, `label "${this.labelKeys.nameOf(lab, i)}" appears twice in the same series; keep one`);
          }
        }
        if (quotedName !== undefined) {
          // Not cached, nor anything after it in this scan: a cached name follows the cached ones.
          this.scanNames = Math.min(this.scanNames, i);
        } else if (this.scanNames >= i) {
          // Cached after the names before it, which this scan matched or cached; those cached
          // after it followed other names and no longer count.
          this.scanNameAt[i] = nameAt;
          this.scanNameLen[i] = nameEnd - nameAt;
          this.scanNameHash[i] = nameHash;
          this.scanNameUp[i] = up;
          this.scanNames = i + 1;
        }
        this.scanGeneration++;
      }

      // ',' or '}'. Blanks before '}' and a trailing comma are outside the key's text; others are not.
      c = s.charCodeAt(p);
      if (c === COMMA) {
        p++;
        c = s.charCodeAt(p);
        if (!isLabelChar(c) && c !== QUOTE) {
          p = this.blanks(p);
          if (p !== q + 2) plain = false;
          c = s.charCodeAt(p);
          if (c === RBRACE && !om) break;
        }
        continue;
      }
      if (c === RBRACE) break;
      p = this.blanks(p);
      c = s.charCodeAt(p);
      if (c === COMMA) {
        plain = false;
        p = this.blanks(p + 1);
        c = s.charCodeAt(p);
        if (c === RBRACE && !om) break;
        continue;
      }
      if (c === RBRACE) break;
      this.fail(p, `expected ',' or '}' after the value of label "${this.labelKeys.nameOf(lab, i)}", found ${this.describe(p)}`);
    }
    lab.plain = plain;
    lab.sorted = sorted;
    lab.hash = sum;
    lab.generation = cached ? this.scanGeneration : -1;
    return p + 1;
  }

  /** A label's name while it is being scanned (for error messages). */
  labelName(lab: LabelScan, i: number, start: number, end: number, quotedName: string | undefined): string {
    return quotedName ?? (i < lab.n ? this.labelKeys.nameOf(lab, i) : this.src.slice(start, end));
  }

  /** Whether the label name at p is the one the previous scan had at index i (`scanName*`). */
  sameName(p: number, i: number): boolean {
    const n = this.scanNameLen[i] ?? 0;
    return sameText(this.src, p, this.scanNameAt[i] ?? 0, n) && !isLabelChar(this.src.charCodeAt(p + n));
  }

  /**
   * The labels a series was first written with (at `at`, see `Slot.labelsAt`; `skipped` left out),
   * scanned again for an error message.
   */
  scanAgain(at: number, skipped: string): { text: string; count: number } {
    if (at < 0) return { text: "{}", count: 0 };
    const lab = new LabelScan();
    this.labels(at, lab, false, skipped, this.om ? NAME_TAKEN : NAME_SKIP);
    return { text: formatLabels(this.labelKeys.materialize(lab, skipped === "" ? -1 : lab.special)), count: lab.n };
  }

  slotText(slot: Slot): string {
    return this.scanAgain(slot.labelsAt, slot.skipped).text;
  }

  // ---- OpenMetrics timestamps and exemplars ---------------------------------------------------

  /** Parses an OpenMetrics timestamp (float seconds, finite) at p; leaves `pos` after it. */
  omTimestamp(p: number, what: string): number {
    const s = this.src;
    const end = this.tokenEnd(p);
    if (end === p) {
      this.fail(p, s.charCodeAt(p) === SP ? `expected the ${what} timestamp, found a second space (OpenMetrics separates with exactly one space)` : `expected the ${what} timestamp after the space (OpenMetrics allows no trailing spaces)`);
    }
    const ts = parseNumber(s, p, end);
    if (ts === undefined || !Number.isFinite(ts)) {
      this.fail(p, `invalid ${what} timestamp "${s.slice(p, end)}"; OpenMetrics timestamps are finite decimal seconds since the epoch, such as 1700000000.5`);
    }
    this.pos = end;
    return ts;
  }

  /** Validates an OpenMetrics exemplar starting at the '#' at p; returns the position after it. */
  exemplar(p: number, kind: number, role: number): number {
    const s = this.src;
    if (role !== R_TOTAL && role !== R_BUCKET) {
      this.fail(p, `exemplars are only allowed on counter "_total" and histogram "_bucket" samples, not on this ${kindName(kind, true)} sample`);
    }
    if (s.charCodeAt(p + 1) !== SP) this.fail(p + 1, `expected a space after '#' before the exemplar's labels, found ${this.describe(p + 1)}`);
    p += 2;
    if (s.charCodeAt(p) !== LBRACE) this.fail(p, `expected '{' to open the exemplar's labels, found ${this.describe(p)}`);
    const labelsAt = p;
    const lab = this.exemplarLab;
    p = this.labels(p + 1, lab, false, "", NAME_NONE);
    let chars = 0;
    for (let i = 0; i < lab.n; i++) chars += codePoints(this.labelKeys.nameOf(lab, i)) + codePoints(this.labelKeys.valueOf(lab, i));
    if (chars > 128) this.fail(labelsAt, `exemplar labels are ${chars} characters long; OpenMetrics allows at most 128 (names and values together)`);
    if (s.charCodeAt(p) !== SP) this.fail(p, `expected a space and the exemplar value after its labels, found ${this.describe(p)}`);
    p++;
    const valueAt = p;
    p = this.tokenEnd(p);
    if (p === valueAt) this.fail(p, "expected the exemplar value");
    if (parseNumber(s, valueAt, p) === undefined) this.fail(valueAt, `invalid exemplar value "${s.slice(valueAt, p)}"; write a decimal number`);
    if (p < this.len && s.charCodeAt(p) === SP) {
      this.omTimestamp(p + 1, "exemplar");
      p = this.pos;
    }
    return p;
  }

  // ---- series assembly ----------------------------------------------------------------------

  /**
   * OpenMetrics grouping: a group's samples are adjacent, all with timestamps or none, and the
   * timestamps never go back. `group` is the existing series (or key) or `undefined` for a new one.
   * Tells whether the sample starts a group, continues it, or starts a later point of it.
   */
  enterGroup(st: FamilyState, group: unknown, hasTs: boolean, ts: number, pos: number, tsAt: number, skip: number): number {
    if (group !== undefined && group === st.group) {
      if (hasTs !== st.groupHasTs) {
        this.fail(hasTs ? tsAt : pos, `some samples of series ${this.labelKeys.labelsText(this.lab, skip)} have a timestamp and others do not; timestamp all or none`);
      }
      if (!hasTs) return G_SAME;
      if (ts < st.groupTs && st.kind !== K_INFO) this.fail(tsAt, `timestamp goes backwards within series ${this.labelKeys.labelsText(this.lab, skip)}; samples must be in time order`);
      const next = ts !== st.groupTs;
      st.groupTs = ts;
      return next ? G_NEXT_POINT : G_SAME;
    }
    if (group !== undefined && group !== INFO_GROUP) {
      this.fail(pos, `the samples of series ${this.labelKeys.labelsText(this.lab, skip)} in "${st.name}" are not together; OpenMetrics requires each series' samples to be adjacent`);
    }
    st.group = group;
    st.groupHasTs = hasTs;
    st.groupTs = ts;
    return G_NEW;
  }

  scalar(st: FamilyState, role: number, name: string, value: number, hasTs: boolean, ts: number, pos: number, valueAt: number, tsAt: number): void {
    const om = this.om;
    const lab = this.lab;
    if (role === R_STATE) {
      if (lab.special < 0) this.fail(pos, `stateset sample "${name}" needs a label "${st.name}" naming its state, e.g. ${name}{${st.name}="ready"} 1`);
      if (value !== 0 && value !== 1) this.fail(valueAt, `stateset value must be 0 or 1, got ${value}`);
    } else if (role === R_INFO) {
      if (value !== 1) this.fail(valueAt, `info value must be 1, got ${value}`);
    } else if (role === R_TOTAL) {
      if (Number.isNaN(value)) this.fail(valueAt, "counter value is NaN; a counter must be a non-negative number");
      if (value < 0) this.fail(valueAt, `counter value ${value} is negative; a counter must be a non-negative number`);
    }
    const grouped = this.labelKeys.group.length > 0;
    // A family with an index of its own (see `reopen`) keeps its keys and values in place.
    const series = st.index ?? this.index;
    const keys = st.index === undefined ? this.scalarKeys : st.keys;
    const values = st.index === undefined ? this.scalarValues : st.values;
    // The series' key, and what identifies it in the body: the same key, unless grouping labels
    // replaced a label of its own. Then two of the body's series may share a key, which `prepare`
    // rejects; the body's own key, kept in `bodyKeys`, tells whether this is one series twice.
    let key: string;
    let own = "";
    let at: number;
    if (!grouped) {
      key = this.labelKeys.bodyKey(lab, -1);
      at = series.find(this.labelKeys.keyHash(lab, -1, key), key, keys, undefined);
    } else {
      key = this.labelKeys.groupedKey(lab, -1);
      if (this.labelKeys.replaced) {
        st.replaced = true;
        own = this.labelKeys.bodyKey(lab, -1);
        at = series.find(this.labelKeys.keyHash(lab, -1, own), own, st.bodyKeys, undefined);
      } else {
        // The grouping only adds pairs: the key's hash is the body's plus theirs.
        const hash = (this.labelKeys.keyHash(lab, -1, lab.plain ? "" : this.labelKeys.bodyKey(lab, -1)) + this.labelKeys.groupHash) | 0;
        at = series.find(hash, key, keys, st.bodyKeys);
      }
    }
    const found = at < 0 ? -1 : series.index(at);
    let step = G_NEW;
    let isGroup = false;
    if (om) {
      if (role === R_STATE) {
        const group = this.labelKeys.bodyKey(lab, lab.special);
        const groups = (st.groups ??= new Set());
        const seen = groups.has(group);
        step = this.enterGroup(st, seen ? group : undefined, hasTs, ts, pos, tsAt, -1);
        st.group = group;
        groups.add(group);
      } else if (st.kind === K_INFO) {
        step = this.enterGroup(st, INFO_GROUP, hasTs, ts, pos, tsAt, -1);
        st.group = INFO_GROUP;
      } else {
        step = this.enterGroup(st, found < 0 ? undefined : found, hasTs, ts, pos, tsAt, -1);
        isGroup = true;
      }
    }
    if (found < 0) {
      const index = st.count++;
      series.add(at, this.labelsAt);
      // Overwritten where an earlier family left entries: the arrays grow once per parse.
      const seriesValue = role === R_CREATED ? NaN : value;
      if (index < keys.length) {
        keys[index] = key;
        values[index] = seriesValue;
      } else {
        keys.push(key);
        values.push(seriesValue);
      }
      if (grouped) st.bodyKeys.push(own);
      if (role === R_CREATED) (st.pending ??= new Set()).add(index);
      if (isGroup) st.group = index;
      return;
    }
    if (role === R_CREATED) return;
    if (st.pending !== undefined && st.pending.delete(found)) {
      values[found] = value;
      return;
    }
    // A series repeated with a later timestamp is a later point of it: keep the newest value.
    if (om && hasTs && step !== G_NEW) {
      values[found] = value;
      return;
    }
    const first = this.scanAgain(series.labelsAt[series.first + found] ?? -1, "");
    const hint = first.count !== lab.n ? " (a label with an empty value is the same as no label)" : "";
    this.fail(pos, `duplicate series ${name}${first.text}${hint}: it already has a sample in this body; send each series once`);
  }

  composite(st: FamilyState, role: number, value: number, hasTs: boolean, ts: number, pos: number, valueAt: number, tsAt: number): void {
    const om = this.om;
    const kind = st.kind;
    const lab = this.lab;
    const index = st.index ?? this.index;
    const skip = role === R_BUCKET || role === R_QUANTILE ? lab.special : -1;
    // Most samples continue the previous sample's series: compare with its labels in the body first.
    const prev = this.prevSlot;
    let key = "";
    let miss = -1;
    let slot: Slot | undefined;
    if (prev !== undefined && this.labelKeys.sameScan(lab, skip, this.prevLab, this.prevSkip)) {
      slot = prev;
    } else {
      key = this.labelKeys.bodyKey(lab, skip);
      miss = index.find(this.labelKeys.keyHash(lab, skip, key), key, st.bodyKeys, undefined);
      if (miss >= 0) slot = st.slots[index.index(miss)];
    }
    if (om) {
      const step = this.enterGroup(st, slot, hasTs, ts, pos, tsAt, skip);
      if (step === G_NEXT_POINT && slot !== undefined) {
        // A later point of the same series: the earlier one must be complete, the newest wins.
        this.checkPoint(st, slot);
        const point = slot.point;
        if ("bounds" in point) {
          point.bounds = [];
          point.counts = [];
        } else {
          point.quantiles = [];
          point.values = [];
        }
        point.sum = undefined;
        point.count = undefined;
        slot.negativeBucket = false;
        slot.negativeSum = false;
      }
    }
    if (slot === undefined) {
      let point: Histogram | Summary;
      if (kind === K_SUMMARY) {
        const summary: Summary = { quantiles: [], values: [], sum: undefined, count: undefined };
        st.summaries.push(summary);
        point = summary;
      } else {
        const histogram: Histogram = { bounds: [], counts: [], sum: undefined, count: undefined };
        st.histograms.push(histogram);
        point = histogram;
      }
      const skipped = skip < 0 ? "" : role === R_BUCKET ? "le" : "quantile";
      slot = { point, labelsAt: this.labelsAt, skipped, line: this.line, negativeBucket: false, negativeSum: false };
      index.add(miss, this.labelsAt);
      st.slots.push(slot);
      st.keys.push(this.labelKeys.seriesKey(lab, skip, key));
      if (this.labelKeys.group.length > 0 && this.labelKeys.replaced) st.replaced = true;
      st.bodyKeys.push(key);
      if (om) st.group = slot;
    }
    this.prevSlot = slot;
    this.prevSkip = skip;
    const series = slot.point;
    switch (role) {
      case R_BUCKET: {
        if (!("bounds" in series)) return;
        const le = this.specialNumber(pos, "le", "histogram bucket", 'le="0.5"');
        const at = lab.vs[lab.special] ?? pos;
        if (Number.isNaN(value) || value < 0) this.fail(valueAt, `bucket count ${value} is not a non-negative number`);
        const n = series.bounds.length;
        const lastBound = series.bounds[n - 1] ?? -Infinity;
        const lastCount = series.counts[n - 1] ?? 0;
        if (n > 0 && !(le > lastBound)) {
          const text = this.labelKeys.valueOf(lab, lab.special);
          this.fail(at, le === lastBound ? `bucket le="${text}" appears twice in series ${this.slotText(slot)}` : `bucket le="${text}" comes after le="${formatNumber(lastBound)}"; list buckets in ascending order of le`);
        }
        if (value < lastCount) this.fail(valueAt, `bucket count ${value} is less than the previous bucket's ${lastCount}; bucket counts are cumulative and never decrease`);
        if (le < 0) slot.negativeBucket = true;
        series.bounds.push(le);
        series.counts.push(value);
        return;
      }
      case R_QUANTILE: {
        if (!("quantiles" in series)) return;
        const q = this.specialNumber(pos, "quantile", "summary quantile", 'quantile="0.99"');
        const at = lab.vs[lab.special] ?? pos;
        if (!(q >= 0 && q <= 1)) this.fail(at, `quantile ${this.labelKeys.valueOf(lab, lab.special)} is outside [0, 1]`);
        if (om && value < 0) this.fail(valueAt, `quantile value ${value} is negative; OpenMetrics summary quantiles cannot be negative`);
        if (series.quantiles.includes(q)) this.fail(at, `quantile ${this.labelKeys.valueOf(lab, lab.special)} appears twice in series ${this.slotText(slot)}`);
        series.quantiles.push(q);
        series.values.push(value);
        return;
      }
      case R_SUM: {
        const sumName = kind === K_GAUGEHISTOGRAM ? "_gsum" : "_sum";
        if (series.sum !== undefined) this.fail(pos, `duplicate ${sumName} for series ${this.slotText(slot)}`);
        if (om) {
          if (Number.isNaN(value)) this.fail(valueAt, `${kindName(kind, om)} ${sumName} is NaN; it must be a number`);
          if (value < 0) {
            if (kind !== K_GAUGEHISTOGRAM) this.fail(valueAt, `${kindName(kind, om)} ${sumName} ${value} is negative; in OpenMetrics it is a counter`);
            slot.negativeSum = true;
          }
        }
        series.sum = value;
        return;
      }
      case R_COUNT: {
        const countName = kind === K_GAUGEHISTOGRAM ? "_gcount" : "_count";
        if (series.count !== undefined) this.fail(pos, `duplicate ${countName} for series ${this.slotText(slot)}`);
        if (Number.isNaN(value) || value < 0) this.fail(valueAt, `${kindName(kind, om)} ${countName} ${value} is not a non-negative number`);
        series.count = value;
        return;
      }
      default:
        // _created: validated as a sample, not stored.
        return;
    }
  }

  /** The number in the le / quantile label of the current sample. */
  specialNumber(pos: number, label: string, what: string, example: string): number {
    const lab = this.lab;
    const i = lab.special;
    if (i < 0) this.fail(pos, `${what} sample needs a "${label}" label, e.g. ${example}`);
    const decoded = lab.vq[i];
    const n = decoded === undefined ? parseNumber(this.src, lab.vs[i] ?? 0, lab.ve[i] ?? 0) : parseNumber(decoded, 0, decoded.length);
    const at = lab.vs[i] ?? pos;
    if (n === undefined || Number.isNaN(n)) this.fail(at, `${label}="${this.labelKeys.valueOf(lab, i)}" is not a number; write e.g. ${example} or ${label}="+Inf"`);
    // OpenMetrics requires the canonical spelling of infinity in these labels.
    if (this.om && n === Infinity && !this.labelKeys.valueEquals(lab, i, "+Inf")) this.fail(at, `${label}="${this.labelKeys.valueOf(lab, i)}" must be written ${label}="+Inf" in OpenMetrics`);
    return n;
  }

  /**
   * Checks a complete histogram point: the +Inf bucket, `_count`, and OpenMetrics' sum rules. A
   * text-format histogram without a +Inf bucket gets one equal to its `_count`, as the Pushgateway
   * exposes it (expfmt's writer adds it); without `_count` either, its total is unknown: an error.
   */
  checkPoint(st: FamilyState, slot: Slot): void {
    const series = slot.point;
    if (!("bounds" in series)) return;
    const om = this.om;
    let n = series.bounds.length;
    if (n === 0 || series.bounds[n - 1] !== Infinity) {
      const count = series.count;
      if (om || count === undefined) {
        const fix = om ? "" : ' (or at least a _count, which it then equals)';
        throw parseError(slot.line, 1, `${this.seriesWhere(st, slot)} has no le="+Inf" bucket; every histogram needs one, equal to its count${fix}`);
      }
      const last = series.counts[n - 1] ?? 0;
      if (count < last) {
        throw parseError(slot.line, 1, `${this.seriesWhere(st, slot)}: _count ${count} is less than the le="${formatNumber(series.bounds[n - 1] ?? 0)}" bucket's ${last}, so it cannot be the le="+Inf" bucket; bucket counts are cumulative`);
      }
      series.bounds.push(Infinity);
      series.counts.push(count);
      n++;
    }
    const inf = series.counts[n - 1] ?? 0;
    const gauge = st.kind === K_GAUGEHISTOGRAM;
    if (series.count !== undefined && series.count !== inf) {
      throw parseError(slot.line, 1, `${this.seriesWhere(st, slot)}: ${gauge ? "_gcount" : "_count"} ${series.count} differs from the le="+Inf" bucket ${inf}; they must be equal`);
    }
    if (!om) return;
    const sumName = gauge ? "_gsum" : "_sum";
    const countName = gauge ? "_gcount" : "_count";
    if ((series.sum === undefined) !== (series.count === undefined)) {
      throw parseError(slot.line, 1, `${this.seriesWhere(st, slot)} has ${series.sum === undefined ? countName : sumName} without ${series.sum === undefined ? sumName : countName}; OpenMetrics needs both or neither`);
    }
    if (!gauge && slot.negativeBucket && series.sum !== undefined) {
      throw parseError(slot.line, 1, `${this.seriesWhere(st, slot)} has negative buckets and a _sum; OpenMetrics forbids _sum when buckets are negative`);
    }
    if (gauge && slot.negativeSum && !slot.negativeBucket) {
      throw parseError(slot.line, 1, `${this.seriesWhere(st, slot)} has a negative _gsum but no negative bucket`);
    }
  }

  /** `histogram "h" series {a="1"}`, for errors about a whole series (it scans its labels again). */
  seriesWhere(st: FamilyState, slot: Slot): string {
    return `${kindName(st.kind, this.om)} "${st.name}" series ${this.slotText(slot)}`;
  }
}
