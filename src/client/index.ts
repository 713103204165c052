// The client library: the generic replicated client and the key/value client built on it.

export type { LocalLink, TlsMaterial } from '../transport/index.js';
export {
  type Bytes,
  Client,
  type ExecuteResult,
  type ExpireOptions,
  type GetExpireOptions,
  type KvRequestStatus,
  type SequenceOptions,
  type SequenceResult,
  type SetOptions,
  type TtlResult,
  type WriteMetadata,
  type WriteResult,
} from './kv-client.js';
export {
  ATTEMPT_TIMEOUT_MS_DEFAULT,
  CLUSTER_ID_DEFAULT,
  type ClientOptions,
  DEADLINE_MS_DEFAULT,
  parseRequestId,
  READ_MAX_STALENESS_MS_DEFAULT,
  RETRY_BACKOFF_MAX_MS,
  RETRY_BACKOFF_MIN_MS,
  type ReadFrom,
  type ReadOptions,
  type ReadReply,
  ReplicatedClient,
  type RequestStatus,
  SAVE_DEADLINE_MS_DEFAULT,
  type SaveSnapshotOptions,
  type SnapshotSaveSink,
  type WriteOptions,
  type WriteReply,
} from './replicated-client.js';
export { type SavedSnapshotSummary, saveSnapshotToFile } from './save-snapshot.js';
