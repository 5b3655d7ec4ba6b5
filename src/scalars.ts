import { GraphQLError, Kind, valueFromASTUntyped } from 'graphql';
import { parseRfc3339, RFC3339 } from '../packages/client/src/rfc3339.ts';
import { builder } from './builder.ts';
import { type Amount, Dec, formatAmount, MAX_SAFE_BIGINT, parseAmount } from './core/index.ts';

function badValue(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT' } });
}

/** RFC 3339 instants; always written in UTC (`...Z`). */
builder.scalarType('DateTime', {
  description: 'An instant, RFC 3339 (e.g. 2026-11-01T00:00:00Z); always answered in UTC.',
  specifiedByURL: 'https://www.rfc-editor.org/rfc/rfc3339#section-5.6',
  serialize: (value) => {
    const date = value instanceof Date ? value : new Date(value as string);
    if (Number.isNaN(date.getTime())) throw new GraphQLError('DateTime cannot represent an invalid date');
    return date.toISOString();
  },
  parseValue: (value) => parseDateTime(value),
  parseLiteral: (ast) => {
    if (ast.kind !== Kind.STRING) throw badValue('DateTime must be an RFC 3339 string');
    return parseDateTime(ast.value);
  },
});

function parseDateTime(value: unknown): Date {
  const date = typeof value === 'string' ? parseRfc3339(value) : null;
  if (date) return date;
  // Which message: only a refused value is matched a second time (every event's timestamp comes here).
  if (typeof value === 'string' && RFC3339.test(value))
    throw badValue(`DateTime ${JSON.stringify(value)} is not a valid instant`);
  throw badValue(
    `DateTime must be an RFC 3339 string such as 2026-11-01T00:00:00Z, got ${JSON.stringify(value)}`,
  );
}

/** Exact decimals travel as JSON strings so no float ever touches an amount. */
builder.scalarType('Decimal', {
  description:
    'An exact decimal number as a JSON string, e.g. "0.0001": a JSON number (RFC 8259, section 6) without exponent, optional leading zeros allowed, at most 50 significant digits. Never a float.',
  specifiedByURL: 'https://www.rfc-editor.org/rfc/rfc8259#section-6',
  serialize: (value) => formatAmount(value instanceof Dec ? value : new Dec(value as Amount)),
  parseValue: (value) => parseDecimal(value),
  parseLiteral: (ast) => {
    if (ast.kind !== Kind.STRING) throw badValue('Decimal must be a string such as "0.0001" (not a number)');
    return parseDecimal(ast.value);
  },
});

function parseDecimal(value: unknown): Amount {
  if (typeof value !== 'string') {
    throw badValue(`Decimal must be a string such as "0.0001" (not a number), got ${JSON.stringify(value)}`);
  }
  try {
    return parseAmount(value);
  } catch {
    throw badValue(
      `Decimal must be a plain decimal such as "49.00" or "0.0001", got ${JSON.stringify(value)}`,
    );
  }
}

/** Integers up to 2^53-1, exact; read as bigint inside the server. */
builder.scalarType('SafeInt', {
  description:
    'An integer between -(2^53-1) and 2^53-1 (Number.MAX_SAFE_INTEGER): exact in every JSON reader.',
  specifiedByURL: 'https://tc39.es/ecma262/#sec-number.max_safe_integer',
  serialize: (value) => {
    const big = typeof value === 'bigint' ? value : BigInt(value as number);
    if (big > MAX_SAFE_BIGINT || big < -MAX_SAFE_BIGINT)
      throw new GraphQLError(`SafeInt cannot represent ${big}`);
    return Number(big);
  },
  parseValue: (value) => parseSafeInt(value),
  parseLiteral: (ast) => {
    if (ast.kind !== Kind.INT) throw badValue('SafeInt must be an integer');
    return parseSafeInt(Number(ast.value), ast.value);
  },
});

function parseSafeInt(value: unknown, literal?: string): bigint {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw badValue(`SafeInt must be an integer up to 2^53-1, got ${literal ?? JSON.stringify(value)}`);
  }
  return BigInt(value);
}

builder.scalarType('JSON', {
  description: 'Any JSON value.',
  specifiedByURL: 'https://www.rfc-editor.org/rfc/rfc8259',
  serialize: (value) => value,
  parseValue: (value) => value,
  parseLiteral: (ast, variables) => valueFromASTUntyped(ast, variables),
});
