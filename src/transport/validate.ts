// Validators for everything that arrives from the network: `unknown` in, a typed message out, or a
// BadFrameError naming the field that was wrong. Input is validated, never asserted (a peer's bug
// must not crash us). Each validator builds a fresh object of the known fields only, so extra
// fields a peer sends never reach the core.

import { BadFrameError } from '../errors.js';
import { type CommitRules, lagPolicies } from '../protocol/config.js';
import { UNREPORTED_FORMAT_LEVEL } from '../protocol/format-level.js';
import type {
  ClientReply,
  ClientRequest,
  CoordinatorToReplica,
  ForgetReply,
  ForgetRequest,
  Heartbeat,
  Hello,
  LostEntry,
  PeerKind,
  PeerMessage,
  ReplicaStatus,
  SaveClientMessage,
  SaveReply,
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
  type Address,
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
import { parseAddress } from './address.js';
import { TOKEN_CHARACTERS_MAX } from './auth.js';
import type { HelloHeader } from './handshake.js';

/** Replica ids, client ids, cluster ids and error codes. */
export const ID_BYTES_MAX = 256;
/** "host:port": a DNS name is at most 253 bytes, plus brackets, colon and port. */
export const ADDRESS_BYTES_MAX = 270;
/** Human-readable messages in Welcome and failed client replies. */
export const TEXT_BYTES_MAX = 4096;

/**
 * Checks one value; `path` names where it sits and `name` is its field or list index there (absent
 * for a whole message). The two are joined only for an error: a message's fields are checked for
 * every write, and a path string per field was most of the garbage validation left.
 */
type Check<T> = (value: unknown, path: string, name?: string | number) => T;
type Fields = <T>(name: string, check: Check<T>) => T;

function at(path: string, name: string | number | undefined): string {
  if (name === undefined) return path;
  return typeof name === 'number' ? `${path}[${name}]` : `${path}.${name}`;
}

function reject(path: string, name: string | number | undefined, expected: string, value: unknown): never {
  throw new BadFrameError(`${at(path, name)}: expected ${expected}, got ${kindOf(value)}`);
}

/** What a value is, as an error names it: msgpack's null and binary are objects to `typeof`. */
function kindOf(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Uint8Array) return 'binary';
  return typeof value;
}

/** Opens an object for field-by-field checks; each field's path names it in errors. */
function fields(value: unknown, path: string, name?: string | number): Fields {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) {
    reject(path, name, 'an object', value);
  }
  const object = value as Record<string, unknown>;
  const where = at(path, name);
  return (field, check) => check(Object.hasOwn(object, field) ? object[field] : undefined, where, field);
}

const integer: Check<number> = (value, path, name) =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
    ? value
    : reject(path, name, 'a non-negative integer', value);
/** A non-negative finite number (clocks, rates), or -1 where the field says "none". */
const time: Check<number> = (value, path, name) =>
  typeof value === 'number' && Number.isFinite(value) && (value >= 0 || value === -1)
    ? value
    : reject(path, name, 'a non-negative number or -1', value);
const boolean: Check<boolean> = (value, path, name) =>
  typeof value === 'boolean' ? value : reject(path, name, 'a boolean', value);
const binary: Check<Uint8Array> = (value, path, name) =>
  value instanceof Uint8Array ? value : reject(path, name, 'binary', value);

function text(bytesMax: number): Check<string> {
  return (value, path, name) => {
    if (typeof value !== 'string') reject(path, name, 'a string', value);
    // UTF-8 needs at least one byte per UTF-16 unit, so an over-long string fails before it is measured.
    if (value.length > bytesMax || Buffer.byteLength(value) > bytesMax) {
      throw new BadFrameError(`${at(path, name)}: longer than ${bytesMax} bytes`);
    }
    return value;
  };
}

function oneOf<const T extends string>(...options: readonly T[]): Check<T> {
  return (value, path, name) =>
    options.includes(value as T) ? (value as T) : reject(path, name, `one of ${options.join(', ')}`, value);
}

