// The listening side: accepts sockets, runs the handshake, and hands accepted connections to the
// owner. A peer that sends nothing, garbage or a refused Hello never reaches `onConnection`.
// With `tls`, the listener speaks TLS, asks every peer for a certificate, and refuses a member whose
// certificate does not chain to the CA or does not name the member its Hello names (tls.ts).
// With `access`, a client must bring a token the credentials accept (its principal goes to the owner
// with the connection) and a member the cluster secret (auth.ts); each refusal is counted by reason
// (connections_refused: unauthenticated, forged_peer) and its Welcome says what was wrong, never
// what was sent.

import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, TLSSocket } from 'node:tls';
import { ConnectionClosedError, ErrorCode, UnavailableError, UnderstudyError } from '../errors.js';
import type { Hello, PeerKind, Welcome } from '../protocol/messages.js';
import { formatAddress } from './address.js';
import type { AccessPolicy, ClusterSecret, Credentials, Principal } from './auth.js';
import { MessageConnection } from './connection.js';
import { ConnectionGate, type ConnectionLimits, connectionLimitsDefault } from './connection-gate.js';
import { countRefusal, transportCounters } from './counters.js';
import { CLIENT_IDLE_TIMEOUT_MS, HANDSHAKE_TIMEOUT_MS, receiveFirst, refusalReason } from './handshake.js';
import { type ByteStream, LocalStream } from './local-link.js';
import { serveWith, type TlsMaterial, tlsIdentityRefusal } from './tls.js';
import { parseHello, parseHelloHeader } from './validate.js';

/** A handshake refused with a code of its own (NOT_LEADER: a standby coordinator's redirect). */
export interface Refusal {
  readonly code: ErrorCode;
  readonly message: string;
}

export interface ListenOptions {
  readonly host: string;
  /** 0 picks a free port; `address` tells which. */
  readonly port: number;
  readonly clusterId: string;
  readonly frameSizeMaxBytes: number;
  readonly sendBufferMaxBytes?: number;
  readonly handshakeTimeoutMs?: number;
  /** Speak TLS with this CA, certificate and key (both required here), checking each peer's identity. */
  readonly tls?: TlsMaterial;
  /** Caps on open connections, per remote address and in total; defaults in connection-gate.ts. */
  readonly connectionLimits?: ConnectionLimits;
  /**
   * A client connection (not a replica or the coordinator: those have heartbeats) that sends and
   * receives nothing this long is closed; the client library reconnects when it next needs to.
   */
  readonly clientIdleTimeoutMs?: number;
  /**
   * Why this peer may not connect, or null to admit it; asked once its Hello passed the version and
   * cluster checks. Its answer goes back in the refusing Welcome, so make it say what to fix; a
   * `Refusal` also names the code (HANDSHAKE_REFUSED unless it says otherwise).
   */
  admit?(peer: PeerKind): string | Refusal | null;
  /** Tokens for clients, the cluster secret for members; absent: anyone who passes the other checks. */
  readonly access?: AccessPolicy;
  /**
   * An accepted connection; `principal` is who a client's token proved, or null when the port asks
   * for no token (and for members).
   */
  onConnection(peer: PeerKind, connection: MessageConnection, principal: Principal | null): void;
  /** Told of every connection closed before or during the handshake (bad frame, refusal, timeout). */
  onRejected?(reason: string): void;
}

export interface Listener {
  /** host:port actually bound. */
  readonly address: string;
  /**
   * A connection to this listener from inside its own process, over an in-process link rather than
   * a socket (local-link.ts); throws ConnectionClosedError once the listener is closed.
   */
  connectLocal(): ByteStream;
  /** Stops listening and destroys every open connection, handed over or not, local ones too. */
  close(): Promise<void>;
}

