// TLS for the message transport: the material a process holds (CA, certificate, key) and the
// identity check that mutual TLS adds on top of the chain.
//
// Identity lives in the certificate as a URI subject alternative name: `understudy://replica/<id>`
// for a replica, `understudy://coordinator` for a coordinator, `understudy://client` for a client
// (`understudy certs` writes them). The chain alone only says "someone our CA vouched for"; a
// replica must also be the replica its Hello names, or one stolen replica key could pose as any
// other member. TLS is chosen when a connection is made: the per-message path does not change.

import {
  createSecureContext,
  type PeerCertificate,
  type SecureContextOptions,
  type TLSSocket,
} from 'node:tls';
import type { PeerKind } from '../protocol/messages.js';

/** PEM text (or bytes) of the private CA, and this process's certificate and key. */
export interface TlsMaterial {
  readonly ca: string | Buffer;
  /** Without a certificate (a client) the process can verify servers but proves nothing itself. */
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
}

/** A server that can be given a new certificate and CA: node:tls's and node:https's. */
export interface SecureServer {
  setSecureContext(options: SecureContextOptions): void;
  once(event: 'close', listener: () => void): unknown;
}

/**
 * A server process's TLS material, which it may read again (on SIGHUP). One object, shared by
 * reference: every dialer spreads its fields into each new connection, and every server that serves
 * with it (`serveWith`) is handed the new context. Connections already made keep what they
 * negotiated. Its own bookkeeping is an ES private field, so a spread copies only the material.
 */
export class ReloadableTls implements TlsMaterial {
  ca: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  readonly #servers = new Set<SecureServer>();

  constructor(material: TlsMaterial) {
    this.ca = material.ca;
    if (material.cert !== undefined) this.cert = material.cert;
    if (material.key !== undefined) this.key = material.key;
  }

  /**
   * Takes `fresh` for every connection made from now on. Throws, changing nothing, if node:tls
   * refuses it (a key that does not match the certificate, a file that is not PEM).
   */
  replace(fresh: TlsMaterial): void {
    const context = contextOptions(fresh);
    createSecureContext(context);
    this.ca = fresh.ca;
    if (fresh.cert === undefined) delete this.cert;
    else this.cert = fresh.cert;
    if (fresh.key === undefined) delete this.key;
    else this.key = fresh.key;
    for (const server of this.#servers) server.setSecureContext(context);
  }

  follow(server: SecureServer): void {
    this.#servers.add(server);
    server.once('close', () => this.#servers.delete(server));
  }
}

/** Has `server` take `material`'s reloads (nothing to do for material that is never reloaded). */
export function serveWith(material: object, server: SecureServer): void {
  if (material instanceof ReloadableTls) material.follow(server);
}

function contextOptions(material: TlsMaterial): SecureContextOptions {
  return {
    ca: material.ca,
    ...(material.cert === undefined ? {} : { cert: material.cert }),
    ...(material.key === undefined ? {} : { key: material.key }),
  };
}

export const IDENTITY_URI_PREFIX = 'understudy://';

/** Who a certificate speaks for: a PeerKind, without what is not part of an identity (a replica's service). */
export type MemberIdentity =
  | { readonly kind: 'replica'; readonly id: string }
  | { readonly kind: 'coordinator' }
  | { readonly kind: 'client' };

/** The URI a certificate must carry to speak as `peer`. */
export function identityUri(peer: MemberIdentity): string {
  switch (peer.kind) {
    case 'replica':
      return `${IDENTITY_URI_PREFIX}replica/${peer.id}`;
    case 'coordinator':
      return `${IDENTITY_URI_PREFIX}coordinator`;
    case 'client':
      return `${IDENTITY_URI_PREFIX}client`;
  }
}

/** Every `URI:` entry of the certificate's subjectAltName (Node formats it as "URI:a, DNS:b"). */
export function certificateUris(certificate: PeerCertificate | null | undefined): string[] {
  const names = certificate?.subjectaltname;
  if (names === undefined || names === '') return [];
  return names
    .split(', ')
    .filter((name) => name.startsWith('URI:'))
    .map((name) => name.slice('URI:'.length));
}

/**
 * Why the peer on `socket` may not speak as `peer`, or null. Members (replicas and coordinators)
 * must present a certificate that chains to our CA and names them; a client need not present one
 * (the client port is server-authenticated TLS), but one it presents must chain to our CA.
 */
export function tlsIdentityRefusal(socket: TLSSocket, peer: PeerKind): string | null {
  const certificate = socket.getPeerCertificate();
  const presented = certificate !== null && Object.keys(certificate).length > 0;
  if (peer.kind === 'client' && !presented) return null;
  if (!presented) return `a ${peer.kind} must present a certificate`;
  if (!socket.authorized) {
    return `its certificate is not from this cluster's CA (${String(socket.authorizationError)})`;
  }
  if (peer.kind === 'client') return null;
  const expected = identityUri(peer);
  const names = certificateUris(certificate);
  if (names.includes(expected)) return null;
  return `its certificate names ${names.length === 0 ? 'no understudy identity' : names.join(', ')}, not ${expected}`;
}
