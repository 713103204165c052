// Validators for everything that arrives from the network: `unknown` in, a typed message out, or a
// BadFrameError naming the field that was wrong. Input is validated, never asserted (a peer's bug
// must not crash us). Each validator builds a fresh object of the known fields only, so extra
// fields a peer sends never reach the core.

import { BadFrameError } from '../errors.js';
import { type CommitRules, lagPolicies } from '../protocol/config.js';
import type {
  ClientReply,
  ClientRequest,
  CoordinatorToReplica,
  Heartbeat,
  Hello,
  LostEntry,
  PeerKind,
  PeerMessage,
  ReplicaStatus,
  StalenessBound,
  StatusReply,
  StatusRequest,
  SwitchoverReply,
  SwitchoverRequest,
  TransferMessage,
  TransferProgress,
  Welcome,
} from '../protocol/messages.js';
import { type ServiceIdentity, serviceIdentityProblem } from '../protocol/service-identity.js';
import {
  type ClientId,
  clientId,
  type Entry,
  type Epoch,
  type LogIndex,
  type LogPosition,
  logIndex,
  type ReplicaId,
  replicaId,
  type SnapshotInfo,
  type View,
  type ViewNumber,
  viewNumber,
} from '../protocol/types.js';
import { TOKEN_CHARACTERS_MAX } from './auth.js';
import type { HelloHeader } from './handshake.js';

/** Replica ids, client ids, cluster ids and error codes. */
export const ID_BYTES_MAX = 256;
/** "host:port": a DNS name is at most 253 bytes, plus brackets, colon and port. */
export const ADDRESS_BYTES_MAX = 270;
/** Human-readable messages in Welcome and failed client replies. */
export const TEXT_BYTES_MAX = 4096;

type Check<T> = (value: unknown, path: string) => T;
type Fields = <T>(name: string, check: Check<T>) => T;

function reject(path: string, expected: string, value: unknown): never {
  const found = value === undefined ? 'nothing' : Array.isArray(value) ? 'an array' : typeof value;
  throw new BadFrameError(`${path}: expected ${expected}, got ${found}`);
}

/** Opens an object for field-by-field checks; each field's path names it in errors. */
function fields(value: unknown, path: string): Fields {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) {
    reject(path, 'an object', value);
  }
  const object = value as Record<string, unknown>;
  return (name, check) => check(Object.hasOwn(object, name) ? object[name] : undefined, `${path}.${name}`);
}

const integer: Check<number> = (value, path) =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
    ? value
    : reject(path, 'a non-negative integer', value);
/** A non-negative finite number (clocks, rates), or -1 where the field says "none". */
const time: Check<number> = (value, path) =>
  typeof value === 'number' && Number.isFinite(value) && (value >= 0 || value === -1)
    ? value
    : reject(path, 'a non-negative number or -1', value);
const boolean: Check<boolean> = (value, path) =>
  typeof value === 'boolean' ? value : reject(path, 'a boolean', value);
const binary: Check<Uint8Array> = (value, path) =>
  value instanceof Uint8Array ? value : reject(path, 'binary', value);

function text(bytesMax: number): Check<string> {
  return (value, path) => {
    if (typeof value !== 'string') reject(path, 'a string', value);
    // UTF-8 needs at least one byte per UTF-16 unit, so an over-long string fails before it is measured.
    if (value.length > bytesMax || Buffer.byteLength(value) > bytesMax) {
      throw new BadFrameError(`${path}: longer than ${bytesMax} bytes`);
    }
    return value;
  };
}

function oneOf<const T extends string>(...options: readonly T[]): Check<T> {
  return (value, path) =>
    options.includes(value as T) ? (value as T) : reject(path, `one of ${options.join(', ')}`, value);
}

function listOf<T>(item: Check<T>): Check<T[]> {
  return (value, path) => {
    if (!Array.isArray(value)) reject(path, 'an array', value);
    return value.map((element, index) => item(element, `${path}[${index}]`));
  };
}

function nullable<T>(check: Check<T>): Check<T | null> {
  return (value, path) => (value === null ? null : check(value, path));
}

function optional<T>(check: Check<T>): Check<T | undefined> {
  return (value, path) => (value === undefined ? undefined : check(value, path));
}

