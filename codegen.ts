import { mkdirSync, writeFileSync } from 'node:fs';
import { lexicographicSortSchema, printSchema } from 'graphql';
import { schema } from './src/schema.ts';

/** Writes the printed SDL to schema/schema.graphql (committed; CI fails when it drifts). */
const sdl = `${printSchema(lexicographicSortSchema(schema)).trim()}\n`;
mkdirSync('schema', { recursive: true });
writeFileSync('schema/schema.graphql', sdl);
console.log(`schema/schema.graphql: ${sdl.split('\n').length} lines`);
