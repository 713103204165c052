// AUTH on the Redis port, as Redis answers it: with --auth-file every command but AUTH, HELLO and
// QUIT is answered `-NOAUTH Authentication required.` until the connection authenticates, and a wrong
// token gets `-WRONGPASS ...` (the same words whatever was wrong, as in Redis). The password is an
// Understudy token (`<name>.<secret>`); `AUTH <name> <token>` and `AUTH <name> <secret>` work too, so
// `redis-cli --user NAME --pass SECRET` and ioredis's `username`/`password` do. Once authenticated,
// the connection's commands reach the cluster with that token, so the cluster binds them to the
// token's own session ids. Each refusal is counted; none is logged with what was sent.

import { type Credentials, countRefusal, countRequestRefusal, type Principal } from '../transport/index.js';
import type { CommandContext } from './context.js';
import { type RespReply, reply } from './replies.js';

export const NOAUTH = 'NOAUTH Authentication required.';
export const WRONGPASS = 'WRONGPASS invalid username-password pair or user is disabled.';
const NOAUTH_HELLO =
  'NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH ' +
  '<user> <pass> option can be used to authenticate the client and select the RESP protocol version at ' +
  'the same time';
const NO_PASSWORD =
  'ERR AUTH <password> called without any password configured for the default user. Are you sure your ' +
  'configuration is correct?';

/** Commands a connection may send before it authenticates (HELLO only with its AUTH option). */
const beforeAuth: ReadonlySet<string> = new Set(['auth', 'hello', 'quit']);

/**
 * The refusal for `name` on a connection that has not authenticated on a port that asks for it, or
 * null when the command may run.
 */
export function noAuthRefusal(
  name: string,
  args: readonly Buffer[],
  context: CommandContext,
): RespReply | null {
  if (context.credentials === null || context.connection.token !== null) return null;
  if (beforeAuth.has(name)) {
    if (name !== 'hello' || args.some((argument) => argument.toString('latin1').toLowerCase() === 'auth'))
      return null;
    countRequestRefusal('not_authenticated');
    return reply.error(NOAUTH_HELLO);
  }
  countRequestRefusal('not_authenticated');
  return reply.error(NOAUTH);
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
  const user = username === null ? null : username.toString('utf8');
  const secret = password.toString('utf8');
  const token =
    user === null || user === 'default' || secret.startsWith(`${user}.`) ? secret : `${user}.${secret}`;
  const principal: Principal | null = credentials.authenticate(token);
  if (principal === null || (user !== null && user !== 'default' && principal.name !== user)) {
    countRefusal('unauthenticated');
    return reply.error(WRONGPASS);
  }
  context.connection.token = token;
  return null;
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
