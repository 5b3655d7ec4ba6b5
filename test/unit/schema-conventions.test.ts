import {
  GraphQLEnumType,
  GraphQLNonNull,
  GraphQLObjectType,
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

describe('Node', () => {
  it('is implemented by every object type with an id, so node(id) refetches it', () => {
    // An identity is a non-null id; RejectedEvent's nullable id echoes the event's idempotency key.
    const withId = types.filter(
      (t): t is GraphQLObjectType =>
        t instanceof GraphQLObjectType && t.getFields().id?.type instanceof GraphQLNonNull,
    );
    const notNodes = withId
      .filter((t) => !t.getInterfaces().some((i) => i.name === 'Node'))
      .map((t) => t.name);
    expect(notNodes).toEqual([]);
  });

  it('names every connection after its node type', () => {
    const connections = types.filter((t) => t instanceof GraphQLObjectType && t.name.endsWith('Connection'));
    for (const connection of connections as GraphQLObjectType[]) {
      const edges = connection.getFields().edges!.type.toString();
      const node = connection.name.replace(/Connection$/, '');
      expect(edges, connection.name).toBe(`[${node}Edge!]!`);
    }
  });
});
