import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import {
  decodeMessage,
  encodeMessage,
  Listeners,
  type LiveBus,
  type LiveListener,
  type LiveMessage,
} from './bus.ts';
import { LIVE_CHANNEL } from './postgres-bus.ts';

/**
 * Redis pub/sub between instances (when REDIS_URL is set). A subscribed connection can do
 * nothing else, hence two. Like NOTIFY, a published message comes back to this instance too.
 * Start-up does not wait for Redis (ioredis keeps reconnecting and re-subscribes); on every
 * (re)connect the live views re-read, since messages sent meanwhile were lost.
 */
export function redisBus(url: string, log: Logger): LiveBus {
  const publisher = new Redis(url, { maxRetriesPerRequest: 1 });
  const subscriber = new Redis(url);
  for (const r of [publisher, subscriber]) {
    r.on('error', (error: Error) => log.warn({ err: error }, 'live bus: redis'));
  }
  const listeners = new Listeners();
  subscriber.on('ready', () => listeners.emit({ t: 'resync' }));
  subscriber.on('message', (_channel: string, payload: string) => {
    const message = decodeMessage(payload);
    if (message) listeners.emit(message);
  });
  subscriber.subscribe(LIVE_CHANNEL).catch((error: unknown) => {
    log.error({ err: error }, 'live bus: SUBSCRIBE failed');
  });
  return {
    kind: 'redis',
    publish(message: Exclude<LiveMessage, { t: 'resync' }>) {
      publisher.publish(LIVE_CHANNEL, encodeMessage(message)).catch((error: unknown) => {
        log.error({ err: error }, 'live bus: PUBLISH failed');
      });
    },
    subscribe: (listener: LiveListener) => listeners.add(listener),
    async close() {
      subscriber.disconnect();
      publisher.disconnect();
    },
  };
}
