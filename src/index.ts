// The package's main entry: the clients, the errors users catch, and what a custom service implements.

export {
  type Bytes,
  Client,
  type ClientOptions,
  type ReadReply,
  ReplicatedClient,
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
  HandshakeError,
  LogCorruptedError,
  OutcomeUnknownError,
  RequestRefusedError,
  UnavailableError,
  UnderstudyError,
} from './errors.js';
export type { ReplicaStatus, StatusReply } from './protocol/messages.js';
export {
  type Execution,
  ServiceError,
  type StateMachine,
  type StateMachineFactory,
} from './protocol/state-machine.js';
export type { Durability, View } from './protocol/types.js';
export { KeyValueStore } from './state-machine/index.js';
