import { describe, expect, it } from 'vitest';
import { NO_ALLOWED_TARGETS, parseAllowedTargets } from '../../../src/config/allowed-targets.ts';
import { loadConfig } from '../../../src/config/config.ts';
import { classifyError } from '../../../src/webhooks/post-webhook.ts';
import {
  blockedAddressReason,
  urlRefusal,
  type WebhookTargetPolicy,
} from '../../../src/webhooks/target-policy.ts';
import { INTERNAL_URLS } from '../../helpers/internal-urls.ts';

const policy = (over: Partial<WebhookTargetPolicy> = {}): WebhookTargetPolicy => ({
  allowed: NO_ALLOWED_TARGETS,
  requireHttps: false,
  resolveHost: () => Promise.reject(new Error('no DNS in unit tests')),
  ...over,
});

const refusal = (url: string, p = policy()) => urlRefusal(new URL(url), p);

describe('webhook target policy', () => {
  it.each(INTERNAL_URLS)('refuses %s', (url) => {
    expect(refusal(url)).toMatch(/may not reach/);
  });

  it.each([
    'https://example.com/hooks',
    'http://hooks.example.com:8080/x',
    'http://8.8.8.8/',
    'https://93.184.216.34/',
    'https://[2606:4700:4700::1111]/',
    'http://[::ffff:8.8.8.8]/',
    'http://[2002:808:808::1]/', // 6to4 of a public address
  ])('accepts %s', (url) => {
    expect(refusal(url)).toBeUndefined();
  });

  it.each(['ftp://example.com/', 'file:///etc/passwd', 'gopher://example.com/'])(
    'refuses the scheme of %s',
    (url) => {
      expect(refusal(url)).toMatch(/https:\/\//);
    },
  );

  it('requires https in production', () => {
    expect(refusal('http://example.com/', policy({ requireHttps: true }))).toMatch(/https:\/\//);
    expect(refusal('https://example.com/', policy({ requireHttps: true }))).toBeUndefined();
  });

  it.each([
    '127.0.0.1',
    '::1',
    '10.1.2.3',
    '169.254.169.254',
    '::ffff:10.0.0.1',
    'fd12::1',
    '64:ff9b::a9fe:a9fe',
    'fe80::1%eth0',
    'not-an-address',
  ])('refuses the resolved address %s', (address) => {
    expect(blockedAddressReason(address, NO_ALLOWED_TARGETS)).toBeDefined();
  });

  it('lets a deployment allow listed hosts and ranges, and nothing else', () => {
    const allowed = parseAllowedTargets(['127.0.0.1', '10.0.0.0/8', 'Hooks.Internal.', 'fd00::/8']);
    const p = policy({ allowed });
    expect(refusal('http://127.0.0.1:9000/', p)).toBeUndefined();
    expect(refusal('http://2130706433:9000/', p)).toBeUndefined();
    expect(refusal('http://127.0.0.2/', p)).toMatch(/may not reach/);
    expect(refusal('http://10.200.0.1/', p)).toBeUndefined();
    expect(refusal('http://[fd00::5]/', p)).toBeUndefined();
    expect(refusal('http://[::1]/', p)).toMatch(/may not reach/);
    expect(refusal('http://hooks.internal/', p)).toBeUndefined();
    expect(refusal('http://localhost/', p)).toMatch(/may not reach/);
    expect(blockedAddressReason('10.9.9.9', allowed)).toBeUndefined();
    expect(blockedAddressReason('192.168.0.1', allowed)).toBeDefined();
  });

  it('reads WEBHOOK_ALLOWED_TARGETS from the environment, off by default', () => {
    expect(loadConfig({}).webhookAllowedTargets.ranges).toEqual([]);
    expect(loadConfig({}).webhookAllowedTargets.hosts.size).toBe(0);
    expect(() => loadConfig({ WEBHOOK_ALLOWED_TARGETS: '10.0.0.0/99' })).toThrow(
      /WEBHOOK_ALLOWED_TARGETS: "10.0.0.0\/99" is not an address range/,
    );
    expect(() => loadConfig({ WEBHOOK_ALLOWED_TARGETS: 'http://x/' })).toThrow(/WEBHOOK_ALLOWED_TARGETS/);
  });

  it.each([
    [{ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 10.0.0.1:5432' }, 'REFUSED'],
    [{ code: 'ENOTFOUND', message: 'getaddrinfo ENOTFOUND db' }, 'DNS'],
    [{ code: 'EAI_AGAIN', message: 'x' }, 'DNS'],
    [{ code: 'ETIMEDOUT', message: 'x' }, 'TIMEOUT'],
    [{ code: 'ERR_SSL_WRONG_VERSION_NUMBER', message: 'x' }, 'TLS'],
    [{ code: 'DEPTH_ZERO_SELF_SIGNED_CERT', message: 'x' }, 'TLS'],
    [{ code: 'ERR_TLS_CERT_ALTNAME_INVALID', message: 'x' }, 'TLS'],
    [{ code: 'ECONNRESET', message: 'read ECONNRESET' }, 'NETWORK'],
  ])('classifies %o without its text', (error, failure) => {
    const classified = classifyError(Object.assign(new Error(error.message), error), 5000);
    expect(classified.failure).toBe(failure);
    expect(classified.message).not.toMatch(/10\.0\.0\.1|5432|ECONN|getaddrinfo/);
  });
});
