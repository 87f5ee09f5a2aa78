/** For the fuzz tests' tree mutations: a parsed YAML/JSON document's containers and keys. */
export type Container = Record<string, unknown> | unknown[];

/** Every (container, key) pair in the tree, in a stable order, so a mutation can pick one by index. */
export function slots(tree: unknown): [Container, string | number][] {
  const out: [Container, string | number][] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach((v, i) => (out.push([node, i]), walk(v)));
    else if (node !== null && typeof node === "object")
      for (const [k, v] of Object.entries(node)) (out.push([node as Record<string, unknown>, k]), walk(v));
  };
  walk(tree);
  return out;
}
