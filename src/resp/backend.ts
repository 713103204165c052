// The cluster behind a port: one key/value Client shared by every connection of the port (one per
// token, when the port asks for AUTH), and this replica's own status.
//
// Why one client for all connections rather than one per connection: a client keeps one session
// slot per write in flight, opening a session (a logged entry) only when all its slots are busy,
// and one connection to the coordinator and to the primary. Shared, a port opens as many sessions
// as writes it ever had in flight at once, however many Redis connections come and go (a web server
// that connects per request would otherwise open a session per request, each a log entry and an
// entry in every replica's session table until it expires). Each request still carries its own
// client id and request number, so sharing costs nothing of at-most-once; the order of one
// connection's commands is kept by the server, which runs them in order (a pipeline as one sequence).
//
// The client connects on first use, and again after a failed attempt: a port that starts before
// its coordinator answers commands with UNAVAILABLE until it can reach one, instead of failing.

import {
  Client,
  READ_MAX_STALENESS_MS_DEFAULT,
  type ReadOptions,
  type TlsMaterial,
} from '../client/index.js';
import type { StatusReply } from '../protocol/messages.js';
import type { StateSize } from '../protocol/state-machine.js';
import type { LocalLink } from '../transport/index.js';
import type { LocalPersistence, LocalReplica, RespBackend } from './context.js';
import { infoStatusWaitMs } from './limits.js';

export interface ClusterBackendOptions {
  readonly coordinator: string;
  readonly clusterId: string;
  /** This replica's status, read at each INFO. */
  readonly local: () => LocalReplica;
  /** The size of this replica's state (INFO keyspace); none if absent. */
  readonly stateSize?: () => StateSize | null;
  /** What the replica's disk is doing (INFO persistence). */
  readonly persistence?: () => LocalPersistence;
  /** Whether this replica is the primary now: asked at each READONLY read, so cheaper than `local`. */
  readonly isPrimary?: () => boolean;
  /** How long one command may take, retries included (the client's default if absent). */
  readonly deadlineMs?: number;
  /** The cluster's TLS material, when it runs on TLS: the port's client dials over TLS with it. */
  readonly tls?: TlsMaterial;
  /** The replica the port runs in: commands reach it in memory while it is the primary, READONLY reads always. */
  readonly localLink?: LocalLink;
  /** How old the state a READONLY connection reads may be (READ_MAX_STALENESS_MS_DEFAULT if absent). */
  readonly readStalenessMs?: number;
  /** Whether connections start READONLY (false if absent). */
  readonly readOnlyByDefault?: boolean;
}

/** One Client, connected on first use and again after a failed attempt. */
interface Connector {
  client(): Promise<Client>;
  close(): Promise<void>;
}

function connector(options: ClusterBackendOptions, token: string | null): Connector {
  let connecting: Promise<Client> | null = null;
  let connected: Client | null = null;
  let closed = false;
  return {
    client(): Promise<Client> {
      if (closed) return Promise.reject(new Error('the Redis port is closed'));
      if (connecting === null) {
        const attempt = Client.connect({
          coordinator: options.coordinator,
          clusterId: options.clusterId,
          ...(options.deadlineMs === undefined ? {} : { deadlineMs: options.deadlineMs }),
          ...(options.tls === undefined ? {} : { tls: options.tls }),
          ...(options.localLink === undefined ? {} : { localLink: options.localLink }),
          ...(token === null ? {} : { token }),
        });
        connecting = attempt;
        attempt.then(
          (client) => {
            if (closed) void client.close();
            else connected = client;
          },
          () => {
            if (connecting === attempt) connecting = null; // the next command tries again
          },
        );
      }
      return connecting;
    },
    async close(): Promise<void> {
      closed = true;
      connecting = null;
      // A connect still under way closes its client when it ends (above); it is not waited for.
      await connected?.close();
    },
  };
}

export function clusterBackend(options: ClusterBackendOptions): RespBackend {
  // One client per token (the port checked each against its credentials, so there are at most as
  // many as the credentials file lists), shared by every connection that authenticated with it.
  const connectors = new Map<string | null, Connector>();
  let closed = false;
  const client = (token: string | null): Promise<Client> => {
    if (closed) return Promise.reject(new Error('the Redis port is closed'));
    let entry = connectors.get(token);
    if (entry === undefined) {
      entry = connector(options, token);
      connectors.set(token, entry);
    }
    return entry.client();
  };
  const readStalenessMs = options.readStalenessMs ?? READ_MAX_STALENESS_MS_DEFAULT;
  const preferMember = options.localLink?.address;
  const isPrimary = options.isPrimary ?? (() => options.local().role === 'primary');
  return {
    client,
    local: options.local,
    stateSize: options.stateSize ?? (() => null),
    ...(options.persistence === undefined ? {} : { persistence: options.persistence }),
    readOnlyByDefault: options.readOnlyByDefault ?? false,
    replicaReadOptions(minIndex: number): ReadOptions | undefined {
      if (isPrimary()) return undefined;
      return {
        read: 'any',
        maxStalenessMs: readStalenessMs,
        minIndex,
        // In memory, over the link: this replica answers unless it is stale, then another member.
        ...(preferMember === undefined ? {} : { preferMember }),
      };
    },
    async clusterStatus(token: string | null): Promise<StatusReply | null> {
      let timer: NodeJS.Timeout | undefined;
      const giveUp = new Promise<null>((resolve) => {
        timer = setTimeout(() => resolve(null), infoStatusWaitMs);
      });
      const asked = client(token)
        .then((connected) => connected.status())
        .catch(() => null);
      try {
        return await Promise.race([asked, giveUp]);
      } finally {
        clearTimeout(timer);
      }
    },
    async close(): Promise<void> {
      closed = true;
      await Promise.all([...connectors.values()].map((entry) => entry.close()));
    },
  };
}
