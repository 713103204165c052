// Who may talk to a port: client tokens bound to a name, admin tokens, and the cluster's shared
// secret for members (replicas and coordinators). Checked once per connection, in the handshake (and
// once per AUTH on the Redis port), never per message.
//
// A token is `<name>.<secret>`: the name says whose it is, so one string is all a client needs, and
// the server looks up that one name's digest. Servers keep only SHA-256 digests of tokens (the
// credentials file, `understudy token` prints the line to add): a stolen file lets no one connect.
// Comparison is constant-time: the presented token's digest and the expected one are both 32 bytes,
// compared with crypto.timingSafeEqual; an unknown name is compared against a dummy digest, so the
// time taken does not tell which names exist either. Tokens and secrets are never logged: errors
// name the file, the principal or the line, never the value.
//
// Binding: a client authenticated as `app1` may only use client ids that begin with `app1/` (the
// client library makes its session ids so), so it can neither read another client's session nor
// spend or cancel its request numbers. An admin token may do what a client may, under any client
// id (`request-status` of any client's write), and the coordinator's mutating calls (switchover).

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { ConfigError } from '../errors.js';

/** A token's name: letters, digits, `_` and `-`, as in a file name (the part before the first dot). */
export const TOKEN_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** Random bytes in a token `understudy token` makes: 256 bits, base64url. */
export const TOKEN_SECRET_BYTES = 32;
/** A secret shorter than this (a token's part after the dot, or a cluster secret) is refused as guessable. */
export const SECRET_CHARACTERS_MIN = 16;
/** Longer input is not a token (it is refused before it is hashed). */
export const TOKEN_CHARACTERS_MAX = 512;
const DIGEST_PREFIX = 'sha256:';

/** Who a connection authenticated as. */
export interface Principal {
  readonly role: 'client' | 'admin';
  readonly name: string;
}

/** The client ids `principal` may use: `<name>/...`; an admin may use any. */
export function ownsClientId(principal: Principal, clientId: string): boolean {
  return (
    principal.role === 'admin' ||
    (clientId.startsWith(principal.name) && clientId[principal.name.length] === '/')
  );
}

/** The name part of a well-formed token, or null. Says nothing of whether the token is valid. */
export function tokenName(token: string): string | null {
  if (token.length > TOKEN_CHARACTERS_MAX) return null;
  const dot = token.indexOf('.');
  if (dot <= 0) return null;
  const name = token.slice(0, dot);
  return TOKEN_NAME_PATTERN.test(name) ? name : null;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** Whether two secrets are equal, in time that depends on neither (their digests are compared). */
export function secretsEqual(presented: string, expected: string): boolean {
  return timingSafeEqual(digest(presented), digest(expected));
}

/** A new token for `name`, and the digest a credentials file lists for it. */
export function makeToken(name: string): { readonly token: string; readonly digest: string } {
  if (!TOKEN_NAME_PATTERN.test(name)) {
    throw new ConfigError(`a token name is 1 to 64 letters, digits, '_' or '-', got ${JSON.stringify(name)}`);
  }
  const token = `${name}.${randomBytes(TOKEN_SECRET_BYTES).toString('base64url')}`;
  return { token, digest: tokenDigestText(token) };
}

/** `sha256:<hex>` of a token: what a credentials file holds for it. */
export function tokenDigestText(token: string): string {
  return `${DIGEST_PREFIX}${digest(token).toString('hex')}`;
}

/**
 * The tokens a server accepts, as digests by name (from a credentials file). Verification takes the
 * same time whether the name exists or not, and whether the token is right or not.
 */
export class Credentials {
  private readonly dummy = digest('understudy: no such principal');

  constructor(
    private byName: ReadonlyMap<string, { readonly role: Principal['role']; readonly digest: Buffer }>,
  ) {}

  /**
   * Takes the tokens `other` lists instead of its own (a server reloading its --auth-file): every
   * check from now on uses them; connections already authenticated keep their principal.
   */
  replaceWith(other: Credentials): void {
    this.byName = other.byName;
  }

  /** The principal `token` proves, or null. */
  authenticate(token: string | null): Principal | null {
    if (token === null) return null;
    const name = tokenName(token);
    const entry = name === null ? undefined : this.byName.get(name);
    const presented = digest(token.length > TOKEN_CHARACTERS_MAX ? '' : token);
    const equal = timingSafeEqual(presented, entry?.digest ?? this.dummy);
    return equal && entry !== undefined && name !== null ? { role: entry.role, name } : null;
  }

  /** How many clients and admins it lists (for the start log line: never the names' tokens). */
  get counts(): { readonly clients: number; readonly admins: number } {
    let admins = 0;
    for (const entry of this.byName.values()) if (entry.role === 'admin') admins += 1;
    return { clients: this.byName.size - admins, admins };
  }
}

/**
 * Parses a credentials file: JSON `{ "clients": { name: "sha256:<hex>" }, "admins": { ... } }`,
 * both optional, a name in only one of them. Throws ConfigError naming `source` and what to fix
 * (never a digest's value).
 */
export function parseCredentials(text: string, source: string): Credentials {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`${source}: not JSON (${(error as Error).message})`);
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw new ConfigError(`${source}: must be a JSON object with "clients" and/or "admins"`);
  }
  const byName = new Map<string, { role: Principal['role']; digest: Buffer }>();
  for (const key of Object.keys(document)) {
    if (key !== 'clients' && key !== 'admins') {
      throw new ConfigError(`${source}: unknown key "${key}" (only "clients" and "admins")`);
    }
  }
  const sections: [string, Principal['role']][] = [
    ['clients', 'client'],
    ['admins', 'admin'],
  ];
  for (const [key, role] of sections) {
    const section = (document as Record<string, unknown>)[key];
    if (section === undefined) continue;
    if (typeof section !== 'object' || section === null || Array.isArray(section)) {
      throw new ConfigError(`${source}: "${key}" must map names to "sha256:<hex>" digests`);
    }
    for (const [name, value] of Object.entries(section)) {
      if (!TOKEN_NAME_PATTERN.test(name)) {
        throw new ConfigError(
          `${source}: ${key}: name ${JSON.stringify(name)} must be 1 to 64 letters, digits, '_' or '-'`,
        );
      }
      if (byName.has(name)) throw new ConfigError(`${source}: ${name} is listed twice`);
      if (typeof value !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(value)) {
        throw new ConfigError(
          `${source}: ${key}.${name} must be "sha256:" and 64 lowercase hex digits (understudy token ${name} prints it)`,
        );
      }
      byName.set(name, { role, digest: Buffer.from(value.slice(DIGEST_PREFIX.length), 'hex') });
    }
  }
  if (byName.size === 0) {
    throw new ConfigError(`${source}: lists no client or admin: nobody could connect`);
  }
  return new Credentials(byName);
}

