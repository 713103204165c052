// An in-process link: two connected byte streams that behave, for a MessageConnection, like the two
// ends of a TCP connection, but hand each written buffer to the other end in memory. A replica's
// Redis port reaches the replica it runs in through one (when that replica is the primary) instead
// of dialling its own port over loopback TCP: the same frames, handshake, token check and server
// code, without a socket write and read, and the kernel's TCP path, on each request and reply.
//
// Invariants, as a socket keeps them: what one end writes arrives at the other in order, each
// buffer in a later microtask than its write (never inside `write`, so neither side runs inside the
// other's call); nothing arrives after either end closed; a paused end holds what arrives and hands
// it over, in order, when resumed; `end` closes both ends once everything written before it has been
// handed over, `destroy` closes both at once; each end emits 'close' once.

import { EventEmitter } from 'node:events';
import { transportCounters } from './counters.js';

/** What a MessageConnection needs of its byte stream: a TCP or TLS socket, or a LocalStream. */
export interface ByteStream {
  setNoDelay(noDelay?: boolean): unknown;
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  /** Bytes written and not yet taken by the other side. */
  readonly writableLength: number;
  write(chunk: Uint8Array): boolean;
  pause(): unknown;
  resume(): unknown;
  end(): unknown;
  destroy(): unknown;
  /** Emits 'timeout' (and calls `onTimeout`) once nothing was read or written for `idleMs`. */
  setTimeout(idleMs: number, onTimeout?: () => void): unknown;
}

/** Where code running inside a replica's process may reach that replica without a socket. */
export interface LocalLink {
  /** The replica's address as views list it: a dial of exactly this address takes the link. */
  readonly address: string;
  /** A new stream whose other end the replica's listener serves like an accepted socket. */
  connect(): ByteStream;
}

export class LocalStream extends EventEmitter implements ByteStream {
  private other: LocalStream | null = null;
  private paused = false;
  private readonly held: Buffer[] = [];
  private heldBytes = 0;
  private closed = false;
  private ended = false;
  /** The other end ended while this one still held data: close once it is handed over. */
  private endPending = false;
  private idleTimer: NodeJS.Timeout | null = null;

  /** Two connected ends. */
  static pair(): [LocalStream, LocalStream] {
    const near = new LocalStream();
    const far = new LocalStream();
    near.other = far;
    far.other = near;
    transportCounters.localLinksOpen += 1;
    return [near, far];
  }

  private constructor() {
    super();
  }

  get writableLength(): number {
    return this.other?.heldBytes ?? 0;
  }

  setNoDelay(): this {
    return this;
  }

  write(chunk: Uint8Array): boolean {
    const other = this.other;
    if (this.closed || this.ended || other === null) return false;
    this.idleTimer?.refresh();
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    queueMicrotask(() => other.arrive(buffer));
    return true;
  }

  pause(): this {
    this.paused = true;
    return this;
  }

  resume(): this {
    if (!this.paused) return this;
    this.paused = false;
    // Later, as a socket's resume is: the caller may be inside its own 'data' handler.
    queueMicrotask(() => this.release());
    return this;
  }

  end(): this {
    const other = this.other;
    if (this.closed || this.ended || other === null) return this;
    this.ended = true;
    // Behind every write already queued, so the other end receives them first.
    queueMicrotask(() => other.arriveEnd());
    return this;
  }

  destroy(): this {
    this.closeBoth();
    return this;
  }

  setTimeout(idleMs: number, onTimeout?: () => void): this {
    if (onTimeout !== undefined) this.once('timeout', onTimeout);
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    if (idleMs > 0 && !this.closed) {
      this.idleTimer = setTimeout(() => this.emit('timeout'), idleMs);
      this.idleTimer.unref();
    }
    return this;
  }

  private arrive(chunk: Buffer): void {
    if (this.closed) return;
    this.idleTimer?.refresh();
    if (this.paused || this.held.length > 0) {
      this.held.push(chunk);
      this.heldBytes += chunk.length;
      return;
    }
    this.emit('data', chunk);
  }

  private arriveEnd(): void {
    if (this.closed) return;
    if (this.paused || this.held.length > 0) this.endPending = true;
    else this.closeBoth();
  }

  private release(): void {
    while (!this.paused && !this.closed && this.held.length > 0) {
      const chunk = this.held.shift() as Buffer;
      this.heldBytes -= chunk.length;
      this.emit('data', chunk);
    }
    if (this.endPending && this.held.length === 0 && !this.paused) this.closeBoth();
  }

  private closeBoth(): void {
    if (this.closed) return;
    transportCounters.localLinksOpen -= 1;
    this.shut();
    this.other?.shut();
  }

  private shut(): void {
    if (this.closed) return;
    this.closed = true;
    this.held.length = 0;
    this.heldBytes = 0;
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    queueMicrotask(() => this.emit('close'));
  }
}
