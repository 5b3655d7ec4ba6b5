import { execFileSync } from 'node:child_process';
import { connect } from 'node:net';
import os from 'node:os';
import postgres from 'postgres';
import { ROOT } from './children.ts';

export type Environment = {
  date: string;
  cpu: string;
  cores: number;
  memoryGb: number;
  os: string;
  node: string;
  postgres: string;
  postgresSettings: Record<string, string>;
  redis: string | null;
  commit: string;
};

/** Creates an empty PostgreSQL database for one run; `drop` removes it. */
export async function createScratchDatabase(base: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `meterline_bench_${process.pid}_${Date.now().toString(36)}`;
  const admin = postgres(base, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const sql = postgres(base, { max: 1, onnotice: () => {} });
      try {
        await sql.unsafe(`drop database if exists "${name}" with (force)`);
      } finally {
        await sql.end();
      }
    },
  };
}

/** Redis's version at this address, or null when nothing answers. */
export function redisVersion(url: string, timeoutMs = 1_000): Promise<string | null> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port || 6379), hostname);
    let data = '';
    const done = (v: string | null) => {
      socket.destroy();
      resolve(v);
    };
    socket.setTimeout(timeoutMs, () => done(null));
    socket.once('error', () => done(null));
    socket.on('data', (chunk) => {
      data += chunk.toString();
      const m = /redis_version:([^\r\n]+)/.exec(data);
      if (m) done(m[1] ?? null);
    });
    socket.once('connect', () => socket.write('INFO server\r\n'));
  });
}

export async function describeEnvironment(databaseUrl: string, redisUrl: string): Promise<Environment> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  let version = 'unknown';
  const settings: Record<string, string> = {};
  try {
    const [row] = await sql<{ v: string }[]>`select current_setting('server_version') as v`;
    version = row?.v ?? version;
    const rows = await sql<{ name: string; setting: string; unit: string | null }[]>`
      select name, setting, unit from pg_settings
      where name in ('fsync', 'synchronous_commit', 'shared_buffers', 'max_wal_size', 'wal_sync_method')
      order by name`;
    for (const r of rows) {
      settings[r.name] =
        r.name === 'shared_buffers' ? `${(Number(r.setting) * 8) / 1024} MB` : `${r.setting}${r.unit ?? ''}`;
    }
  } finally {
    await sql.end();
  }
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT })
      .toString()
      .trim();
    if (dirty) commit += ' (with uncommitted changes in src/)';
  } catch {
    // not a git checkout
  }
  const cpus = os.cpus();
  return {
    date: new Date().toISOString(),
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: os.availableParallelism(),
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    postgres: version,
    postgresSettings: settings,
    redis: await redisVersion(redisUrl),
    commit,
  };
}
