/**
 * Reader: YAML text → raw items (one per sequence entry of every document) with the file
 * positions of the item and of each key's value. Only structure is checked here; meaning is
 * the collector's job.
 */
import { LineCounter, isMap, isScalar, isSeq, parseAllDocuments, type Document, type Node, type Scalar } from "yaml";
import type { FilePos, LoadResults } from "./results.js";

/** Maps an offset inside a scalar's value back to a file position. */
export interface TextSource {
  text: string;
  locate(offset: number): FilePos;
}

export interface RawItem {
  file: string;
  /** The item's own position (its first key). */
  pos: FilePos;
  /** JS values of the keys, in source order. */
  values: Map<string, unknown>;
  /** Position of each key's value. */
  keyPos: Map<string, FilePos>;
  /** Value sources for string keys (conditions, outputs), for precise positions inside them. */
  text: Map<string, TextSource>;
  /** Positions of exception entries, by index, when the item has `exceptions`. */
  exceptionPos: FilePos[];
}

export function readRulesText(file: string, content: string, results: LoadResults): RawItem[] {
  const lc = new LineCounter();
  const at = (offset: number): FilePos => {
    const p = lc.linePos(offset);
    return { file, line: p.line, column: p.col, offset };
  };
  let docs: Document.Parsed[];
  try {
    docs = parseAllDocuments(content, { lineCounter: lc, prettyErrors: false, uniqueKeys: false }) as Document.Parsed[];
  } catch (err) {
    results.error("LOAD_ERR_YAML_PARSE", (err as Error).message, { file, line: 1, column: 1 });
    return [];
  }
  const items: RawItem[] = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) {
      for (const e of doc.errors) {
        results.error("LOAD_ERR_YAML_PARSE", e.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, ""), at(e.pos[0]));
      }
      return [];
    }
    const root = doc.contents;
    if (root === null || (isScalar(root) && (root.value === null || root.value === ""))) continue;
    if (!isSeq(root)) {
      results.error("LOAD_ERR_YAML_VALIDATE", "Rules content is not yaml array of objects", at(root.range?.[0] ?? 0));
      continue;
    }
    for (const entry of root.items) {
      const node = entry as Node;
      if (!isMap(node)) {
        results.error(
          "LOAD_ERR_YAML_VALIDATE",
          "Unexpected element type. Each element should be a yaml associative array.",
          at(node?.range?.[0] ?? 0),
        );
        continue;
      }
      const item: RawItem = {
        file,
        pos: at(node.range?.[0] ?? 0),
        values: new Map(),
        keyPos: new Map(),
        text: new Map(),
        exceptionPos: [],
      };
      let broken = false;
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        const valueNode = pair.value as Node | null;
        const start = valueNode?.range?.[0] ?? (pair.key as Node | null)?.range?.[0] ?? 0;
        let value: unknown;
        try {
          value = valueNode === null ? null : valueNode.toJS(doc);
        } catch (err) {
          // e.g. an alias (*name) whose anchor is not set before it: the item is left out
          results.error("LOAD_ERR_YAML_PARSE", (err as Error).message.split("\n")[0]!, at(start));
          broken = true;
          break;
        }
        item.values.set(key, value);
        item.keyPos.set(key, at(start));
        if (valueNode && isScalar(valueNode) && typeof valueNode.value === "string") {
          item.text.set(key, scalarSource(content, valueNode, at));
        }
        if (key === "exceptions" && valueNode && isSeq(valueNode)) {
          for (const ex of valueNode.items) item.exceptionPos.push(at((ex as Node)?.range?.[0] ?? start));
        }
      }
      if (!broken) items.push(item);
    }
  }
  return items;
}

/**
 * Builds an offset map from a scalar's parsed value to the file: walks the value and the raw
 * source together, skipping the indentation and line breaks that folding removed.
 */
function scalarSource(content: string, node: Scalar, at: (offset: number) => FilePos): TextSource {
  const text = String(node.value);
  const [start, end] = node.range ?? [0, 0];
  let srcStart = start;
  if (node.type === "BLOCK_FOLDED" || node.type === "BLOCK_LITERAL") {
    const nl = content.indexOf("\n", start);
    srcStart = nl < 0 ? start : nl + 1;
  } else if (node.type === "QUOTE_DOUBLE" || node.type === "QUOTE_SINGLE") {
    srcStart = start + 1;
  }
  const offsets = new Int32Array(text.length + 1);
  let p = srcStart;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    while (p < end && content[p] !== ch && /\s/.test(content[p]!)) p++;
    if (content[p] === ch) {
      offsets[i] = p++;
      continue;
    }
    // an escape sequence or folding artifact: look a few characters ahead, else stay put
    const ahead = content.indexOf(ch, p);
    if (ahead >= 0 && ahead - p <= 4 && ahead < end) {
      offsets[i] = ahead;
      p = ahead + 1;
    } else {
      offsets[i] = p;
    }
  }
  offsets[text.length] = Math.min(p, end);
  return {
    text,
    locate: (offset) => at(offsets[Math.max(0, Math.min(offset, text.length))]!),
  };
}
