// Scripted fake servers for the client's tests, speaking the real transport on loopback: replicas
// that answer each request with a script and record what they got, and a coordinator whose status
// (members, roles, transfers, async losses) the test changes as it goes. Shared by the library's
// tests and the CLI's, which run the real `understudy` command against them.

import { FORMAT_LEVEL } from '../../src/protocol/format-level.js';
import type {
  ClientFailure,
  ClientRequest,
  ClientSuccess,
  ReplicaStatus,
  StatusReply,
  SwitchoverRequest,
  TransferProgress,
} from '../../src/protocol/messages.js';
import { logIndex, type Role, replicaId, viewNumber } from '../../src/protocol/types.js';
import type { MessageConnection } from '../../src/transport/connection.js';
import { type Listener, listen, parseClientRequest, parseStatusRequest } from '../../src/transport/index.js';
import { parseSwitchoverRequest } from '../../src/transport/validate.js';

export const clusterId = 'test-client';
const frameSizeMaxBytes = 1024 * 1024;

export type ReplyBody = Omit<ClientSuccess, 'type' | 'id'> | Omit<ClientFailure, 'type' | 'id'>;
/** How a fake replica answers a request; null: it stays silent. */
export type Answer = (request: ClientRequest) => ReplyBody | null;

/** Answers everything ok in `view`; a write's index is its request number plus `indexOffset`. */
export const success =
  (view: number, indexOffset = 0) =>
  (request: ClientRequest): ReplyBody => ({
    ok: true,
    result: request.operation,
    view: viewNumber(view),
    index: logIndex(request.requestNumber + indexOffset),
    durability: request.durability,
    replicas: [replicaId('r1')],
  });

export const failure =
  (code: string, message = `scripted ${code}`) =>
  (): ReplyBody => ({ ok: false, code, message, primary: null });

/** Opens every session asked for, and answers everything else with `answer`. */
export const withSessions =
  (answer: Answer): Answer =>
  (request) =>
    request.kind === 'open-session' ? success(1)(request) : answer(request);

export interface FakeReplica extends Listener {
  readonly requests: ClientRequest[];
  /** Connections open to it now. */
  readonly connections: { open: number };
  /** The requests of one kind, in arrival order. */
  of(kind: ClientRequest['kind']): ClientRequest[];
}

/** A replica that answers each request with `answer` and records it. */
export async function fakeReplica(answer: Answer): Promise<FakeReplica> {
  const requests: ClientRequest[] = [];
  const connections = { open: 0 };
  const listener = await listen({
    host: '127.0.0.1',
    port: 0,
    clusterId,
    frameSizeMaxBytes,
    onConnection: (_peer, connection) => {
      connections.open += 1;
      connection.onClose = () => {
        connections.open -= 1;
      };
      connection.onMessage = (message) => {
        const request = parseClientRequest(message);
        requests.push(request);
        const reply = answer(request);
        if (reply !== null) connection.send({ type: 'reply', id: request.id, ...reply });
      };
    },
  });
  return Object.assign(listener, {
    requests,
    connections,
    of: (kind: ClientRequest['kind']) => requests.filter((request) => request.kind === kind),
  });
}

export interface Member {
  id: string;
  address: string;
  role: Role;
  alive?: boolean;
  transfer?: TransferProgress | null;
  snapshotIndex?: number;
  sessions?: number;
  formatLevel?: number;
  /** Its Redis port (`--resp`), as heartbeats report it. */
  redisAddress?: string;
}

export interface FakeCoordinator {
  readonly listener: Listener;
  /** The status it answers: change them and the next answer follows. */
  members: Member[];
  asyncLost: number;
  /** The cluster's format level it answers. */
  formatLevel: number;
  /** Status requests answered so far. */
  readonly asked: { count: number };
  /** Called with each switchover asked of it (a standby's Sentinel port hands one over); none: ignored. */
  onSwitchover: ((request: SwitchoverRequest, connection: MessageConnection) => void) | null;
}

/**
 * A coordinator whose view has the member of role 'primary' as primary and the 'backup' ones as
 * backups, on `port` (0: any free one).
 */
export async function fakeCoordinator(members: Member[], port = 0): Promise<FakeCoordinator> {
  const state: Omit<FakeCoordinator, 'listener'> = {
    members,
    asyncLost: 0,
    formatLevel: FORMAT_LEVEL,
    asked: { count: 0 },
    onSwitchover: null,
  };
  const listener = await listen({
    host: '127.0.0.1',
    port,
    clusterId,
    frameSizeMaxBytes,
    onConnection: (_peer, connection) => {
      connection.onMessage = (message) => {
        if ((message as { type?: unknown }).type === 'switchover_request') {
          state.onSwitchover?.(parseSwitchoverRequest(message), connection);
          return;
        }
        const { id } = parseStatusRequest(message);
        state.asked.count += 1;
        const replicas = state.members.map(
          (member): ReplicaStatus => ({
            id: replicaId(member.id),
            address: member.address,
            role: member.role,
            alive: member.alive ?? true,
            durableIndex: logIndex(0),
            appliedIndex: logIndex(0),
            commitIndex: logIndex(0),
            problem: null,
            transfer: member.transfer ?? null,
            snapshotIndex: logIndex(member.snapshotIndex ?? 0),
            sessions: member.sessions ?? 0,
            formatLevel: member.formatLevel ?? FORMAT_LEVEL,
            redisAddress: member.redisAddress ?? null,
          }),
        );
        const primary = state.members.find((member) => member.role === 'primary');
        const view =
          primary === undefined
            ? null
            : {
                number: viewNumber(1),
                primary: replicaId(primary.id),
                backups: state.members
                  .filter((member) => member.role === 'backup')
                  .map((member) => replicaId(member.id)),
                learners: state.members
                  .filter((member) => member.role === 'learner')
                  .map((member) => replicaId(member.id)),
              };
        connection.send({
          type: 'status_reply',
          id,
          view,
          replicas,
          problem: null,
          asyncLost: state.asyncLost,
          promotionsWithoutHolders: 0,
          formatLevel: state.formatLevel,
          service: null,
        } satisfies StatusReply);
      };
    },
  });
  return Object.assign(state, { listener });
}
