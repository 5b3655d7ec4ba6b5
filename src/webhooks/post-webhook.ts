import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { resolvedRefusal, urlRefusal, type WebhookTargetPolicy } from './target-policy.ts';

/**
 * What went wrong with a delivery, as the delivery log shows it. The log is read by the org's
 * admins, so it says which kind of failure it was, never the network error's own text (which
 * names addresses and ports of whatever answered).
 */
export type DeliveryFailure =
  | 'TIMEOUT'
  | 'REFUSED'
  | 'TLS'
  | 'DNS'
  | 'BLOCKED_ADDRESS'
  | 'HTTP_STATUS'
  | 'NETWORK';

export class DeliveryError extends Error {
  readonly failure: DeliveryFailure;

  constructor(failure: DeliveryFailure, message: string) {
    super(message);
    this.failure = failure;
    this.name = 'DeliveryError';
  }
}

const BLOCKED_MESSAGE = 'the endpoint resolves to an address webhooks may not reach (private or internal)';

/** Turns a socket, DNS or TLS error into its failure class and a fixed message. */
export function classifyError(error: unknown, timeoutMs: number): DeliveryError {
  if (error instanceof DeliveryError) return error;
  const code = String((error as { code?: unknown })?.code ?? '');
  if (code === 'ETIMEDOUT' || code === 'ABORT_ERR' || (error as Error)?.name === 'TimeoutError') {
    return new DeliveryError('TIMEOUT', `no answer within ${timeoutMs} ms`);
  }
  if (code === 'ECONNREFUSED') return new DeliveryError('REFUSED', 'connection refused');
  if (['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NODATA', 'ENODATA', 'ESERVFAIL'].includes(code)) {
    return new DeliveryError('DNS', 'the host name did not resolve');
  }
  if (/^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|EPROTO$)/.test(code)) {
    return new DeliveryError('TLS', 'the TLS handshake failed (certificate or protocol)');
  }
  return new DeliveryError('NETWORK', 'the connection failed');
}

/**
 * A `lookup` for the socket that resolves the name, refuses it when any of its addresses may not
 * be reached, and hands the socket exactly the addresses it checked: the connection goes to an
 * address that passed, so a name re-pointed between a check and the connect (DNS rebinding)
 * cannot slip through.
 */
function guardedLookup(policy: WebhookTargetPolicy): LookupFunction {
  return (hostname, options, callback) => {
    resolvedRefusal(hostname.toLowerCase().replace(/\.$/, ''), policy).then(
      ({ addresses, reason }) => {
        if (reason) {
          callback(new DeliveryError('BLOCKED_ADDRESS', BLOCKED_MESSAGE), '', 4);
          return;
        }
        const usable = addresses.filter((a) => !options.family || a.family === options.family);
        if (usable.length === 0) {
          callback(Object.assign(new Error('no address'), { code: 'ENOTFOUND' }), '', 4);
        } else if (options.all) {
          (callback as unknown as (e: null, a: typeof usable) => void)(null, usable);
        } else {
          callback(null, usable[0]!.address, usable[0]!.family);
        }
      },
      (error: unknown) => callback(error as NodeJS.ErrnoException, '', 4),
    );
  };
}

/**
 * POSTs a webhook body and answers the HTTP status (2xx is the caller's success). Throws a
 * DeliveryError otherwise. Redirects are not followed: a 3xx is a failed delivery like any
 * non-2xx, so a receiver cannot bounce the request to an internal address.
 */
export function postWebhook(
  rawUrl: string,
  params: { headers: Record<string, string>; body: string; timeoutMs: number; policy: WebhookTargetPolicy },
): Promise<number> {
  const url = new URL(rawUrl);
  // The stored URL was checked at creation, but the rules (or NODE_ENV) may have changed since.
  const refusal = urlRefusal(url, params.policy);
  if (refusal) return Promise.reject(new DeliveryError('BLOCKED_ADDRESS', refusal));
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<number>((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        headers: { ...params.headers, 'content-length': String(Buffer.byteLength(params.body)) },
        // Node skips `lookup` for an address literal; urlRefusal above has judged those.
        lookup: guardedLookup(params.policy),
        agent: false,
      },
      (res) => {
        // The status is the answer; the body is only drained (the timer still bounds it).
        res.on('error', () => {});
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    const timer = setTimeout(() => {
      req.destroy(new DeliveryError('TIMEOUT', `no answer within ${params.timeoutMs} ms`));
    }, params.timeoutMs);
    req.on('close', () => clearTimeout(timer));
    req.on('error', (e) => reject(classifyError(e, params.timeoutMs)));
    req.end(params.body);
  });
}
