import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cyclesOf, type ModuleGraph, moduleGraphOf, withoutImports } from '../helpers/module-graph.ts';
import { importsOf, impureUsesOf, sourceFilesUnder } from '../helpers/source-imports.ts';

const src = path.resolve(import.meta.dirname, '../../src');
const core = path.join(src, 'core');

/** Where an import of `file` leads outside the core (null: inside it, or decimal.js). */
function leavesCore(file: string, specifier: string): string | null {
  if (specifier === 'decimal.js') return null;
  if (!specifier.startsWith('.')) return specifier;
  const target = path.resolve(path.dirname(file), specifier);
  return target.startsWith(core + path.sep) ? null : path.relative(src, target);
}

describe('the rules core (src/core)', () => {
  const files = sourceFilesUnder(core);

  it('holds the rules', () => {
    expect(files.length).toBeGreaterThan(10);
  });

  it('imports nothing from outside itself but decimal.js, types included', () => {
    const outside = files.flatMap((file) =>
      importsOf(fs.readFileSync(file, 'utf8'), file)
        .map((i) => ({ ...i, to: leavesCore(file, i.specifier) }))
        .filter((i) => i.to !== null)
        .map((i) => `${path.relative(src, file)}:${i.line} imports ${i.to}`),
    );
    expect(outside).toEqual([]);
  });

  it('does no IO and reads no clock', () => {
    const impure = files.flatMap((file) =>
      impureUsesOf(fs.readFileSync(file, 'utf8'), file).map(
        (u) => `${path.relative(src, file)}:${u.line} uses ${u.what}`,
      ),
    );
    expect(impure).toEqual([]);
  });

  it('is entered through index.ts only: every other folder imports its rules from there', () => {
    const around = sourceFilesUnder(src).filter((f) => !f.startsWith(core + path.sep));
    const past = around.flatMap((file) =>
      importsOf(fs.readFileSync(file, 'utf8'), file)
        .filter((i) => i.specifier.startsWith('.'))
        .map((i) => path.resolve(path.dirname(file), i.specifier))
        .filter((t) => t.startsWith(core + path.sep) && t !== path.join(core, 'index.ts'))
        .map((t) => `${path.relative(src, file)} imports ${path.relative(src, t)}`),
    );
    expect(past).toEqual([]);
  });
});

/** src/ as modules (each folder, each root-level file) and their value imports. */
function srcGraph(): ModuleGraph {
  return moduleGraphOf(
    src,
    sourceFilesUnder(src).map((file) => ({ file, source: fs.readFileSync(file, 'utf8') })),
  );
}

describe('the modules of src/ (each folder, each root-level file)', () => {
  it('depend one way: no import cycle between them', () => {
    expect(cyclesOf(srcGraph())).toEqual([]);
  });
});

describe('the checks themselves', () => {
  it('see every way out of the core', () => {
    const file = path.join(core, 'sample.ts');
    const sample = [
      "import { db } from '../db/client.ts';",
      "import type { OrgRow } from '../orgs/repository.ts';",
      "export { x } from '../usage/x.ts';",
      "import Decimal from 'decimal.js';",
      "import { ok } from './money.ts';",
      "const m = await import('node:fs');",
    ].join('\n');
    const out = importsOf(sample, file)
      .map((i) => leavesCore(file, i.specifier))
      .filter((x) => x !== null);
    expect(out).toEqual(['db/client.ts', 'orgs/repository.ts', 'usage/x.ts', 'node:fs']);
    expect(importsOf(sample, file).map((i) => i.typeOnly)).toEqual([false, true, false, false, false, false]);
  });

  it('see the clock, the process, timers and randomness, and not a passed-in instant', () => {
    const sample = [
      'const a = Date.now();',
      'const b = new Date();',
      'const c = new Date(at.getTime() + 1);',
      'const d = process.env.X;',
      'setTimeout(() => 0, 1);',
      'const e = Math.random();',
      'const f = { process: 1 }.process;',
    ].join('\n');
    expect(impureUsesOf(sample).map((u) => `${u.line}:${u.what.split(' ')[0]}`)).toEqual([
      '1:Date.now',
      '2:new',
      '4:process',
      '5:setTimeout',
      '6:Math.random',
    ]);
  });

  it('see every cycle between modules, through value imports only', () => {
    const at = (file: string) => path.join(src, file);
    const graph = moduleGraphOf(src, [
      { file: at('db/client.ts'), source: "import { x } from '../core/index.ts';" },
      {
        file: at('orgs/repository.ts'),
        source: "import { db } from '../db/client.ts';\nimport { p } from '../plans/x.ts';",
      },
      {
        file: at('plans/x.ts'),
        source: "export { o } from '../orgs/repository.ts';\nimport { y } from './y.ts';",
      },
      {
        file: at('usage/a.ts'),
        source: "import { l } from '../loaders.ts';\nimport type { B } from '../billing/b.ts';",
      },
      {
        file: at('loaders.ts'),
        source: "import { u } from './usage/a.ts';\nimport { n } from 'dataloader';",
      },
      {
        file: at('billing/b.ts'),
        source: "import { u } from '../usage/a.ts';\nconst m = await import('../jobs/j.ts');",
      },
      { file: at('jobs/j.ts'), source: "import { type B } from '../billing/b.ts';" },
    ]);
    expect(cyclesOf(graph)).toEqual([
      {
        modules: ['loaders.ts', 'usage/'],
        edges: ['loaders.ts -> usage/ (loaders.ts)', 'usage/ -> loaders.ts (usage/a.ts)'],
      },
      {
        modules: ['orgs/', 'plans/'],
        edges: ['orgs/ -> plans/ (orgs/repository.ts)', 'plans/ -> orgs/ (plans/x.ts)'],
      },
    ]);
    expect(cyclesOf(withoutImports(graph, ['plans/x.ts -> orgs/']))).toHaveLength(1);
    expect(cyclesOf(withoutImports(graph, ['plans/x.ts -> orgs/', 'loaders.ts -> usage/']))).toEqual([]);
  });
});
