// A fault-injecting TCP proxy in front of one server (the coordinator or one replica) for chaos runs
// against real processes. It is frame-aware: it reads the first frame of each inbound connection
// (the Hello) to learn who dialled, then forwards whole frames each way and injects faults that can
// be switched at run time:
//   partition — connections from a blocked source are cut, and new ones closed right after Hello;
//   one-way   — frames from a source to the target, or from the target back to a source, are
//               dropped while the connection stays open: a link that works in one direction only
//               (a replica's heartbeats reach the coordinator but its replies do not come back);
//   loss      — each frame is dropped with a probability;
//   delay     — each frame is held for a random time, never overtaking the frame before it.
// Invariants: a frame is forwarded whole or not at all, in order per direction; the first frame
// each way (Hello, Welcome) is never dropped or held, so a handshake only fails by partition; a
// frame over the size limit, or a first frame that is no Hello, closes the connection; at most
// `bufferedBytesMax` bytes wait per direction before the side that sends them is no longer read.

import { connect, createServer, type Server, type Socket } from 'node:net';
import type { Random } from '../sim/random.js';
import {
  decodeMessage,
  FRAME_SIZE_MAX_BYTES_DEFAULT,
  FrameReader,
  formatAddress,
  frame,
  HANDSHAKE_TIMEOUT_MS,
  parseAddress,
  parseHello,
} from '../transport/index.js';

export const PROXY_HOST_DEFAULT = '127.0.0.1';
/** Bytes that may wait in one direction (held frames plus the socket's unsent output). */
export const PROXY_BUFFERED_BYTES_MAX_DEFAULT = 32 * 1024 * 1024;
/** How long a connection whose other side has closed may take to flush before it is destroyed. */
export const PROXY_CLOSE_LINGER_MS = 1000;
/** How long an inbound connection may take to send its Hello. */
export const PROXY_HELLO_TIMEOUT_MS = HANDSHAKE_TIMEOUT_MS;

/** Who dialled: 'client', 'coordinator' or a replica id (from the Hello). */
export type SourceName = string;

export interface ProxyOptions {
  /** The target's name as sources call it: 'coordinator' or a replica id. */
  readonly name: string;
  /** Draws loss and delay; seeded so a run's fault pattern can be replayed. */
  readonly random: Random;
  readonly host?: string;
  /** host:port of the server behind the proxy; null until it is known (see setTarget). */
  readonly target?: string | null;
  readonly frameSizeMaxBytes?: number;
  readonly bufferedBytesMax?: number;
}

export interface ProxyCounters {
  connectionsAccepted: number;
  /** Closed right after their Hello because the source is blocked. */
  connectionsRefused: number;
  /** Open connections destroyed when their source became blocked. */
  connectionsCut: number;
  framesForwarded: number;
  framesDropped: number;
  /** Frames dropped by a one-way cut. */
  framesCutOneWay: number;
  /** Connections closed for an oversized frame or a first frame that is no Hello. */
  badFrames: number;
}

/** Which way a frame travels through the proxy. */
export type FrameDirection = 'toTarget' | 'toSource';

export interface OneWayCuts {
  /** Sources whose frames to the target are dropped. */
  readonly toTarget: Iterable<SourceName>;
  /** Sources to which the target's frames are dropped. */
  readonly toSource: Iterable<SourceName>;
}

export interface ProxyFaults {
  blocked: ReadonlySet<SourceName>;
  cutToTarget: ReadonlySet<SourceName>;
  cutToSource: ReadonlySet<SourceName>;
  lossProbability: number;
  delayMinMs: number;
  delayMaxMs: number;
}

const noFaults = (): ProxyFaults => ({
  blocked: new Set(),
  cutToTarget: new Set(),
  cutToSource: new Set(),
  lossProbability: 0,
  delayMinMs: 0,
  delayMaxMs: 0,
});

export class FaultProxy {
  readonly counters: ProxyCounters = {
    connectionsAccepted: 0,
    connectionsRefused: 0,
    connectionsCut: 0,
    framesForwarded: 0,
    framesDropped: 0,
    framesCutOneWay: 0,
    badFrames: 0,
  };
  private currentFaults: ProxyFaults = noFaults();
  /** @internal */
  readonly frameSizeMaxBytes: number;
  /** @internal */
  readonly bufferedBytesMax: number;
  private readonly connections = new Set<ProxiedConnection>();
  private targetAddress: string | null;

  private constructor(
    readonly name: string,
    readonly address: string,
    readonly random: Random,
    private readonly server: Server,
    options: ProxyOptions,
  ) {
    this.targetAddress = options.target ?? null;
    this.frameSizeMaxBytes = options.frameSizeMaxBytes ?? FRAME_SIZE_MAX_BYTES_DEFAULT;
    this.bufferedBytesMax = options.bufferedBytesMax ?? PROXY_BUFFERED_BYTES_MAX_DEFAULT;
    server.on('connection', (socket: Socket) => {
      this.counters.connectionsAccepted += 1;
      const connection = new ProxiedConnection(this, socket, () => this.connections.delete(connection));
      this.connections.add(connection);
    });
  }

