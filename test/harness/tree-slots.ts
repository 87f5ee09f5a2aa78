/** For the fuzz tests' mutations: tree slots of a parsed document, and text edits. */
export type Container = Record<string, unknown> | unknown[];

/** Every (container, key) pair in the tree, in a stable order, so a mutation can pick one by index. */
export function slots(tree: unknown): [Container, string | number][] {
  const out: [Container, string | number][] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node))
      node.forEach((v, i) => {
        out.push([node, i]);
        walk(v);
      });
    else if (node !== null && typeof node === "object")
      for (const [k, v] of Object.entries(node)) {
        out.push([node as Record<string, unknown>, k]);
        walk(v);
      }
  };
  walk(tree);
  return out;
}

/** A text-level mutation of a document: each fuzz test draws the kinds and tokens that suit it. */
export type TextEdit =
  | { op: "insert"; at: number; text: string }
  | { op: "delete"; at: number; length: number }
  | { op: "indent"; line: number; by: number }
  | { op: "duplicate"; line: number };

export function applyTextEdit(text: string, e: TextEdit): string {
  if (e.op === "insert") {
    const at = e.at % (text.length + 1);
    return text.slice(0, at) + e.text + text.slice(at);
  }
  if (e.op === "delete") {
    const at = e.at % (text.length + 1);
    return text.slice(0, at) + text.slice(at + e.length);
  }
  const lines = text.split("\n");
  const i = e.line % lines.length;
  if (e.op === "duplicate") lines.splice(i, 0, lines[i]!);
  else lines[i] = e.by >= 0 ? " ".repeat(e.by) + lines[i] : lines[i]!.replace(new RegExp(`^ {0,${-e.by}}`), "");
  return lines.join("\n");
}
