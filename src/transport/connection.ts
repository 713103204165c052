// A message connection over one TCP or TLS socket (or an in-process link, local-link.ts): frames out,
// decoded payloads in.
//
// Sending: everything sent during one callback (a replica's whole flush of effects, say) is framed
// into one buffer and written once, in a microtask right after it, so a replica that answers many
// requests at once pays one system call, and nothing waits for another event-loop turn to leave. A peer
// that leaves more than `sendBufferMaxBytes` unread is treated as gone: the connection closes with
// an error and the protocol retransmits after reconnecting.
//
// Receiving: payloads wait in an inbox and are handed, still `unknown`, to `onMessage` in order.
// While the owner has paused the connection or has no handler yet (between handshake and owner),
// they stay queued and the socket stops reading. Validation is the owner's: on bad input it calls
// `fail`, which counts and closes.

import { BadFrameError, ConnectionClosedError, ErrorCode, UnderstudyError } from '../errors.js';
import { decodeMessage, encodeMessage } from './codec.js';
import { countRefusal, transportCounters } from './counters.js';
import { FRAME_HEADER_BYTES, FRAME_SIZE_MAX_BYTES_DEFAULT, FrameReader } from './framing.js';
import { type ByteStream, LocalStream } from './local-link.js';

/** Unread output (ours and the socket's) beyond which the peer is treated as gone. */
export const SEND_BUFFER_MAX_BYTES_DEFAULT = 64 * 1024 * 1024;

export interface ConnectionOptions {
  readonly frameSizeMaxBytes?: number;
  readonly sendBufferMaxBytes?: number;
}

export type MessageHandler = (message: unknown) => void;
export type CloseHandler = (error?: Error) => void;

export class MessageConnection {
  /** Called once when the socket has closed; `error` is absent for an orderly close. */
  onClose: CloseHandler = () => {};

  private readonly reader: FrameReader;
  private readonly frameSizeMaxBytes: number;
  private readonly sendBufferMaxBytes: number;
  private handler: MessageHandler | null = null;
  private readonly inbox: Buffer[] = [];
  private inboxHead = 0;
  private paused = false;
  /** Whether the socket is flowing (we have not paused it). */
  private reading = true;
  private readonly outbox: Uint8Array[] = [];
  private outboxBytes = 0;
  private flushScheduled = false;
  private closing = false;
  private closeError: Error | undefined;

