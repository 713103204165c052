// The storage layer: the write-ahead log and its on-disk record format.

export { type DecodedRecord, decodeRecord, encodeRecord } from './record.js';
export {
  type LogOptions,
  type RecoveredLog,
  segmentSizeBytesDefault,
  segmentSizeMaxBytes,
  WriteAheadLog,
} from './write-ahead-log.js';