function dictionary<T>(key: Check<string>, item: Check<T>): Check<Record<string, T>> {
  return (value, path) => {
    fields(value, path);
    const entries = Object.entries(value as Record<string, unknown>);
    return Object.fromEntries(
      entries.map(([name, element]) => [key(name, `${path} key`), item(element, `${path}.${name}`)]),
    );
  };
}

// ---- the protocol's nouns ----------------------------------------------------------------------

const idText = text(ID_BYTES_MAX);
const address = text(ADDRESS_BYTES_MAX);
const view: Check<ViewNumber> = (value, path) => viewNumber(integer(value, path));
const index: Check<LogIndex> = (value, path) => logIndex(integer(value, path));
const replica: Check<ReplicaId> = (value, path) => replicaId(idText(value, path));
const client: Check<ClientId> = (value, path) => clientId(idText(value, path));
const durability = oneOf('sync', 'replicated', 'async');
const addresses = dictionary(idText, address);

const position: Check<LogPosition> = (value, path) => {
  const field = fields(value, path);
  return { view: field('view', view), index: field('index', index) };
};

const entry: Check<Entry> = (value, path) => {
  const field = fields(value, path);
  return {
    view: field('view', view),
    index: field('index', index),
    clientId: field('clientId', client),
    requestNumber: field('requestNumber', integer),
    durability: field('durability', durability),
    refused: field('refused', boolean),
    update: field('update', binary),
    result: field('result', binary),
  };
};

const snapshotInfo: Check<SnapshotInfo> = (value, path) => {
  const field = fields(value, path);
  return {
    position: field('position', position),
    sizeBytes: field('sizeBytes', integer),
    checksum: field('checksum', integer),
  };
};

const transferProgress: Check<TransferProgress> = (value, path) => {
  const field = fields(value, path);
  return {
    snapshot: field('snapshot', snapshotInfo),
    receivedBytes: field('receivedBytes', integer),
    bytesPerSecond: field('bytesPerSecond', time),
  };
};

const lostEntry: Check<LostEntry> = (value, path) => {
  const field = fields(value, path);
  return {
    view: field('view', view),
    index: field('index', index),
    clientId: field('clientId', client),
    requestNumber: field('requestNumber', integer),
  };
};

const stalenessBound: Check<StalenessBound> = (value, path) => {
  const field = fields(value, path);
  return { maxStalenessMs: field('maxStalenessMs', integer), minIndex: field('minIndex', index) };
};

const epoch: Check<Epoch> = (value, path) => {
  const field = fields(value, path);
  return { view: field('view', view), startIndex: field('startIndex', index) };
};

const viewValue: Check<View> = (value, path) => {
  const field = fields(value, path);
  return {
    number: field('number', view),
    primary: field('primary', replica),
    backups: field('backups', listOf(replica)),
    learners: field('learners', listOf(replica)),
  };
};

const service: Check<ServiceIdentity> = (value, path) => {
  const problem = serviceIdentityProblem(value, ID_BYTES_MAX);
  if (problem !== null) throw new BadFrameError(`${path}: ${problem}`);
  const { name, version } = value as ServiceIdentity;
  return { name, version };
};

const commitRules: Check<CommitRules> = (value, path) => {
  const field = fields(value, path);
  return { syncQuorum: field('syncQuorum', integer), lagPolicy: field('lagPolicy', oneOf(...lagPolicies)) };
};

const peerKind: Check<PeerKind> = (value, path) => {
  const field = fields(value, path);
  const kind = field('kind', oneOf('client', 'replica', 'coordinator'));
  return kind === 'replica'
    ? {
        kind,
        id: field('id', replica),
        service: field('service', service),
        rules: field('rules', commitRules),
      }
    : { kind };
};

const replicaStatus: Check<ReplicaStatus> = (value, path) => {
  const field = fields(value, path);
  return {
    id: field('id', replica),
    address: field('address', address),
    role: field('role', oneOf('primary', 'backup', 'learner', 'none')),
    alive: field('alive', boolean),
    durableIndex: field('durableIndex', index),
    appliedIndex: field('appliedIndex', index),
    commitIndex: field('commitIndex', index),
    problem: field('problem', nullable(text(TEXT_BYTES_MAX))),
    transfer: field('transfer', nullable(transferProgress)),
    snapshotIndex: field('snapshotIndex', index),
    sessions: field('sessions', integer),
  };
};