  constructor(
    private readonly socket: ByteStream,
    options: ConnectionOptions = {},
  ) {
    this.frameSizeMaxBytes = options.frameSizeMaxBytes ?? FRAME_SIZE_MAX_BYTES_DEFAULT;
    this.sendBufferMaxBytes = options.sendBufferMaxBytes ?? SEND_BUFFER_MAX_BYTES_DEFAULT;
    this.reader = new FrameReader(this.frameSizeMaxBytes);
    socket.setNoDelay(true);
    // A socket's connection; an in-process link counts itself (local-link.ts).
    const counted = !(socket instanceof LocalStream);
    if (counted) transportCounters.connectionsOpen += 1;
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (error) => {
      this.closeError ??= new ConnectionClosedError(`connection failed: ${error.message}`);
    });
    socket.on('close', () => {
      if (counted) transportCounters.connectionsOpen -= 1;
      this.closing = true;
      this.onClose(this.closeError);
    });
  }

  /** Receives decoded payloads; messages that arrived before a handler was set are delivered next. */
  get onMessage(): MessageHandler | null {
    return this.handler;
  }

  set onMessage(handler: MessageHandler | null) {
    this.handler = handler;
    // Deliver outside the setter so the owner finishes its own setup first.
    if (handler !== null) queueMicrotask(() => this.deliver());
  }

  get isClosed(): boolean {
    return this.closing;
  }

  send(message: object): void {
    this.sendEncoded(encodeMessage(message));
  }

  /** Sends a payload encoded once for many connections; it must not change until the next turn. */
  sendEncoded(payload: Uint8Array): void {
    if (this.closing) return; // The protocol resends after reconnecting; nothing to report here.
    this.outbox.push(payload);
    this.outboxBytes += FRAME_HEADER_BYTES + payload.length;
    if (this.outboxBytes + this.socket.writableLength > this.sendBufferMaxBytes) {
      this.overflow();
      return;
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(this.flushNow);
    }
  }

  /**
   * Writes what was sent so far now instead of in the microtask after the current callback: for a
   * caller with slower work still to do in this callback (a primary's own log write) that should not
   * hold its messages back.
   */
  sendQueuedNow(): void {
    if (this.flushScheduled) this.flush();
  }

  /** Stops handing over messages (and reading from the socket) until `resume`. */
  pause(): void {
    this.paused = true;
    this.setReading(false);
  }

  resume(): void {
    this.paused = false;
    this.deliver();
  }

  /** Closes after the peer sent bad input: counted, and the socket is dropped without flushing. */
  fail(code: string, message: string): void {
    if (this.closing) return;
    if (code === ErrorCode.badFrame) transportCounters.badFrames += 1;
    transportCounters.connectionsClosedForErrors += 1;
    this.destroy(
      code === ErrorCode.badFrame ? new BadFrameError(message) : new UnderstudyError(code, message),
    );
  }

  /**
   * Closes the connection once it has neither read nor written for `idleMs`, counting it; set once at
   * accept time. Node's socket timer does the watching, so no per-message code of ours runs for it.
   */
  closeWhenIdle(idleMs: number): void {
    this.socket.setTimeout(idleMs, () => {
      if (this.closing) return;
      countRefusal('idle_timeout');
      this.destroy(new ConnectionClosedError(`nothing sent or received for ${idleMs} ms; closing`));
    });
  }

  /** Orderly close: what was sent so far is flushed, then the socket is ended. */
  close(): void {
    if (this.closing) return;
    this.flush();
    this.closing = true;
    this.socket.end();
  }

  /** Immediate close; `error` is what `onClose` receives. */
  destroy(error?: Error): void {
    if (error !== undefined) this.closeError ??= error;
    this.closing = true;
    this.outbox.length = 0;
    this.socket.destroy();
  }

  /** `flush` bound once: a closure per message sent was garbage on every write. */
  private readonly flushNow = (): void => this.flush();

  private flush(): void {
    this.flushScheduled = false;
    if (this.closing || this.outbox.length === 0) return;
    const output = Buffer.allocUnsafe(this.outboxBytes);
    let offset = 0;
    for (const payload of this.outbox) {
      output.writeUInt32BE(payload.length, offset);
      output.set(payload, offset + FRAME_HEADER_BYTES);
      offset += FRAME_HEADER_BYTES + payload.length;
    }
    this.outbox.length = 0;
    this.outboxBytes = 0;
    this.socket.write(output);
    if (this.socket.writableLength > this.sendBufferMaxBytes) this.overflow();
  }

  private overflow(): void {
    transportCounters.sendBufferOverflows += 1;
    transportCounters.connectionsClosedForErrors += 1;
    this.destroy(
      new ConnectionClosedError(`peer left more than ${this.sendBufferMaxBytes} bytes unread; closing`),
    );
  }

  private receive(chunk: Buffer): void {
    try {
      this.reader.push(chunk, this.inbox);
    } catch (error) {
      this.fail(ErrorCode.badFrame, error instanceof Error ? error.message : String(error));
      return;
    }
    this.deliver();
  }

  private deliver(): void {
    while (this.inboxHead < this.inbox.length && this.handler !== null && !this.paused && !this.closing) {
      const payload = this.inbox[this.inboxHead] as Buffer;
      this.inboxHead += 1;
      let message: unknown;
      try {
        message = decodeMessage(payload);
      } catch (error) {
        this.fail(ErrorCode.badFrame, error instanceof Error ? error.message : String(error));
        return;
      }
      this.handler(message);
    }
    if (this.inboxHead === this.inbox.length) {
      this.inbox.length = 0;
      this.inboxHead = 0;
    }
    // Read more only once everything received so far has been handed over.
    if (this.closing) return;
    this.setReading(this.inbox.length === 0 && !this.paused);
  }

  /**
   * Only on a change: resume() on a flowing socket is not free (it schedules a read on the next
   * tick), and this runs after every chunk received.
   */
  private setReading(reading: boolean): void {
    if (reading === this.reading) return;
    this.reading = reading;
    if (reading) this.socket.resume();
    else this.socket.pause();
  }
}
