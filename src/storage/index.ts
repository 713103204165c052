// The storage layer: the write-ahead log, its segment files and its on-disk record format.

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
  type SegmentHeader,
  type SegmentRecovery,
  type SegmentRecoveryOptions,
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