/**
 * A token or secret read from a file or a variable: surrounding whitespace (a final newline) is
 * dropped; an empty one is an error. The value never appears in the error.
 */
export function readSecretText(text: string, source: string): string {
  const secret = text.trim();
  if (secret === '') throw new ConfigError(`${source} is empty`);
  if (/\s/.test(secret))
    throw new ConfigError(`${source}: a token or secret is one word, without spaces or lines`);
  if (secret.length > TOKEN_CHARACTERS_MAX) {
    throw new ConfigError(`${source}: longer than ${TOKEN_CHARACTERS_MAX} characters`);
  }
  return secret;
}

/** Secrets a --cluster-secret-file may hold: the one brought, and during a change one more accepted. */
const CLUSTER_SECRETS_MAX = 2;

/**
 * The cluster's shared secret for members, as --cluster-secret-file holds it: one secret a line. The
 * first is the one this process brings when it dials a peer or the coordinator; every line is one it
 * lets in. A second line lets the cluster change its secret with no member refused on the way: each
 * member first accepts the new one, then brings it, then drops the old (docs/OPERATIONS.md, "Changing
 * the cluster secret"). A server reloading its file (SIGHUP) takes another's lines with `replaceWith`.
 */
export class ClusterSecret {
  private secrets: readonly [string, ...string[]];

  constructor(secrets: readonly [string, ...string[]]) {
    this.secrets = secrets;
  }

  /** The secret this process brings in its Hello. */
  get presented(): string {
    return this.secrets[0];
  }

  /** How many secrets it accepts (for the log: never which). */
  get count(): number {
    return this.secrets.length;
  }

  /** Whether `credential` is one of the secrets, in time that depends on none of them. */
  admits(credential: string | undefined): boolean {
    let admitted = false;
    // Every secret is compared, matched or not, so the time does not tell which line matched.
    for (const secret of this.secrets) admitted = secretsEqual(credential ?? '', secret) || admitted;
    return admitted && credential !== undefined;
  }

  /** Takes the secrets of `other` instead of its own: for dials and handshakes from now on. */
  replaceWith(other: ClusterSecret): void {
    this.secrets = other.secrets;
  }
}

/**
 * Parses a cluster secret file: one secret a line (blank lines ignored), at least
 * SECRET_CHARACTERS_MIN characters each, at most CLUSTER_SECRETS_MAX. Errors name the file and the
 * line, never a value.
 */
export function parseClusterSecret(text: string, source: string): ClusterSecret {
  const lines = text
    .split(/\r?\n/)
    .flatMap((line, at) => (line.trim() === '' ? [] : [{ line, number: at + 1 }]));
  if (lines.length > CLUSTER_SECRETS_MAX) {
    throw new ConfigError(
      `${source}: ${lines.length} secrets; it holds one, or two while the secret changes (the first is brought, both are accepted)`,
    );
  }
  const [first, ...others] = lines.map(({ line, number }) => {
    const where = lines.length === 1 ? source : `${source} line ${number}`;
    const secret = readSecretText(line, where);
    if (secret.length < SECRET_CHARACTERS_MIN) {
      throw new ConfigError(
        `${where}: a cluster secret has at least ${SECRET_CHARACTERS_MIN} characters (openssl rand -base64 32 makes one)`,
      );
    }
    return secret;
  });
  if (first === undefined) throw new ConfigError(`${source} is empty`);
  return new ClusterSecret([first, ...others]);
}

/**
 * Who may connect to a listening port. Without `credentials`, clients need no token; without
 * `clusterSecret`, members need none (TLS, when on, still checks their certificates).
 */
export interface AccessPolicy {
  readonly credentials?: Credentials;
  readonly clusterSecret?: ClusterSecret;
}
