// The dialling side: connect, send Hello, wait for Welcome. The connection is returned only once the
// listener accepted us; messages it sent right after Welcome wait until the owner sets `onMessage`.

import { connect } from 'node:net';
import { HandshakeError } from '../errors.js';
import type { Hello } from '../protocol/messages.js';
import { parseAddress } from './address.js';
import { MessageConnection } from './connection.js';
import { HANDSHAKE_TIMEOUT_MS, receiveFirst } from './handshake.js';
import { parseWelcome } from './validate.js';

export interface DialOptions {
  /** Covers the TCP connect and the handshake together. */
  readonly timeoutMs?: number;
  readonly frameSizeMaxBytes?: number;
  readonly sendBufferMaxBytes?: number;
}

/**
 * Rejects with ConfigError (bad address), ConnectionClosedError (refused or dropped), HandshakeError
 * (Welcome said no), UnavailableError (no Welcome in time) or BadFrameError (a malformed Welcome).
 */
export async function dial(
  address: string,
  hello: Hello,
  options: DialOptions = {},
): Promise<MessageConnection> {
  const { host, port } = parseAddress(address);
  const { timeoutMs = HANDSHAKE_TIMEOUT_MS, ...connectionOptions } = options;
  const connection = new MessageConnection(connect({ host, port }), connectionOptions);
  connection.send(hello);
  const welcome = await receiveFirst(connection, parseWelcome, timeoutMs).catch((error: unknown) => {
    connection.destroy();
    throw error;
  });
  if (!welcome.ok) {
    connection.destroy();
    throw new HandshakeError(`${address} refused the handshake: ${welcome.message}`);
  }
  return connection;
}
