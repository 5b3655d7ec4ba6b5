import path from 'node:path';
import { importsOf } from './source-imports.ts';

/**
 * The modules of src/ and which import which at run time: a folder directly under src/ is one
 * module (`usage/`), a file directly in src/ is its own (`schema.ts`). Type-only imports are left
 * out (erased when compiled, they order nothing at run time); so are imports within a module and
 * imports leaving src/.
 */
export type ModuleGraph = Map<string, Map<string, string[]>>;

/** The module a file of `src` belongs to. */
export function moduleOf(src: string, file: string): string {
  const [first, ...rest] = path.relative(src, file).split(path.sep);
  return rest.length === 0 ? String(first) : `${first}/`;
}

/** Module -> imported module -> the files (relative to `src`) whose value imports make that edge. */
export function moduleGraphOf(src: string, files: readonly { file: string; source: string }[]): ModuleGraph {
  const graph: ModuleGraph = new Map();
  for (const { file, source } of files) {
    const from = moduleOf(src, file);
    if (!graph.has(from)) graph.set(from, new Map());
    for (const i of importsOf(source, file)) {
      if (i.typeOnly || !i.specifier.startsWith('.')) continue;
      const target = path.resolve(path.dirname(file), i.specifier);
      if (!target.startsWith(src + path.sep)) continue;
      const to = moduleOf(src, target);
      if (to === from) continue;
      const edges = graph.get(from) as Map<string, string[]>;
      const by = edges.get(to) ?? [];
      const where = path.relative(src, file);
      if (!by.includes(where)) by.push(where);
      edges.set(to, by);
    }
  }
  return graph;
}

/**
 * Every cycle of the graph: its strongly connected components of more than one module (Tarjan),
 * each as its modules sorted, then the edges inside it with the files making them.
 */
export function cyclesOf(graph: ModuleGraph): { modules: string[]; edges: string[] }[] {
  const nodes = [...new Set([...graph.keys(), ...[...graph.values()].flatMap((e) => [...e.keys()])])].sort();
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v) as number);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v)?.keys() ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop() as string;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) components.push(component.sort());
    }
  };
  for (const v of nodes) if (!index.has(v)) visit(v);
  return components
    .sort((a, b) => String(a[0]).localeCompare(String(b[0])))
    .map((modules) => ({
      modules,
      edges: modules.flatMap((from) =>
        [...(graph.get(from) ?? new Map<string, string[]>())]
          .filter(([to]) => modules.includes(to))
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([to, files]) => `${from} -> ${to} (${files.join(', ')})`),
      ),
    }));
}

/** The graph without the edges a file makes to a module, for the pairs listed (`file -> module`). */
export function withoutImports(graph: ModuleGraph, pairs: readonly string[]): ModuleGraph {
  const out: ModuleGraph = new Map();
  for (const [from, edges] of graph) {
    const kept = new Map<string, string[]>();
    for (const [to, files] of edges) {
      const left = files.filter((f) => !pairs.includes(`${f} -> ${to}`));
      if (left.length > 0) kept.set(to, left);
    }
    out.set(from, kept);
  }
  return out;
}