// ---- messages ----------------------------------------------------------------------------------

/** Opens a message and checks its type tag against the family's. */
function message<const T extends string>(value: unknown, family: string, ...types: T[]): [Fields, T] {
  const field = fields(value, family);
  return [field, field('type', oneOf(...types))];
}

export function parsePeerMessage(value: unknown): PeerMessage {
  const [field, type] = message(
    value,
    'peer message',
    'prepare',
    'prepare_ok',
    'sync',
    'snapshot_offer',
    'lost_report',
  );
  switch (type) {
    case 'prepare':
      return {
        type,
        view: field('view', view),
        previous: field('previous', position),
        entries: field('entries', listOf(entry)),
        commitIndex: field('commitIndex', index),
        echo: field('echo', time),
      };
    case 'prepare_ok':
      return {
        type,
        view: field('view', view),
        index: field('index', index),
        received: field('received', index),
        time: field('time', time),
      };
    case 'sync':
      return {
        type,
        view: field('view', view),
        base: field('base', position),
        epochs: field('epochs', listOf(epoch)),
        lastIndex: field('lastIndex', index),
      };
    case 'snapshot_offer':
      return { type, view: field('view', view), snapshot: field('snapshot', snapshotInfo) };
    case 'lost_report':
      return { type, view: field('view', view), entries: field('entries', listOf(lostEntry)) };
  }
}

const transferTypes: ReadonlySet<unknown> = new Set(['snapshot_read', 'snapshot_chunk', 'snapshot_gone']);

/** Whether a frame from a peer replica is for the shells' snapshot transfer rather than the core. */
export function isTransferMessage(value: unknown): boolean {
  return typeof value === 'object' && value !== null && transferTypes.has((value as { type?: unknown }).type);
}

export function parseTransferMessage(value: unknown): TransferMessage {
  const [field, type] = message(
    value,
    'transfer message',
    'snapshot_read',
    'snapshot_chunk',
    'snapshot_gone',
  );
  switch (type) {
    case 'snapshot_read':
      return {
        type,
        snapshot: field('snapshot', snapshotInfo),
        offset: field('offset', integer),
        length: field('length', integer),
      };
    case 'snapshot_chunk':
      return {
        type,
        snapshot: field('snapshot', snapshotInfo),
        offset: field('offset', integer),
        bytes: field('bytes', binary),
        checksum: field('checksum', integer),
      };
    case 'snapshot_gone':
      return { type, snapshot: field('snapshot', snapshotInfo) };
  }
}

export function parseCoordinatorToReplica(value: unknown): CoordinatorToReplica {
  const [field, type] = message(value, 'coordinator message', 'heartbeat_reply', 'view_change');
  if (type === 'view_change') {
    return {
      type,
      view: field('view', viewValue),
      primaryIncarnation: field('primaryIncarnation', nullable(integer)),
      addresses: field('addresses', addresses),
    };
  }
  return {
    type,
    incarnation: field('incarnation', integer),
    sequence: field('sequence', integer),
    view: field('view', nullable(viewValue)),
    primaryIncarnation: field('primaryIncarnation', nullable(integer)),
    addresses: field('addresses', addresses),
    leaseTicks: field('leaseTicks', integer),
  };
}

export function parseHeartbeat(value: unknown): Heartbeat {
  const [field, type] = message(value, 'heartbeat', 'heartbeat');
  return {
    type,
    replicaId: field('replicaId', replica),
    incarnation: field('incarnation', integer),
    directory: field('directory', idText),
    address: field('address', address),
    sequence: field('sequence', integer),
    view: field('view', nullable(viewValue)),
    durable: field('durable', position),
    received: field('received', position),
    commitIndex: field('commitIndex', index),
    appliedIndex: field('appliedIndex', index),
    leadReady: field('leadReady', boolean),
    coordinatorSilentTicks: field('coordinatorSilentTicks', integer),
    storageStalledTicks: field('storageStalledTicks', integer),
    syncedLearners: field('syncedLearners', listOf(replica)),
    laggingBackups: field('laggingBackups', listOf(replica)),
    transfer: field('transfer', nullable(transferProgress)),
    asyncLost: field('asyncLost', integer),
    snapshotIndex: field('snapshotIndex', index),
    sessions: field('sessions', integer),
  };
}

