import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/** One import (or re-export) of a source file, as written. */
export type SourceImport = { specifier: string; typeOnly: boolean; line: number };

/**
 * The imports and re-exports of a TypeScript source, dynamic `import()` included. `typeOnly`:
 * erased when compiled (`import type`, or every name marked `type`), so it creates no dependency
 * at run time.
 */
export function importsOf(source: string, fileName = 'file.ts'): SourceImport[] {
  const file = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, true);
  const found: SourceImport[] = [];
  const lineOf = (node: ts.Node) => file.getLineAndCharacterOfPosition(node.getStart()).line + 1;
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const named = clause?.namedBindings;
      const allNamedTypes =
        named !== undefined &&
        ts.isNamedImports(named) &&
        named.elements.length > 0 &&
        named.elements.every((e) => e.isTypeOnly) &&
        clause?.name === undefined;
      found.push({
        specifier: node.moduleSpecifier.text,
        typeOnly: clause?.isTypeOnly === true || allNamedTypes,
        line: lineOf(node),
      });
    } else if (
      ts.isExportDeclaration(node) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      const clause = node.exportClause;
      const allNamedTypes =
        clause !== undefined &&
        ts.isNamedExports(clause) &&
        clause.elements.length > 0 &&
        clause.elements.every((e) => e.isTypeOnly);
      found.push({
        specifier: node.moduleSpecifier.text,
        typeOnly: node.isTypeOnly || allNamedTypes,
        line: lineOf(node),
      });
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      found.push({ specifier: node.arguments[0].text, typeOnly: false, line: lineOf(node) });
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

/** The `.ts` files under `dir`, recursively, as absolute paths. */
export function sourceFilesUnder(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}

/**
 * What a pure rule may not touch: the clock, randomness, the process, timers, the network and the
 * file system. Reported by name, with the line it is on.
 */
export function impureUsesOf(source: string, fileName = 'file.ts'): { what: string; line: number }[] {
  const file = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, true);
  const found: { what: string; line: number }[] = [];
  const lineOf = (node: ts.Node) => file.getLineAndCharacterOfPosition(node.getStart()).line + 1;
  const forbiddenGlobals = new Set([
    'process',
    'performance',
    'fetch',
    'setTimeout',
    'setInterval',
    'setImmediate',
    'queueMicrotask',
    'require',
    'console',
    'crypto',
    'globalThis',
    'Bun',
    'Deno',
  ]);
  const visit = (node: ts.Node) => {
    if (
      ts.isNewExpression(node) &&
      node.expression.getText() === 'Date' &&
      (node.arguments?.length ?? 0) === 0
    ) {
      found.push({ what: 'new Date() (reads the clock)', line: lineOf(node) });
    }
    if (
      ts.isCallExpression(node) &&
      node.expression.getText() === 'Date' &&
      !ts.isNewExpression(node.parent)
    ) {
      found.push({ what: 'Date() (reads the clock)', line: lineOf(node) });
    }
    if (ts.isPropertyAccessExpression(node)) {
      const text = node.getText();
      if (text === 'Date.now') found.push({ what: 'Date.now (reads the clock)', line: lineOf(node) });
      if (text === 'Math.random') found.push({ what: 'Math.random', line: lineOf(node) });
    }
    if (ts.isIdentifier(node) && forbiddenGlobals.has(node.text)) {
      const parent = node.parent;
      const isPropertyName =
        (ts.isPropertyAccessExpression(parent) && parent.name === node) ||
        ts.isPropertyAssignment(parent) ||
        ts.isPropertySignature(parent) ||
        ts.isMethodDeclaration(parent) ||
        ts.isBindingElement(parent);
      if (!isPropertyName) found.push({ what: node.text, line: lineOf(node) });
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}
