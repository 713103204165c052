// Settings of the server processes: how long a tick lasts, the cluster id, frame limits. The
// protocol's own limits are in src/protocol/config.ts; `checkNodeConfig` states how they relate.

import { ConfigError } from '../errors.js';
import { checkConfig, defaultProtocolConfig, type ProtocolConfig } from '../protocol/config.js';
import { FRAME_SIZE_MAX_BYTES_DEFAULT } from '../transport/index.js';

export const clusterIdDefault = 'understudy';

export interface NodeConfig {
  /** Real time of one protocol tick. */
  readonly tickMs: number;
  readonly frameSizeMaxBytes: number;
  /** Delay before dialling a peer or the coordinator again after a failure. */
  readonly reconnectDelayMs: number;
  /** Messages kept for a peer while its connection is being made; beyond that they are dropped. */
  readonly peerQueueMessagesMax: number;
  /**
   * Client connections stop being read when this share of `pendingRequestsMax` is waiting, and
   * start again below the resume share: TCP then pushes back on clients instead of OVERLOADED.
   */
  readonly clientReadsPauseShare: number;
  readonly clientReadsResumeShare: number;
  /** Bytes per second a replica serves snapshot transfers at, to all learners together; 0: no limit. */
  readonly transferBytesPerSecond: number;
  readonly protocol: ProtocolConfig;
}

export const defaultNodeConfig: NodeConfig = {
  tickMs: 10,
  frameSizeMaxBytes: FRAME_SIZE_MAX_BYTES_DEFAULT,
  reconnectDelayMs: 100,
  peerQueueMessagesMax: 10_000,
  clientReadsPauseShare: 0.75,
  clientReadsResumeShare: 0.25,
  transferBytesPerSecond: 0,
  protocol: defaultProtocolConfig,
};

export function checkNodeConfig(config: NodeConfig): void {
  try {
    checkConfig(config.protocol);
  } catch (error) {
    throw new ConfigError(error instanceof Error ? error.message : String(error));
  }
  // A Prepare of `prepareBytesMax` payload plus headers must fit in one frame.
  if (config.frameSizeMaxBytes < config.protocol.prepareBytesMax * 2) {
    throw new ConfigError('frameSizeMaxBytes must be at least twice prepareBytesMax');
  }
  if (!(config.tickMs >= 1)) throw new ConfigError('tickMs must be at least 1');
  if (!(Number.isSafeInteger(config.transferBytesPerSecond) && config.transferBytesPerSecond >= 0)) {
    throw new ConfigError('transferBytesPerSecond must be a non-negative integer (0: no limit)');
  }
  if (!(config.clientReadsResumeShare < config.clientReadsPauseShare && config.clientReadsPauseShare <= 1)) {
    throw new ConfigError('clientReadsResumeShare must be below clientReadsPauseShare, which is at most 1');
  }
}
