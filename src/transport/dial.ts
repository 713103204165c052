// The dialling side: connect, send Hello, wait for Welcome. The connection is returned only once the
// listener accepted us; messages it sent right after Welcome wait until the owner sets `onMessage`.
// With `tls` the connection is TLS: the listener's certificate must chain to the CA and name the
// address's host (and, when `expectPeer` is given, carry that member's identity); our own
// certificate, if any, goes to the listener, which checks it against our Hello.

import { connect, isIP } from 'node:net';
import { checkServerIdentity, connect as connectTls, type PeerCertificate } from 'node:tls';
import { ErrorCode, HandshakeError, NotLeaderError, UnavailableError } from '../errors.js';
import type { Hello } from '../protocol/messages.js';
import { parseAddress } from './address.js';
import { MessageConnection } from './connection.js';
import { HANDSHAKE_TIMEOUT_MS, receiveFirst } from './handshake.js';
import type { LocalLink } from './local-link.js';
import { certificateUris, identityUri, type MemberIdentity, type TlsMaterial } from './tls.js';
import { parseWelcome } from './validate.js';

export interface DialOptions {
  /** Covers the TCP connect and the handshake together. */
  readonly timeoutMs?: number;
  readonly frameSizeMaxBytes?: number;
  readonly sendBufferMaxBytes?: number;
  readonly tls?: TlsMaterial;
  /** With `tls`: the member we mean to reach, whose identity the listener's certificate must carry. */
  readonly expectPeer?: MemberIdentity;
  /**
   * The replica this code runs inside: a dial of its address takes the in-process link (no socket,
   * no TLS: nothing leaves the process), with the same handshake.
   */
  readonly local?: LocalLink;
}

/**
 * Rejects with ConfigError (bad address), ConnectionClosedError (refused or dropped), HandshakeError
 * (Welcome said no), UnavailableError (no Welcome in time) or BadFrameError (a malformed Welcome).
 */
export async function dial(
  address: string,
  hello: Hello,
  options: DialOptions = {},
): Promise<MessageConnection> {
  const { host, port } = parseAddress(address);
  const { timeoutMs = HANDSHAKE_TIMEOUT_MS, tls, expectPeer, local, ...connectionOptions } = options;
  const socket =
    local?.address === address
      ? local.connect()
      : tls === undefined
        ? connect({ host, port })
        : connectTls({
            host,
            port,
            ...tls,
            // An IP address is no SNI server name; the host is still checked against the certificate.
            ...(isIP(host) === 0 ? { servername: host } : {}),
            checkServerIdentity: (hostname, certificate) =>
              checkServerIdentity(hostname, certificate) ?? memberMismatch(certificate, expectPeer),
          });
  const connection = new MessageConnection(socket, connectionOptions);
  connection.send(hello);
  const welcome = await receiveFirst(connection, parseWelcome, timeoutMs).catch((error: unknown) => {
    connection.destroy();
    throw error;
  });
  if (!welcome.ok) {
    connection.destroy();
    if (welcome.code === ErrorCode.notLeader) throw new NotLeaderError(`${address}: ${welcome.message}`);
    const code =
      welcome.code === ErrorCode.unauthenticated ? ErrorCode.unauthenticated : ErrorCode.handshakeRefused;
    throw new HandshakeError(`${address} refused the handshake: ${welcome.message}`, code);
  }
  return connection;
}

/**
 * "host:port[,host:port...]": the coordinators of a cluster (one, or several on etcd). A ConfigError
 * for an empty list or a bad address.
 */
export function parseAddressList(text: string): string[] {
  const addresses = text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
  if (addresses.length === 0) parseAddress(text); // throws the usual ConfigError
  for (const address of addresses) parseAddress(address);
  return addresses;
}

/**
 * Dials the addresses in turn, from `from` on, until one welcomes us: a coordinator that is down or
 * stands by (NOT_LEADER) sends us on to the next. A refusal that would stand everywhere (another
 * cluster or service) ends the search. Resolves with the connection and the index that answered.
 */
export async function dialFirst(
  addresses: readonly string[],
  from: number,
  hello: Hello,
  options: DialOptions = {},
): Promise<{ connection: MessageConnection; index: number }> {
  let last: unknown = new UnavailableError('no address to dial');
  for (let attempt = 0; attempt < addresses.length; attempt += 1) {
    const index = (from + attempt) % addresses.length;
    try {
      return { connection: await dial(addresses[index] as string, hello, options), index };
    } catch (error) {
      if (error instanceof HandshakeError) throw error;
      last = error;
    }
  }
  if (addresses.length > 1 && last instanceof Error) {
    const error = last;
    throw Object.assign(error, { message: `none of ${addresses.join(', ')} leads: last, ${error.message}` });
  }
  throw last;
}

function memberMismatch(
  certificate: PeerCertificate,
  expectPeer: MemberIdentity | undefined,
): Error | undefined {
  if (expectPeer === undefined) return undefined;
  const expected = identityUri(expectPeer);
  const names = certificateUris(certificate);
  if (names.includes(expected)) return undefined;
  return new Error(
    `the listener's certificate names ${names.join(', ') || 'no understudy identity'}, not ${expected}`,
  );
}
