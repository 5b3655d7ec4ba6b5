import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { afterCommit, orgAccessChanged, usageChanged } from '../../../src/events/after-commit.ts';
import { type DomainEvent, DomainEvents } from '../../../src/events/domain-events.ts';
import { importsOf, sourceFilesUnder } from '../../helpers/source-imports.ts';

function recordingEvents() {
  const failures: unknown[] = [];
  const events = new DomainEvents({ error: (details) => failures.push(details) });
  const seen: DomainEvent[] = [];
  events.subscribe('usageChanged', (e) => void seen.push(e));
  events.subscribe('orgAccessChanged', (e) => void seen.push(e));
  return { events, seen, failures };
}

describe('domain events', () => {
  it('runs subscribers inside publish, in order, and only those of the event', async () => {
    const { events, seen } = recordingEvents();
    const order: string[] = [];
    events.subscribe('usageChanged', () => void order.push('second'));
    const published = events.publish(usageChanged(['a', 'a', 'b']));
    // Synchronous subscribers have run before publish yields.
    expect(seen).toEqual([{ type: 'usageChanged', orgIds: ['a', 'b'] }]);
    expect(order).toEqual(['second']);
    await published;
  });

  it('keeps one failing subscriber from the publisher and the others, and logs it', async () => {
    const { events, seen, failures } = recordingEvents();
    events.subscribe('orgAccessChanged', () => {
      throw new Error('sync');
    });
    events.subscribe('orgAccessChanged', async () => {
      throw new Error('async');
    });
    events.subscribe('orgAccessChanged', (e) => void seen.push(e));
    await expect(events.publish(orgAccessChanged('o1'))).resolves.toBeUndefined();
    expect(seen).toHaveLength(2);
    expect(failures).toHaveLength(2);
  });

  it('waits for asynchronous subscribers', async () => {
    const events = new DomainEvents({ error: () => {} });
    let done = false;
    events.subscribe('usageChanged', async () => {
      await new Promise((r) => setTimeout(r, 10));
      done = true;
    });
    await events.publish(usageChanged(['a']));
    expect(done).toBe(true);
  });

  it('stops calling a subscriber once it unsubscribed', async () => {
    const events = new DomainEvents({ error: () => {} });
    let calls = 0;
    const off = events.subscribe('usageChanged', () => void calls++);
    await events.publish(usageChanged(['a']));
    off();
    await events.publish(usageChanged(['a']));
    expect(calls).toBe(1);
  });
});

describe('afterCommit', () => {
  it('publishes what the transaction asked for once it resolved (committed)', async () => {
    const { events, seen } = recordingEvents();
    const value = await afterCommit(events, async (effects) => {
      effects.publish(usageChanged(['a']));
      expect(seen).toEqual([]);
      return 42;
    });
    expect(value).toBe(42);
    expect(seen).toEqual([{ type: 'usageChanged', orgIds: ['a'] }]);
  });

  it('publishes nothing when the transaction throws (rolled back)', async () => {
    const { events, seen } = recordingEvents();
    await expect(
      afterCommit(events, async (effects) => {
        effects.publish(orgAccessChanged('o1'));
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    expect(seen).toEqual([]);
  });
});

describe('module direction of effects', () => {
  const src = path.resolve(import.meta.dirname, '../../../src');

  it('the data-changing modules publish events, never call live views or alert checks', () => {
    const domain = ['orgs', 'keys', 'usage', 'billing'].flatMap((d) => sourceFilesUnder(path.join(src, d)));
    expect(domain.length).toBeGreaterThan(20);
    const reaching = domain.flatMap((file) =>
      importsOf(fs.readFileSync(file, 'utf8'), file)
        .filter((i) => i.specifier.startsWith('.'))
        .map((i) => path.relative(src, path.resolve(path.dirname(file), i.specifier)))
        .filter((target) => target.startsWith(`live${path.sep}`) || target.startsWith(`alerts${path.sep}`))
        .map((target) => `${path.relative(src, file)} imports ${target}`),
    );
    expect(reaching).toEqual([]);
  });
});