  /** Listens on a port the OS picks; `address` tells which. */
  static async start(options: ProxyOptions): Promise<FaultProxy> {
    const host = options.host ?? PROXY_HOST_DEFAULT;
    const server = createServer({ allowHalfOpen: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const bound = server.address();
    if (typeof bound !== 'object' || bound === null) throw new Error('proxy: no bound address');
    return new FaultProxy(options.name, formatAddress(host, bound.port), options.random, server, options);
  }

  /** The faults in force now; connections read them per frame. */
  get faults(): Readonly<ProxyFaults> {
    return this.currentFaults;
  }

  get target(): string | null {
    return this.targetAddress;
  }

  /** Where new connections go (a restarted server listens elsewhere); open ones are left alone. */
  setTarget(address: string | null): void {
    if (address !== null) parseAddress(address);
    this.targetAddress = address;
  }

  /** Sources whose connections to this target are refused; open connections from them are cut. */
  block(sources: Iterable<SourceName>): void {
    this.currentFaults = { ...this.currentFaults, blocked: new Set(sources) };
    for (const connection of this.connections) {
      if (connection.source !== null && this.faults.blocked.has(connection.source)) {
        this.counters.connectionsCut += 1;
        connection.destroy();
      }
    }
  }

  /**
   * Replaces the one-way cuts: after the handshake, frames one way between a source and the target
   * are dropped; the connection stays open, so the other way keeps working.
   */
  setOneWayCuts(cuts: OneWayCuts): void {
    this.currentFaults = {
      ...this.currentFaults,
      cutToTarget: new Set(cuts.toTarget),
      cutToSource: new Set(cuts.toSource),
    };
  }

  /** Drops each frame after the first of each direction with `probability`. */
  setLoss(probability: number): void {
    if (!(probability >= 0 && probability <= 1)) throw new RangeError(`loss ${probability} is not in [0, 1]`);
    this.currentFaults = { ...this.currentFaults, lossProbability: probability };
  }

  /** Holds each frame after the first of each direction for a random time in [minMs, maxMs]. */
  setDelay(minMs: number, maxMs: number): void {
    if (!(minMs >= 0 && maxMs >= minMs)) throw new RangeError(`delay ${minMs}..${maxMs} ms is not a range`);
    this.currentFaults = { ...this.currentFaults, delayMinMs: minMs, delayMaxMs: maxMs };
  }

  /** Clears every fault; frames already held are still delivered in order. */
  heal(): void {
    this.currentFaults = noFaults();
  }

  /** @internal */
  isBlocked(source: SourceName): boolean {
    return this.faults.blocked.has(source);
  }

  /** @internal */
  isCutOneWay(direction: FrameDirection, source: SourceName | null): boolean {
    if (source === null) return false;
    const cut = direction === 'toTarget' ? this.faults.cutToTarget : this.faults.cutToSource;
    return cut.has(source);
  }

  /** Stops listening and destroys every connection. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      for (const connection of this.connections) connection.destroy();
    });
  }
}

/** One inbound connection and, once its Hello is in, the connection to the target. */
class ProxiedConnection {
  source: SourceName | null = null;
  private upstream: Socket | null = null;
  private readonly toTarget: FramePipe;
  private toSource: FramePipe | null = null;
  private helloTimer: NodeJS.Timeout | null;
  private lingerTimer: NodeJS.Timeout | null = null;
  private destroyed = false;

  constructor(
    private readonly proxy: FaultProxy,
    private readonly inbound: Socket,
    private readonly onDestroyed: () => void,
  ) {
    inbound.setNoDelay(true);
    this.toTarget = new FramePipe(proxy, inbound, 'toTarget', (payload) => this.receiveHello(payload), this);
    inbound.on('error', () => this.destroy());
    inbound.on('close', () => this.socketClosed());
    this.helloTimer = setTimeout(() => this.destroy(), PROXY_HELLO_TIMEOUT_MS);
  }

  /** The first frame: learn the source, then refuse it or dial the target. */
  private receiveHello(payload: Buffer): boolean {
    if (this.helloTimer !== null) clearTimeout(this.helloTimer);
    this.helloTimer = null;
    let source: SourceName;
    try {
      const { peer } = parseHello(decodeMessage(payload));
      source = peer.kind === 'replica' ? peer.id : peer.kind;
    } catch {
      this.proxy.counters.badFrames += 1;
      this.destroy();
      return false;
    }
    this.source = source;
    const target = this.proxy.target;
    if (this.proxy.isBlocked(source) || target === null) {
      if (target !== null) this.proxy.counters.connectionsRefused += 1;
      this.destroy();
      return false;
    }
    const { host, port } = parseAddress(target);
    const upstream = connect({ host, port, allowHalfOpen: true });
    upstream.setNoDelay(true);
    this.upstream = upstream;
    this.toSource = new FramePipe(this.proxy, upstream, 'toSource', null, this);
    this.toSource.attach(this.inbound);
    this.toTarget.attach(upstream);
    upstream.on('error', () => this.destroy());
    upstream.on('close', () => this.socketClosed());
    return true;
  }

  /** A socket closed: give the other a moment to take what is still held for it, then destroy. */
  private socketClosed(): void {
    this.maybeFinished();
    if (this.destroyed || this.lingerTimer !== null) return;
    this.lingerTimer = setTimeout(() => this.destroy(), PROXY_CLOSE_LINGER_MS);
  }

  /** Both sockets are done writing and reading: nothing is left to deliver. */
  private maybeFinished(): void {
    const upstreamDone = this.upstream === null || this.upstream.destroyed;
    if (this.inbound.destroyed && upstreamDone) this.destroy();
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const timer of [this.helloTimer, this.lingerTimer]) if (timer !== null) clearTimeout(timer);
    this.toTarget.stop();
    this.toSource?.stop();
    this.inbound.destroy();
    this.upstream?.destroy();
    this.onDestroyed();
  }
}

interface HeldFrame {
  readonly bytes: Buffer;
  readonly releaseAtMs: number;
}

/**
 * Frames read from `from`, held until their release time, then written to `to`. The first frame
 * goes to `onFirst` (which may refuse the connection) and is forwarded without fault.
 */
class FramePipe {
  private readonly reader: FrameReader;
  private to: Socket | null = null;
  private readonly held: HeldFrame[] = [];
  private heldBytes = 0;
  private lastReleaseAtMs = 0;
  private firstSeen = false;
  private ended = false;
  private endForwarded = false;
  private timer: NodeJS.Timeout | null = null;
  private waitingForDrain = false;
  private stopped = false;

  constructor(
    private readonly proxy: FaultProxy,
    private readonly from: Socket,
    private readonly direction: FrameDirection,
    private readonly onFirst: ((payload: Buffer) => boolean) | null,
    private readonly owner: ProxiedConnection,
  ) {
    this.reader = new FrameReader(proxy.frameSizeMaxBytes);
    from.on('data', (chunk: Buffer) => this.receive(chunk));
    from.on('end', () => {
      this.ended = true;
      this.pump();
    });
  }

  attach(to: Socket): void {
    this.to = to;
    this.pump();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.held.length = 0;
    this.heldBytes = 0;
  }

  private receive(chunk: Buffer): void {
    if (this.stopped) return;
    let payloads: Buffer[];
    try {
      payloads = this.reader.push(chunk);
    } catch {
      this.proxy.counters.badFrames += 1;
      this.owner.destroy();
      return;
    }
    for (const payload of payloads) {
      if (this.stopped) return;
      const nowMs = performance.now();
      if (!this.firstSeen) {
        this.firstSeen = true;
        if (this.onFirst !== null && !this.onFirst(payload)) return;
        this.hold(payload, Math.max(nowMs, this.lastReleaseAtMs));
        continue;
      }
      if (this.proxy.isCutOneWay(this.direction, this.owner.source)) {
        this.proxy.counters.framesCutOneWay += 1;
        continue;
      }
      const { lossProbability, delayMinMs, delayMaxMs } = this.proxy.faults;
      if (lossProbability > 0 && this.proxy.random.chance(lossProbability)) {
        this.proxy.counters.framesDropped += 1;
        continue;
      }
      const delayMs = delayMaxMs > 0 ? this.proxy.random.integer(delayMinMs, delayMaxMs) : 0;
      this.hold(payload, Math.max(nowMs + delayMs, this.lastReleaseAtMs));
    }
    this.pump();
  }

  private hold(payload: Buffer, releaseAtMs: number): void {
    const bytes = frame(payload);
    this.held.push({ bytes, releaseAtMs });
    this.heldBytes += bytes.length;
    this.lastReleaseAtMs = releaseAtMs;
  }

  /** Writes every frame whose time has come, then sets the timer for the next and the read flow. */
  private pump(): void {
    if (this.stopped) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const to = this.to;
    if (to !== null && !to.destroyed) {
      const nowMs = performance.now();
      let next = this.held[0];
      while (next !== undefined && next.releaseAtMs <= nowMs) {
        this.held.shift();
        this.heldBytes -= next.bytes.length;
        to.write(next.bytes);
        this.proxy.counters.framesForwarded += 1;
        next = this.held[0];
      }
      if (next !== undefined) {
        this.timer = setTimeout(() => this.pump(), Math.max(1, next.releaseAtMs - nowMs));
      } else if (this.ended && !this.endForwarded) {
        this.endForwarded = true;
        to.end();
      }
    }
    this.updateFlow();
  }

  /** Stops reading `from` while too many bytes wait, and reads again once they have gone out. */
  private updateFlow(): void {
    const waitingBytes = this.heldBytes + (this.to?.writableLength ?? 0);
    if (waitingBytes <= this.proxy.bufferedBytesMax) {
      if (this.from.isPaused()) this.from.resume();
      return;
    }
    if (!this.from.isPaused()) this.from.pause();
    if (this.to !== null && this.to.writableLength > 0 && !this.waitingForDrain) {
      this.waitingForDrain = true;
      this.to.once('drain', () => {
        this.waitingForDrain = false;
        this.pump();
      });
    }
  }
}