export async function listen(options: ListenOptions): Promise<Listener> {
  const timeoutMs = options.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS;
  const clientIdleTimeoutMs = options.clientIdleTimeoutMs ?? CLIENT_IDLE_TIMEOUT_MS;
  const gate = new ConnectionGate(options.connectionLimits ?? connectionLimitsDefault);
  const sockets = new Set<ByteStream>();
  const track = (stream: ByteStream): void => {
    sockets.add(stream);
    stream.on('close', () => sockets.delete(stream));
  };
  const onSocket = (socket: Socket): void => {
    // Over TLS the raw socket was admitted (or refused) before its handshake: see createTlsListener.
    if (options.tls === undefined && !gate.admit(socket)) return;
    track(socket);
    serve(socket);
  };

  /** Runs the handshake on an accepted stream and hands the connection over. */
  function serve(socket: ByteStream): void {
    const connectionOptions = {
      frameSizeMaxBytes: options.frameSizeMaxBytes,
      ...(options.sendBufferMaxBytes === undefined ? {} : { sendBufferMaxBytes: options.sendBufferMaxBytes }),
    };
    const connection = new MessageConnection(socket, connectionOptions);
    const drop = (error: unknown) => {
      if (error instanceof UnavailableError) countRefusal('handshake_timeout');
      const code = error instanceof UnderstudyError ? error.code : ErrorCode.badFrame;
      const reason = error instanceof Error ? error.message : String(error);
      connection.fail(code, reason);
      options.onRejected?.(`${code}: ${reason}`);
    };
    receiveFirst(connection, (first) => first, timeoutMs).then((first) => {
      let hello: Hello;
      let refusal: string | null;
      try {
        // Version and cluster first: a peer of another version may shape the rest of its Hello otherwise.
        refusal = refusalReason(parseHelloHeader(first), options.clusterId);
        if (refusal !== null) {
          refuse(connection, refusal);
          return;
        }
        hello = parseHello(first);
      } catch (error) {
        drop(error);
        return;
      }
      if (socket instanceof TLSSocket) {
        refusal = tlsIdentityRefusal(socket, hello.peer);
        if (refusal !== null) {
          transportCounters.tlsIdentitiesRefused += 1;
          if (hello.peer.kind !== 'client') countRefusal('forged_peer');
          refuse(connection, refusal);
          return;
        }
      }
      const authenticated = authenticate(hello);
      if (typeof authenticated === 'string') {
        refuse(connection, { code: ErrorCode.unauthenticated, message: authenticated });
        return;
      }
      // Outside the try: the owner's own failure (say, a state file it cannot write) is not the peer's.
      const ownerRefusal = options.admit?.(hello.peer) ?? null;
      if (ownerRefusal !== null) refuse(connection, ownerRefusal);
      else accept(connection, hello, authenticated);
    }, drop);
  }
  const server: Server = options.tls === undefined ? createServer(onSocket) : createTlsListener(options.tls);

  function createTlsListener(material: TlsMaterial): Server {
    // rejectUnauthorized stays off so that a bad certificate is refused after the Hello, with a
    // reason the peer and our log both see, and counted; tlsIdentityRefusal checks the chain itself.
    const tlsServer = createTlsServer(
      { ...material, requestCert: true, rejectUnauthorized: false, handshakeTimeout: timeoutMs },
      onSocket,
    );
    serveWith(material, tlsServer);
    // Admitted, and tracked, from the raw socket on: the caps apply before the costly handshake, and
    // close() also cuts connections still in it.
    tlsServer.on('connection', (raw: Socket) => {
      if (gate.admit(raw)) track(raw);
    });
    tlsServer.on('tlsClientError', (error) => {
      transportCounters.tlsHandshakesFailed += 1;
      options.onRejected?.(`TLS handshake failed: ${error.message}`);
    });
    return tlsServer;
  }

  /**
   * The principal a client's token proves (null when the port asks for none, and for members), or
   * why the Hello is refused. The reason names who, never the credential.
   */
  function authenticate(hello: Hello): Principal | null | string {
    const access = options.access;
    if (hello.peer.kind === 'client') {
      if (access?.credentials === undefined) return null;
      const principal = access.credentials.authenticate(hello.credential ?? null);
      if (principal !== null) return principal;
      countRefusal('unauthenticated');
      return hello.credential === undefined
        ? 'this port asks for a token: give the client one (ClientOptions.token, UNDERSTUDY_TOKEN)'
        : 'the token was refused (unknown name, or a wrong secret)';
    }
    if (access?.clusterSecret === undefined) return null;
    if (access.clusterSecret.admits(hello.credential)) return null;
    countRefusal('forged_peer');
    const who = hello.peer.kind === 'replica' ? `replica ${hello.peer.id}` : 'a coordinator';
    return `${who} did not bring this cluster's secret (--cluster-secret-file)`;
  }

  function refuse(connection: MessageConnection, refusal: string | Refusal): void {
    const { code, message } =
      typeof refusal === 'string' ? { code: ErrorCode.handshakeRefused, message: refusal } : refusal;
    transportCounters.handshakesRefused += 1;
    // A standby's redirect is the normal way to find the leader, not a peer to worry about.
    if (code !== ErrorCode.notLeader) options.onRejected?.(`${code}: ${message}`);
    connection.send({ type: 'welcome', ok: false, code, message } satisfies Welcome);
    connection.close();
  }

  function accept(connection: MessageConnection, hello: Hello, principal: Principal | null): void {
    connection.send({ type: 'welcome', ok: true, code: '', message: '' } satisfies Welcome);
    if (hello.peer.kind === 'client') connection.closeWhenIdle(clientIdleTimeoutMs);
    options.onConnection(hello.peer, connection, principal);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address();
  const port = typeof bound === 'object' && bound !== null ? bound.port : options.port;
  return {
    address: formatAddress(options.host, port),
    connectLocal: () => {
      if (!server.listening) throw new ConnectionClosedError('the listener is closed');
      // Served as an accepted socket, handshake and token included, past the caps (it is one of
      // this process's own) and without TLS (nothing leaves the process).
      const [near, far] = LocalStream.pair();
      track(far);
      serve(far);
      return near;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}

/**
 * The `tls` and `access` of a server's listen options, from its TLS material, client tokens and
 * cluster secret, each passed on only when set.
 */
export function listenSecurity(options: {
  readonly tls?: TlsMaterial | undefined;
  readonly credentials?: Credentials | undefined;
  readonly clusterSecret?: ClusterSecret | undefined;
}): Pick<ListenOptions, 'tls' | 'access'> {
  return {
    ...(options.tls === undefined ? {} : { tls: options.tls }),
    access: {
      ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
      ...(options.clusterSecret === undefined ? {} : { clusterSecret: options.clusterSecret }),
    },
  };
}