function listOf<T>(item: Check<T>): Check<T[]> {
  return (value, path, name) => {
    if (!Array.isArray(value)) reject(path, name, 'an array', value);
    const where = at(path, name);
    return value.map((element, index) => item(element, where, index));
  };
}

function nullable<T>(check: Check<T>): Check<T | null> {
  return (value, path, name) => (value === null ? null : check(value, path, name));
}

function optional<T>(check: Check<T>): Check<T | undefined> {
  return (value, path, name) => (value === undefined ? undefined : check(value, path, name));
}

/**
 * A format level (format-level.ts); absent from a build before format levels existed, which reads
 * UNREPORTED_FORMAT_LEVEL. Any positive integer is taken: a newer build may read more than this one.
 */
const formatLevel: Check<number> = (value, path, name) =>
  value === undefined
    ? UNREPORTED_FORMAT_LEVEL
    : typeof value === 'number' && Number.isSafeInteger(value) && value >= 1
      ? value
      : reject(path, name, 'a positive integer', value);

function dictionary<T>(key: Check<string>, item: Check<T>): Check<Record<string, T>> {
  return (value, path, name) => {
    fields(value, path, name);
    const where = at(path, name);
    const entries = Object.entries(value as Record<string, unknown>);
    return Object.fromEntries(
      entries.map(([field, element]) => [key(field, `${where} key`), item(element, where, field)]),
    );
  };
}

// ---- the protocol's nouns ----------------------------------------------------------------------

const idText = text(ID_BYTES_MAX);
const address = text(ADDRESS_BYTES_MAX);
const view: Check<ViewNumber> = (value, path, name) => viewNumber(integer(value, path, name));
const index: Check<LogIndex> = (value, path, name) => logIndex(integer(value, path, name));
const replica: Check<ReplicaId> = (value, path, name) => replicaId(idText(value, path, name));
/**
 * A Redis port's address, which Redis clients are told to dial: host:port or [ipv6]:port, as
 * parseAddress reads it. Absent (a build before it was reported) reads as null.
 */
const redisAddressOrNull: Check<Address | null> = (value, path, name) => {
  if (value === undefined || value === null) return null;
  const text = address(value, path, name);
  try {
    parseAddress(text);
  } catch {
    reject(path, name, 'host:port or [ipv6]:port', value);
  }
  return text;
};
const client: Check<ClientId> = (value, path, name) => clientId(idText(value, path, name));
const durability = oneOf('sync', 'replicated', 'async');
const addresses = dictionary(idText, address);

const position: Check<LogPosition> = (value, path, name) => {
  const field = fields(value, path, name);
  return { view: field('view', view), index: field('index', index) };
};

