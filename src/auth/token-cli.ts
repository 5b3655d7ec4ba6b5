import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config/config.ts';
import { authorizationHeader, jwtSecretSource, resolveJwtSecret } from './dev-secret.ts';
import { signUserToken } from './tokens.ts';

const USAGE = `Usage: npm run token -- (--sub <user id> | --admin) [--expires <30d|12h|...>] [--raw]

  --sub <id>      the user the token is for (its JWT sub); orgs and roles come from memberships
  --admin         a platform admin: --sub defaults to the first of ADMIN_USER_IDS
  --expires <t>   lifetime, e.g. 30d (default), 12h, 90m
  --raw           print only the token

Signs with JWT_SECRET (or, without it, the development secret in DATA_DIR), as the server checks.`;

function fail(message: string, code = 2): never {
  console.error(message);
  process.exit(code);
}

/** `npm run token`: a user token (with iat and exp) for the configured JWT secret, and its header. */
async function main(): Promise<void> {
  let args: ReturnType<typeof parseArgs<{ options: typeof options }>>['values'];
  const options = {
    sub: { type: 'string' },
    admin: { type: 'boolean', default: false },
    expires: { type: 'string', default: '30d' },
    raw: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  } as const;
  try {
    args = parseArgs({ options, strict: true }).values;
  } catch (error) {
    fail(`${(error as Error).message}\n\n${USAGE}`);
  }
  if (args.help) {
    console.log(USAGE);
    return;
  }
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message, 78);
    throw error;
  }
  const admins = config.adminUserIds;
  const sub = args.sub?.trim() || (args.admin ? admins[0] : undefined);
  if (sub === undefined) {
    fail(
      args.admin
        ? 'ADMIN_USER_IDS is empty: no platform admin is configured, so --admin has no user.'
        : USAGE,
    );
  }
  const isAdmin = admins.includes(sub);
  if (args.admin && !isAdmin) {
    fail(
      `${sub} is not a platform admin: add it to ADMIN_USER_IDS (now: ${admins.join(',') || 'empty'}), or leave out --sub.`,
    );
  }
  let token: string;
  try {
    token = await signUserToken(resolveJwtSecret(config), sub, args.expires, {
      issuer: config.jwtIssuer,
      audience: config.jwtAudience,
    });
  } catch {
    fail(`--expires: expected a lifetime such as 30d, 12h or 90m (got ${JSON.stringify(args.expires)})`);
  }
  if (args.raw) {
    console.log(token);
    return;
  }
  const exp = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()).exp as number;
  console.log(
    [
      `Token for ${sub} (${isAdmin ? 'platform admin' : 'not a platform admin: orgs and roles come from memberships'}),`,
      `signed with ${jwtSecretSource(config)}, valid until ${new Date(exp * 1000).toISOString()}:`,
      '',
      token,
      '',
      'Header (GraphiQL Headers tab, the dashboard token field, or curl -H "Authorization: Bearer <token>"):',
      '',
      authorizationHeader(token),
    ].join('\n'),
  );
}

await main();
