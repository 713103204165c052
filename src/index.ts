// The package's main entry: the clients, the errors users catch, what a custom service implements,
// and the servers that run one in-process (the `understudy` command runs the same classes).

export {
  type Bytes,
  Client,
  type ClientOptions,
  type ExecuteResult,
  type ExpireOptions,
  type GetExpireOptions,
  type KvRequestStatus,
  type LocalLink,
  parseRequestId,
  READ_MAX_STALENESS_MS_DEFAULT,
  type ReadFrom,
  type ReadOptions,
  type ReadReply,
  ReplicatedClient,
  type RequestStatus,
  type SequenceOptions,
  type SequenceResult,
  type SetOptions,
  type TlsMaterial,
  type TtlResult,
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
  NotLeaderError,
  OutcomeUnknownError,
  RequestRefusedError,
  SessionExpiredError,
  UnavailableError,
  UnderstudyError,
} from './errors.js';
export { defaultNodeConfig, type NodeConfig } from './node/config.js';
export {
  CoordinatorServer,
  type CoordinatorServerOptions,
  type EtcdHomeOptions,
} from './node/coordinator-server.js';
export {
  ReplicaServer,
  type ReplicaServerBaseOptions,
  type ReplicaServerOptions,
  type ReplicaServiceOptions,
} from './node/replica-server.js';
export type { ServiceModule } from './node/service-module.js';
export type { ProtocolConfig } from './protocol/config.js';
export type { ReplicaStatus, StatusReply, TransferProgress } from './protocol/messages.js';
export type { ServiceIdentity } from './protocol/service-identity.js';
export {
  type Execution,
  encodedSnapshot,
  isServiceError,
  ServiceError,
  type SnapshotEncoding,
  type StateMachine,
  type StateMachineFactory,
  type StateSize,
} from './protocol/state-machine.js';
export type { Durability, View } from './protocol/types.js';
export {
  type ExpireCondition,
  type Expiry,
  KeyValueStore,
  type KvOperation,
  type KvOutcome,
  type KvResult,
  keyValueService,
  kvOperation,
} from './state-machine/index.js';