const entry: Check<Entry> = (value, path, name) => {
  const field = fields(value, path, name);
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

const snapshotInfo: Check<SnapshotInfo> = (value, path, name) => {
  const field = fields(value, path, name);
  return {
    position: field('position', position),
    sizeBytes: field('sizeBytes', integer),
    checksum: field('checksum', integer),
  };
};

const transferProgress: Check<TransferProgress> = (value, path, name) => {
  const field = fields(value, path, name);
  return {
    snapshot: field('snapshot', snapshotInfo),
    receivedBytes: field('receivedBytes', integer),
    bytesPerSecond: field('bytesPerSecond', time),
  };
};

const lostEntry: Check<LostEntry> = (value, path, name) => {
  const field = fields(value, path, name);
  return {
    view: field('view', view),
    index: field('index', index),
    clientId: field('clientId', client),
    requestNumber: field('requestNumber', integer),
  };
};

const stalenessBound: Check<StalenessBound> = (value, path, name) => {
  const field = fields(value, path, name);
  return { maxStalenessMs: field('maxStalenessMs', integer), minIndex: field('minIndex', index) };
};

const epoch: Check<Epoch> = (value, path, name) => {
  const field = fields(value, path, name);
  return { view: field('view', view), startIndex: field('startIndex', index) };
};

const viewValue: Check<View> = (value, path, name) => {
  const field = fields(value, path, name);
  return {
    number: field('number', view),
    primary: field('primary', replica),
    backups: field('backups', listOf(replica)),
    learners: field('learners', listOf(replica)),
  };
};

const service: Check<ServiceIdentity> = (value, path, name) => {
  const problem = serviceIdentityProblem(value, ID_BYTES_MAX);
  if (problem !== null) throw new BadFrameError(`${at(path, name)}: ${problem}`);
  const identity = value as ServiceIdentity;
  return { name: identity.name, version: identity.version };
};

const commitRules: Check<CommitRules> = (value, path, name) => {
  const field = fields(value, path, name);
  return { syncQuorum: field('syncQuorum', integer), lagPolicy: field('lagPolicy', oneOf(...lagPolicies)) };
};

const peerKind: Check<PeerKind> = (value, path, name) => {
  const field = fields(value, path, name);
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

const replicaStatus: Check<ReplicaStatus> = (value, path, name) => {
  const field = fields(value, path, name);
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
    formatLevel: field('formatLevel', formatLevel),
    redisAddress: field('redisAddress', redisAddressOrNull),
  };
};

// ---- messages ----------------------------------------------------------------------------------

/** Each family's type tags and composite checks, built once: validation runs for every message. */
const entryList = listOf(entry);
const epochList = listOf(epoch);
const lostEntryList = listOf(lostEntry);
const integerOrNull = nullable(integer);
const viewOrNull = nullable(viewValue);
const replicas = listOf(replica);
const transferOrNull = nullable(transferProgress);
const requestKind = oneOf('open-session', 'write', 'read', 'request-status');
const stalenessOrNull = nullable(stalenessBound);
const longText = text(TEXT_BYTES_MAX);
const replicaOrNull = nullable(replica);
const replicaStatuses = listOf(replicaStatus);
const longTextOrNull = nullable(text(TEXT_BYTES_MAX));
const serviceOrNull = nullable(service);
const credentialOrNone = optional(text(TOKEN_CHARACTERS_MAX));
const peerMessageTypes = oneOf('prepare', 'prepare_ok', 'sync', 'snapshot_offer', 'lost_report');
const transferMessageTypes = oneOf('snapshot_read', 'snapshot_chunk', 'snapshot_gone');
const coordinatorMessageTypes = oneOf('heartbeat_reply', 'view_change');
const heartbeatTypes = oneOf('heartbeat');
const clientRequestTypes = oneOf('request');
const clientReplyTypes = oneOf('reply');
const statusRequestTypes = oneOf('status_request');
const statusReplyTypes = oneOf('status_reply');
const switchoverRequestTypes = oneOf('switchover_request');
const switchoverReplyTypes = oneOf('switchover_reply');
const forgetRequestTypes = oneOf('forget_request');
const forgetReplyTypes = oneOf('forget_reply');
const saveClientTypes = oneOf('save_request', 'save_read');
const saveReplyTypes = oneOf('save_ready', 'save_chunk', 'save_refused');
const helloTypes = oneOf('hello');
const welcomeTypes = oneOf('welcome');

export function parsePeerMessage(value: unknown): PeerMessage {
  const field = fields(value, 'peer message');
  const type = field('type', peerMessageTypes);
  switch (type) {
    case 'prepare':
      return {
        type,
        view: field('view', view),
        previous: field('previous', position),
        entries: field('entries', entryList),
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
        epochs: field('epochs', epochList),
        lastIndex: field('lastIndex', index),
        formatLevel: field('formatLevel', formatLevel),
      };
    case 'snapshot_offer':
      return { type, view: field('view', view), snapshot: field('snapshot', snapshotInfo) };
    case 'lost_report':
      return { type, view: field('view', view), entries: field('entries', lostEntryList) };
  }
}

const transferTypes: ReadonlySet<unknown> = new Set(['snapshot_read', 'snapshot_chunk', 'snapshot_gone']);

/** Whether a frame from a peer replica is for the shells' snapshot transfer rather than the core. */
export function isTransferMessage(value: unknown): boolean {
  return typeof value === 'object' && value !== null && transferTypes.has((value as { type?: unknown }).type);
}

const saveTypes: ReadonlySet<unknown> = new Set(['save_request', 'save_read']);

/** Whether a frame from a client is a snapshot save's rather than a request. */
export function isSaveMessage(value: unknown): boolean {
  return typeof value === 'object' && value !== null && saveTypes.has((value as { type?: unknown }).type);
}

export function parseTransferMessage(value: unknown): TransferMessage {
  const field = fields(value, 'transfer message');
  const type = field('type', transferMessageTypes);
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
  const field = fields(value, 'coordinator message');
  const type = field('type', coordinatorMessageTypes);
  if (type === 'view_change') {
    return {
      type,
      view: field('view', viewValue),
      primaryIncarnation: field('primaryIncarnation', integerOrNull),
      addresses: field('addresses', addresses),
    };
  }
  return {
    type,
    incarnation: field('incarnation', integer),
    sequence: field('sequence', integer),
    view: field('view', viewOrNull),
    primaryIncarnation: field('primaryIncarnation', integerOrNull),
    addresses: field('addresses', addresses),
    leaseTicks: field('leaseTicks', integer),
    formatLevel: field('formatLevel', formatLevel),
  };
}

export function parseHeartbeat(value: unknown): Heartbeat {
  const field = fields(value, 'heartbeat');
  const type = field('type', heartbeatTypes);
  return {
    type,
    replicaId: field('replicaId', replica),
    incarnation: field('incarnation', integer),
    directory: field('directory', idText),
    address: field('address', address),
    sequence: field('sequence', integer),
    view: field('view', viewOrNull),
    durable: field('durable', position),
    received: field('received', position),
    commitIndex: field('commitIndex', index),
    appliedIndex: field('appliedIndex', index),
    leadReady: field('leadReady', boolean),
    coordinatorSilentTicks: field('coordinatorSilentTicks', integer),
    storageStalledTicks: field('storageStalledTicks', integer),
    syncedLearners: field('syncedLearners', replicas),
    laggingBackups: field('laggingBackups', replicas),
    transfer: field('transfer', transferOrNull),
    asyncLost: field('asyncLost', integer),
    snapshotIndex: field('snapshotIndex', index),
    sessions: field('sessions', integer),
    formatLevel: field('formatLevel', formatLevel),
    formatLevelHeld: field('formatLevelHeld', formatLevel),
    redisAddress: field('redisAddress', redisAddressOrNull),
  };
}

export function parseClientRequest(value: unknown): ClientRequest {
  const field = fields(value, 'client request');
  const type = field('type', clientRequestTypes);
  return {
    type,
    id: field('id', integer),
    kind: field('kind', requestKind),
    clientId: field('clientId', client),
    requestNumber: field('requestNumber', integer),
    durability: field('durability', durability),
    operation: field('operation', binary),
    staleness: field('staleness', stalenessOrNull),
  };
}

export function parseClientReply(value: unknown): ClientReply {
  const field = fields(value, 'client reply');
  const type = field('type', clientReplyTypes);
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
      replicas: field('replicas', replicas),
    };
  }
  return {
    type,
    id,
    ok: false,
    code: field('code', idText),
    message: field('message', longText),
    primary: field('primary', replicaOrNull),
  };
}

