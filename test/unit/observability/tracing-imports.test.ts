import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(import.meta.dirname, '../../../src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

describe('OpenTelemetry stays out of a server without OTEL_EXPORTER_OTLP_ENDPOINT', () => {
  it('is imported by tracing.ts alone, which only a dynamic import loads', () => {
    const importers = sourceFiles(SRC)
      .filter((file) => /from '@opentelemetry\//.test(readFileSync(file, 'utf8')))
      .map((file) => file.slice(SRC.length + 1));
    expect(importers).toEqual(['observability/tracing.ts']);
    const staticImports = sourceFiles(SRC).filter((file) =>
      /^import(?! type)[^;]*from '\.\/tracing\.ts'|^import(?! type)[^;]*from '.*observability\/tracing\.ts'/m.test(
        readFileSync(file, 'utf8'),
      ),
    );
    expect(staticImports).toEqual([]);
    expect(readFileSync(join(SRC, 'observability/index.ts'), 'utf8')).toContain(
      "await import('./tracing.ts')",
    );
  });
});
