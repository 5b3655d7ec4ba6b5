import {
  GraphQLEnumType,
  GraphQLNonNull,
  type GraphQLObjectType,
  GraphQLScalarType,
  isSpecifiedScalarType,
} from 'graphql';
import { describe, expect, it } from 'vitest';
import { schema } from '../../src/schema.ts';

const types = Object.values(schema.getTypeMap()).filter((t) => !t.name.startsWith('__'));

describe('GraphQL conventions of the schema', () => {
  it('points every custom scalar at the specification it follows (@specifiedBy)', () => {
    const custom = types.filter(
      (t): t is GraphQLScalarType => t instanceof GraphQLScalarType && !isSpecifiedScalarType(t),
    );
    expect(custom.map((t) => t.name).sort()).toEqual(['DateTime', 'Decimal', 'JSON', 'SafeInt']);
    for (const scalar of custom) expect(scalar.specifiedByURL, scalar.name).toMatch(/^https:\/\//);
  });

  it('answers a fixed set of codes as an enum', () => {
    const rejected = schema.getType('RejectedEvent') as GraphQLObjectType;
    const code = rejected.getFields().code!.type;
    expect(code).toBeInstanceOf(GraphQLNonNull);
    expect((code as GraphQLNonNull<GraphQLEnumType>).ofType).toBeInstanceOf(GraphQLEnumType);
  });
});
