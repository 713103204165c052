// The storage layer: the write-ahead log, its segment files and its on-disk record format.

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
  type LogOptions,
  type RecoveredLog,
  segmentSizeBytesDefault,
  segmentSizeMaxBytes,
  syncMarkerIdleMsDefault,
  WriteAheadLog,
} from './write-ahead-log.js';