export function parseClientRequest(value: unknown): ClientRequest {
  const [field, type] = message(value, 'client request', 'request');
  return {
    type,
    id: field('id', integer),
    kind: field('kind', oneOf('open-session', 'write', 'read', 'request-status')),
    clientId: field('clientId', client),
    requestNumber: field('requestNumber', integer),
    durability: field('durability', durability),
    operation: field('operation', binary),
    staleness: field('staleness', nullable(stalenessBound)),
  };
}

export function parseClientReply(value: unknown): ClientReply {
  const [field, type] = message(value, 'client reply', 'reply');
  const id = field('id', integer);
  if (field('ok', boolean)) {
    return {
      type,
      id,
      ok: true,
      result: field('result', binary),
      view: field('view', view),
      index: field('index', index),
      durability: field('durability', durability),
      replicas: field('replicas', listOf(replica)),
    };
  }
  return {
    type,
    id,
    ok: false,
    code: field('code', idText),
    message: field('message', text(TEXT_BYTES_MAX)),
    primary: field('primary', nullable(replica)),
  };
}

export function parseStatusRequest(value: unknown): StatusRequest {
  const [field, type] = message(value, 'status request', 'status_request');
  return { type, id: field('id', integer) };
}

export function parseStatusReply(value: unknown): StatusReply {
  const [field, type] = message(value, 'status reply', 'status_reply');
  return {
    type,
    id: field('id', integer),
    view: field('view', nullable(viewValue)),
    replicas: field('replicas', listOf(replicaStatus)),
    problem: field('problem', nullable(text(TEXT_BYTES_MAX))),
    asyncLost: field('asyncLost', integer),
    promotionsWithoutHolders: field('promotionsWithoutHolders', integer),
    service: field('service', nullable(service)),
  };
}

/** What a client may ask the coordinator: its status, or a switchover. */
export function parseCoordinatorRequest(value: unknown): StatusRequest | SwitchoverRequest {
  const type = typeof value === 'object' && value !== null ? (value as { type?: unknown }).type : undefined;
  return type === 'switchover_request' ? parseSwitchoverRequest(value) : parseStatusRequest(value);
}

export function parseSwitchoverRequest(value: unknown): SwitchoverRequest {
  const [field, type] = message(value, 'switchover request', 'switchover_request');
  return { type, id: field('id', integer), to: field('to', replica) };
}

export function parseSwitchoverReply(value: unknown): SwitchoverReply {
  const [field, type] = message(value, 'switchover reply', 'switchover_reply');
  return {
    type,
    id: field('id', integer),
    ok: field('ok', boolean),
    message: field('message', text(TEXT_BYTES_MAX)),
    view: field('view', nullable(viewValue)),
  };
}

/** The start of a Hello of any protocol version: read before the rest, which may be shaped otherwise. */
export function parseHelloHeader(value: unknown): HelloHeader {
  const [field] = message(value, 'hello', 'hello');
  return { clusterId: field('clusterId', idText), protocolVersion: field('protocolVersion', integer) };
}

export function parseHello(value: unknown): Hello {
  const [field, type] = message(value, 'hello', 'hello');
  return {
    type,
    clusterId: field('clusterId', idText),
    protocolVersion: field('protocolVersion', integer),
    peer: field('peer', peerKind),
    ...credentialField(field('credential', optional(text(TOKEN_CHARACTERS_MAX)))),
  };
}

function credentialField(credential: string | undefined): { credential?: string } {
  return credential === undefined ? {} : { credential };
}

export function parseWelcome(value: unknown): Welcome {
  const [field, type] = message(value, 'welcome', 'welcome');
  return {
    type,
    ok: field('ok', boolean),
    code: field('code', idText),
    message: field('message', text(TEXT_BYTES_MAX)),
  };
}
