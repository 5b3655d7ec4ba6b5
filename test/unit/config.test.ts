import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.ts';

describe('configuration', () => {
  it('defaults to the embedded development mode', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 4000,
      dataDir: '.data',
      embedded: true,
      demoData: true,
      enableOverageBilling: true,
      usageLateWindowDays: 35,
      nodeEnv: 'development',
    });
  });

  it.each([
    [{ PORT: '99999' }, /PORT: expected a port between 0 and 65535 \(got "99999"\)/],
    [{ PORT: 'abc' }, /PORT: .*\(got "abc"\)/],
    [
      { DATABASE_URL: 'mysql://x' },
      /DATABASE_URL: expected a URL starting with postgres:\/\/ or postgresql:\/\//,
    ],
    [{ JWT_SECRET: 'short' }, /JWT_SECRET: expected at least 32 characters/],
    [{ ENABLE_OVERAGE_BILLING: 'maybe' }, /ENABLE_OVERAGE_BILLING: expected true or false/],
    [{ NODE_ENV: 'staging' }, /NODE_ENV/],
    [{ NODE_ENV: 'production' }, /JWT_SECRET: required when NODE_ENV=production/],
    [{ USAGE_LATE_WINDOW_DAYS: '-1' }, /USAGE_LATE_WINDOW_DAYS: expected 0 or more days/],
  ])('stops on %o with a message naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('reads lists and flags', () => {
    const config = loadConfig({
      DATABASE_URL: 'postgres://u@h/db',
      JWT_SECRET: 'x'.repeat(32),
      ADMIN_USER_IDS: ' a, b ,,c',
      SERVICE_TOKEN: 't1,t2',
      ENABLE_OVERAGE_BILLING: 'false',
    });
    expect(config).toMatchObject({
      embedded: false,
      demoData: false,
      adminUserIds: ['a', 'b', 'c'],
      serviceTokens: ['t1', 't2'],
      enableOverageBilling: false,
    });
  });

  it('makes user admin a platform admin in development only, whatever the database and secret', () => {
    const secret = 'x'.repeat(32);
    expect(loadConfig({}).adminUserIds).toEqual(['admin']);
    expect(loadConfig({ DATABASE_URL: 'postgres://u@h/db', JWT_SECRET: secret }).adminUserIds).toEqual([
      'admin',
    ]);
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: secret }).adminUserIds).toEqual([]);
    expect(loadConfig({ NODE_ENV: 'test' }).adminUserIds).toEqual([]);
    // Set, even empty, it is exactly that list.
    expect(loadConfig({ ADMIN_USER_IDS: '' }).adminUserIds).toEqual([]);
    expect(loadConfig({ ADMIN_USER_IDS: 'ops' }).adminUserIds).toEqual(['ops']);
  });
});
