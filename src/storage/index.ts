// The storage layer: the write-ahead log, its segment files and its on-disk record format; snapshots
// and state transfer files; and the recovery of a replica's whole data directory at start.

export { directoryIdentity, renewDirectoryIdentity } from './directory-identity.js';
export { claimDirectoryForService } from './directory-service.js';
export { type FreeSpaceReader, logHeadroomBytes, NoRoomError, noRoomMessageStart } from './free-space.js';
export type { CorruptionHandling, LogCorruption } from './log-recovery.js';
export {
  type DecodedRecord,
  decodeRecord,
  encodeEntryRecord,
  encodeSyncMarker,
  entryRecordBytes,
  syncMarkerRecordBytes,
} from './record.js';
export {
  openReplicaDirectory,
  type ReplicaDirectory,
  type ReplicaLogOptions,
} from './replica-directory.js';
export {
  encodeBatch,
  encodeSegmentHeader,
  logFormatVersion,
  recoverSegment,
  type SegmentCorruption,
  type SegmentHeader,
  type SegmentRecovery,
  type SegmentRecoveryOptions,
  salvageSegment,
  segmentHeaderBytes,
} from './segment.js';
export {
  decodeSnapshotFile,
  encodeSnapshotFile,
  parseSnapshotFileName,
  SnapshotDamagedError,
  snapshotFileName,
  snapshotFormatVersion,
} from './snapshot-file.js';
export {
  type DamagedSnapshot,
  keptSnapshotsMax,
  type LoadedSnapshot,
  SnapshotGoneError,
  SnapshotStore,
  type SnapshotStoreOpening,
} from './snapshot-store.js';
export {
  SnapshotTransferError,
  type TransferProgress,
  transferChunkBytes,
  transferInDirectory,
  transferSyncIntervalBytes,
} from './snapshot-transfer.js';
export {
  type LogOptions,
  type RecoveredLog,
  segmentSizeBytesDefault,
  segmentSizeMaxBytes,
  syncMarkerIdleMsDefault,
  WriteAheadLog,
} from './write-ahead-log.js';