export function parseStatusRequest(value: unknown): StatusRequest {
  const field = fields(value, 'status request');
  const type = field('type', statusRequestTypes);
  return { type, id: field('id', integer) };
}

export function parseStatusReply(value: unknown): StatusReply {
  const field = fields(value, 'status reply');
  const type = field('type', statusReplyTypes);
  return {
    type,
    id: field('id', integer),
    view: field('view', viewOrNull),
    replicas: field('replicas', replicaStatuses),
    problem: field('problem', longTextOrNull),
    asyncLost: field('asyncLost', integer),
    promotionsWithoutHolders: field('promotionsWithoutHolders', integer),
    formatLevel: field('formatLevel', formatLevel),
    service: field('service', serviceOrNull),
  };
}

/** What a client may ask the coordinator: its status, a switchover, or to forget a replica. */
export function parseCoordinatorRequest(value: unknown): StatusRequest | SwitchoverRequest | ForgetRequest {
  const type = typeof value === 'object' && value !== null ? (value as { type?: unknown }).type : undefined;
  if (type === 'switchover_request') return parseSwitchoverRequest(value);
  if (type === 'forget_request') return parseForgetRequest(value);
  return parseStatusRequest(value);
}

export function parseForgetRequest(value: unknown): ForgetRequest {
  const field = fields(value, 'forget request');
  const type = field('type', forgetRequestTypes);
  return { type, id: field('id', integer), replica: field('replica', replica) };
}

