// The package's main entry: the clients, the errors users catch, and what a custom service implements.

export {
  type Bytes,
  Client,
  type ClientOptions,
  type KvRequestStatus,
  parseRequestId,
  READ_MAX_STALENESS_MS_DEFAULT,
  type ReadFrom,
  type ReadOptions,
  type ReadReply,
  ReplicatedClient,
  type RequestStatus,
  type WriteMetadata,
  type WriteOptions,
  type WriteReply,
  type WriteResult,
} from './client/index.js';
export {
  BadFrameError,
  ConfigError,
  ConnectionClosedError,
  ErrorCode,
  formatRequestId,
  HandshakeError,
  LogCorruptedError,
  OutcomeUnknownError,
  RequestRefusedError,
  SessionExpiredError,
  UnavailableError,
  UnderstudyError,
} from './errors.js';
export type { ReplicaStatus, StatusReply, TransferProgress } from './protocol/messages.js';
export {
  type Execution,
  ServiceError,
  type StateMachine,
  type StateMachineFactory,
} from './protocol/state-machine.js';
export type { Durability, View } from './protocol/types.js';
export { KeyValueStore, type KvResult } from './state-machine/index.js';
