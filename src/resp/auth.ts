// AUTH on the Redis port, as Redis answers it: with --auth-file every command but AUTH, HELLO and
// QUIT is answered `-NOAUTH Authentication required.` until the connection authenticates, and a wrong
// token gets `-WRONGPASS ...` (the same words whatever was wrong, as in Redis). The password is an
// Understudy token (`<name>.<secret>`); `AUTH <name> <token>` and `AUTH <name> <secret>` work too, so
// `redis-cli --user NAME --pass SECRET` and ioredis's `username`/`password` do. Once authenticated,
// the connection's commands reach the cluster with that token, so the cluster binds them to the
// token's own session ids. Each refusal is counted; none is logged with what was sent.

import { type Credentials, countRefusal, countRequestRefusal, type Principal } from '../transport/index.js';
import { lowerName } from './arguments.js';
import type { CommandContext } from './context.js';
import { type RespReply, reply } from './replies.js';

export const NOAUTH = 'NOAUTH Authentication required.';
export const WRONGPASS = 'WRONGPASS invalid username-password pair or user is disabled.';
export const NOAUTH_HELLO =
  'NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH ' +
  '<user> <pass> option can be used to authenticate the client and select the RESP protocol version at ' +
  'the same time';
export const NO_PASSWORD =
  'ERR AUTH <password> called without any password configured for the default user. Are you sure your ' +
  'configuration is correct?';

/**
 * Commands a connection may send before it authenticates. HELLO checks for itself, after its protocol
 * version, as Redis does: `HELLO 3` gets NOPROTO first, so a client such as ioredis falls back to
 * RESP2 and then sends AUTH.
 */
const beforeAuth: ReadonlySet<string> = new Set(['auth', 'hello', 'quit']);

/** Whether command `name` may run before its connection authenticated (AUTH, HELLO, QUIT). */
export function runsBeforeAuth(name: string): boolean {
  return beforeAuth.has(name);
}

/** Commands whose arguments may carry a token (AUTH, HELLO ... AUTH). */
const carriesToken: ReadonlySet<string> = new Set(['auth', 'hello']);

/**
 * Whether `command`'s arguments must never be shown (MONITOR, SLOWLOG): they may carry a token.
 * Such a command is shown by its name, each argument as `(redacted)`, as Redis does.
 */
export function hidesArguments(command: readonly Buffer[]): boolean {
  return carriesToken.has(lowerName(command[0] ?? Buffer.alloc(0)));
}

/** Whether the connection must still authenticate before its commands run. */
export function mustAuthenticate(context: CommandContext): boolean {
  return context.credentials !== null && context.connection.token === null;
}

/** Whether command `name` may run on this connection now (noAuthRefusal's test, without counting). */
export function mayRun(name: string, context: CommandContext): boolean {
  return !mustAuthenticate(context) || runsBeforeAuth(name);
}

/**
 * The refusal for `name` on a connection that has not authenticated on a port that asks for it, or
 * null when the command may run.
 */
export function noAuthRefusal(name: string, context: CommandContext): RespReply | null {
  if (mayRun(name, context)) return null;
  countRequestRefusal('not_authenticated');
  return reply.error(NOAUTH);
}

/**
 * The refusal of `name`, a command that shows or ends other connections' commands (MONITOR, CLIENT
 * LIST and KILL, SLOWLOG), to a connection whose token is not an admin's, as Redis's ACLs refuse its
 * @admin commands to a user without them; null when it may run (always, on a port that asks for no
 * token, as for Redis's default user). Counted as the cluster counts a client token's operator call.
 */
export function notAdminRefusal(name: string, context: CommandContext): RespReply | null {
  const { credentials, connection } = context;
  if (credentials === null) return null;
  const principal = connection.token === null ? null : credentials.authenticate(connection.token);
  if (principal?.role === 'admin') return null;
  countRequestRefusal('not_admin');
  return reply.error(
    `NOPERM User ${principal?.name ?? 'default'} has no permissions to run the '${name}' command: it reaches other connections' commands, so it takes an admin token`,
  );
}

/** HELLO's refusal once its version and options were read, if the connection has still not authenticated. */
export function helloNoAuthRefusal(context: CommandContext): RespReply | null {
  if (!mustAuthenticate(context)) return null;
  countRequestRefusal('not_authenticated');
  return reply.error(NOAUTH_HELLO);
}

/**
 * Checks a username (or null) and password against the port's tokens; on success the connection
 * acts with that token from now on. Returns the reply for a failure, or null on success.
 */
export function authenticate(
  username: Buffer | null,
  password: Buffer,
  context: CommandContext,
): RespReply | null {
  const credentials: Credentials | null = context.credentials;
  if (credentials === null) return reply.error(NO_PASSWORD);
  const token = provenToken(username, password, credentials);
  if (token === null) return reply.error(WRONGPASS);
  context.connection.token = token;
  return null;
}

/**
 * The token a username (or null) and password name, when `credentials` list it and it is that
 * user's; else null, counted as a refusal. Shared by the Redis ports and the Sentinel port.
 */
export function provenToken(
  username: Buffer | null,
  password: Buffer,
  credentials: Credentials,
): string | null {
  const user = username === null ? null : username.toString('utf8');
  const secret = password.toString('utf8');
  const token =
    user === null || user === 'default' || secret.startsWith(`${user}.`) ? secret : `${user}.${secret}`;
  const principal: Principal | null = credentials.authenticate(token);
  if (principal === null || (user !== null && user !== 'default' && principal.name !== user)) {
    countRefusal('unauthenticated');
    return null;
  }
  return token;
}

/** AUTH [username] password. */
export function auth(args: readonly Buffer[], context: CommandContext): RespReply {
  if (args.length > 3) return reply.error('ERR syntax error');
  const refused =
    args.length === 3
      ? authenticate(args[1] as Buffer, args[2] as Buffer, context)
      : authenticate(null, args[1] as Buffer, context);
  return refused ?? reply.ok;
}