export function parseForgetReply(value: unknown): ForgetReply {
  const field = fields(value, 'forget reply');
  const type = field('type', forgetReplyTypes);
  return { type, id: field('id', integer), ok: field('ok', boolean), message: field('message', longText) };
}

export function parseSwitchoverRequest(value: unknown): SwitchoverRequest {
  const field = fields(value, 'switchover request');
  const type = field('type', switchoverRequestTypes);
  return { type, id: field('id', integer), to: field('to', replica) };
}

export function parseSwitchoverReply(value: unknown): SwitchoverReply {
  const field = fields(value, 'switchover reply');
  const type = field('type', switchoverReplyTypes);
  return {
    type,
    id: field('id', integer),
    ok: field('ok', boolean),
    message: field('message', longText),
    view: field('view', viewOrNull),
  };
}

/** What a client may send a replica besides requests: a snapshot save and its reads. */
export function parseSaveClientMessage(value: unknown): SaveClientMessage {
  const field = fields(value, 'save message');
  const type = field('type', saveClientTypes);
  const id = field('id', integer);
  if (type === 'save_request') return { type, id };
  return {
    type,
    id,
    snapshot: field('snapshot', snapshotInfo),
    offset: field('offset', integer),
    length: field('length', integer),
  };
}

export function parseSaveReply(value: unknown): SaveReply {
  const field = fields(value, 'save reply');
  const type = field('type', saveReplyTypes);
  const id = field('id', integer);
  switch (type) {
    case 'save_ready':
      return {
        type,
        id,
        snapshot: field('snapshot', snapshotInfo),
        service: field('service', service),
        replica: field('replica', replica),
      };
    case 'save_chunk':
      return {
        type,
        id,
        offset: field('offset', integer),
        bytes: field('bytes', binary),
        checksum: field('checksum', integer),
      };
    case 'save_refused':
      return {
        type,
        id,
        code: field('code', idText),
        message: field('message', longText),
        primary: field('primary', replicaOrNull),
      };
  }
}

/** The start of a Hello of any protocol version: read before the rest, which may be shaped otherwise. */
export function parseHelloHeader(value: unknown): HelloHeader {
  const field = fields(value, 'hello');
  field('type', helloTypes);
  return { clusterId: field('clusterId', idText), protocolVersion: field('protocolVersion', integer) };
}

export function parseHello(value: unknown): Hello {
  const field = fields(value, 'hello');
  const type = field('type', helloTypes);
  return {
    type,
    clusterId: field('clusterId', idText),
    protocolVersion: field('protocolVersion', integer),
    peer: field('peer', peerKind),
    ...credentialField(field('credential', credentialOrNone)),
  };
}

function credentialField(credential: string | undefined): { credential?: string } {
  return credential === undefined ? {} : { credential };
}

export function parseWelcome(value: unknown): Welcome {
  const field = fields(value, 'welcome');
  const type = field('type', welcomeTypes);
  return {
    type,
    ok: field('ok', boolean),
    code: field('code', idText),
    message: field('message', longText),
  };
}
