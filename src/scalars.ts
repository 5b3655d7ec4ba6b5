import { GraphQLError, Kind, valueFromASTUntyped } from 'graphql';
import { type Amount, Dec, formatAmount, parseAmount } from './billing/money.ts';
import { builder } from './builder.ts';
import { MAX_SAFE_BIGINT } from './db/columns.ts';

function badValue(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT' } });
}

/** RFC 3339 instants; always written in UTC (`...Z`). */
builder.scalarType('DateTime', {
  description: 'An instant, RFC 3339 (e.g. 2026-11-01T00:00:00Z); always answered in UTC.',
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

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;

/**
 * JavaScript's Date rolls fields over (2026-02-30 is read as March 2nd, 24:00 as the next day),
 * which would count an event on a day its sender never wrote: each field must be in range.
 */
function parseDateTime(value: unknown): Date {
  const fields = typeof value === 'string' ? RFC3339.exec(value) : null;
  if (!fields) {
    throw badValue(
      `DateTime must be an RFC 3339 string such as 2026-11-01T00:00:00Z, got ${JSON.stringify(value)}`,
    );
  }
  const [year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0] = fields.slice(1, 7).map(Number);
  const date = new Date(value as string);
  const calendar = new Date(0);
  calendar.setUTCFullYear(year, month - 1, day);
  const inRange =
    month >= 1 && month <= 12 && calendar.getUTCDate() === day && hour <= 23 && minute <= 59 && second <= 59;
  if (!inRange || Number.isNaN(date.getTime()))
    throw badValue(`DateTime ${JSON.stringify(value)} is not a valid instant`);
  return date;
}

/** Exact decimals travel as JSON strings so no float ever touches an amount. */
builder.scalarType('Decimal', {
  description: 'An exact decimal number as a JSON string, e.g. "0.0001". Never a float.',
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
  description: 'An integer between -(2^53-1) and 2^53-1.',
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
  serialize: (value) => value,
  parseValue: (value) => value,
  parseLiteral: (ast, variables) => valueFromASTUntyped(ast, variables),
});
