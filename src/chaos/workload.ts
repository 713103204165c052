// The workload of a chaos run: `clients` Clients (one connection to the primary each), each shared
// by `pipeline` logical processes. A process runs one operation at a time until it is stopped, as a
// history requires, so each connection carries up to `pipeline` calls at once; every operation is
// recorded in a HistoryRecorder. Process p uses Client ⌊p / pipeline⌋.
//
// Keys come in two groups so the checks can read them: K register slots take read, write, cas and
// incr, each on a fresh key every REGISTER_KEY_SECONDS of the run ("r0.0", "r0.1", ...); append
// keys take append and read only, so a final read of an append key lists every token
// that reached it. Register values are unique per process: mostly decimal numbers (process p's n-th
// is (p + 1)·10⁹ + n·10³, and increments climb inside that block), and sometimes words ("p3-w17"),
// so an incr is refused NOT_AN_INTEGER or not depending on the value: the refusal is an observation
// the checker holds against the model.
// An append value grows without end, and so does every read of it in the history and every value
// the checker's search carries for that key; so each of the K append slots moves to a fresh key
// ("a0.0", "a0.1", ...) once a process sees its value pass APPEND_VALUE_BYTES_MAX, by the length an
// append answers or by a read. Every key ever used is read at the end.
//
// Outcomes: ok with the result (an append's is the value's new length in bytes); fail when the
// operation definitely did not happen and the history says why: a cas that did not swap (no code),
// or a refusal the service gives because of the value (incr NOT_AN_INTEGER, append
// VALUE_TOO_LARGE), recorded with its code. Anything else is info (unknown): OutcomeUnknownError,
// a refused old retry, a dropped connection, and refusals the model does not judge (they say
// nothing the checker can hold against the value; all are counted in `unsuccessfulByCause`). A
// failed read is info too: it observed nothing. Async writes are acknowledged before they are
// replicated and may be lost in a failover by design, so they go into the history as info and are
// counted apart.

import type { EventValue, HistoryRecorder, OperationFunction, OperationHandle } from '../check/index.js';
import { Client, type WriteMetadata } from '../client/index.js';
import { ErrorCode, RequestRefusedError, UnderstudyError } from '../errors.js';
import { assert } from '../protocol/assert.js';
import type { Durability } from '../protocol/types.js';
import { Random } from '../sim/random.js';

/** Deadline of one client call, retries included. */
export const CLIENT_DEADLINE_MS = 5000;
export const ASYNC_WRITE_PROBABILITY = 0.1;
/** Bounds one process's operations; register values are unique up to this many per process. */
export const OPERATIONS_PER_PROCESS_MAX = 999_999;
export const PROCESS_VALUE_STRIDE = 1_000_000_000;
export const SEQUENCE_VALUE_STRIDE = 1000;
/** Once an append key's value is this long, its slot moves on to a fresh key. */
export const APPEND_VALUE_BYTES_MAX = 2048;
/** Share of register writes and cas replacements that write a word, which incr refuses. */
export const REGISTER_WORD_PROBABILITY = 0.2;
/** Cumulative shares of the operation mix: read 30%, write 20%, append 20%, cas 15%, incr 15%. */
const operationMix: readonly (readonly [OperationFunction, number])[] = [
  ['read', 0.3],
  ['write', 0.5],
  ['append', 0.7],
  ['cas', 0.85],
  ['incr', 1],
];

/**
 * A register slot moves to a fresh key every this many seconds of the run (Jepsen's independent
 * keys): the linearizability search grows with the history of one key, and a long run's history on
 * one key, with the unknown outcomes its faults leave, is more than the checker can decide.
 */
export const REGISTER_KEY_SECONDS = 30;

export const registerKey = (slot: number, generation: number): string => `r${slot}.${generation}`;
export const appendKey = (slot: number, generation: number): string => `a${slot}.${generation}`;

export interface WorkloadOptions {
  readonly coordinator: string;
  readonly clients: number;
  /** Processes per Client: calls in flight on one connection. */
  readonly pipeline: number;
  readonly keys: number;
  /** Seeds each process's choice of operations. */
  readonly seed: number;
  readonly recorder: HistoryRecorder;
  /** Monotonic nanoseconds since the run started. */
  readonly clock: () => number;
}

export interface WriteAcknowledgement {
  readonly timeNs: number;
  readonly view: number;
}

export interface AsyncAppend {
  readonly key: string;
  readonly token: string;
}

export class Workload {
  /** Every write answered by a primary (swapped or not), for measuring failovers. */
  readonly writeAcknowledgements: WriteAcknowledgement[] = [];
  readonly asyncAppendsAcknowledged: AsyncAppend[] = [];
  asyncWritesAcknowledged = 0;
  /** Why operations did not complete ok: an error code, or "cas not swapped". */
  readonly unsuccessfulByCause = new Map<string, number>();
  private readonly registerKeysUsed = new Set<string>();
  private readonly appendKeysUsed = new Set<string>();
  private stopped = false;
  private readonly loops: Promise<void>[];

  private constructor(
    private readonly options: WorkloadOptions,
    private readonly clients: readonly Client[],
  ) {
    for (let slot = 0; slot < options.keys; slot++) {
      this.registerKeysUsed.add(registerKey(slot, 0));
      this.appendKeysUsed.add(appendKey(slot, 0));
    }
    const seeds = new Random(options.seed);
    this.loops = Array.from({ length: clients.length * options.pipeline }, (_, process) => {
      const client = clients[Math.floor(process / options.pipeline)];
      assert(client !== undefined, `no client for process ${process}`);
      return this.runProcess(process, client, new Random(seeds.nextUint32()));
    });
  }

  /** How many history processes run: the final reads use the next number. */
  get processes(): number {
    return this.loops.length;
  }

  static async start(options: WorkloadOptions): Promise<Workload> {
    const clients: Client[] = [];
    try {
      for (let process = 0; process < options.clients; process++) {
        clients.push(
          await Client.connect({ coordinator: options.coordinator, deadlineMs: CLIENT_DEADLINE_MS }),
        );
      }
    } catch (error) {
      await Promise.all(clients.map((client) => client.close()));
      throw error;
    }
    return new Workload(options, clients);
  }

  /** Every register key used so far (each slot's first key at least). */
  get registerKeys(): readonly string[] {
    return [...this.registerKeysUsed];
  }

  /** Every append key used so far (each slot's first key at least). */
  get appendKeys(): readonly string[] {
    return [...this.appendKeysUsed];
  }

  get keys(): readonly string[] {
    return [...this.registerKeys, ...this.appendKeys];
  }

  /** Lets every process finish its operation in flight, then closes the clients. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
    await Promise.all(this.clients.map((client) => client.close()));
  }

  private async runProcess(process: number, client: Client, random: Random): Promise<void> {
    const state: ProcessState = {
      process,
      client,
      random,
      lastRead: new Map(),
      generations: Array.from({ length: this.options.keys }, () => 0),
    };
    for (let sequence = 1; !this.stopped && sequence <= OPERATIONS_PER_PROCESS_MAX; sequence++) {
      await this.step(state, sequence);
    }
  }

  private async step(state: ProcessState, sequence: number): Promise<void> {
    const { recorder, clock } = this.options;
    const { process, client, random, lastRead, generations } = state;
    const roll = random.next();
    const f = operationMix.find(([, share]) => roll < share)?.[0] ?? 'read';
    const slot = random.integer(0, this.options.keys - 1);
    const onAppendKey = f === 'append' || (f === 'read' && random.chance(0.5));
    const registerGeneration = Math.floor(clock() / 1e9 / REGISTER_KEY_SECONDS);
    const key = onAppendKey ? appendKey(slot, generations[slot] ?? 0) : registerKey(slot, registerGeneration);
    if (onAppendKey) this.appendKeysUsed.add(key);
    else this.registerKeysUsed.add(key);
    /** Moves the slot on once its value is long enough. */
    const observe = (valueBytes: number) => {
      if (onAppendKey && valueBytes >= APPEND_VALUE_BYTES_MAX) {
        generations[slot] = (generations[slot] ?? 0) + 1;
      }
    };
    const durability =
      (f === 'write' || f === 'append') && random.chance(ASYNC_WRITE_PROBABILITY) ? 'async' : 'sync';
    const value =
      (f === 'write' || f === 'cas') && random.chance(REGISTER_WORD_PROBABILITY)
        ? `p${process}-w${sequence}`
        : String((process + 1) * PROCESS_VALUE_STRIDE + sequence * SEQUENCE_VALUE_STRIDE);
    const token = `p${process}-${sequence};`;
    const expected = lastRead.get(key) ?? null;
    const input: EventValue =
      f === 'read'
        ? null
        : f === 'write'
          ? value
          : f === 'append'
            ? token
            : f === 'cas'
              ? [expected, value]
              : 1;
    const handle = recorder.invoke(process, f, key, input, clock());
    const acknowledged = (metadata: WriteMetadata) =>
      this.writeAcknowledgements.push({ timeNs: clock(), view: metadata.view });
    try {
      switch (f) {
        case 'read': {
          const read = await client.getText(key);
          recorder.ok(handle, read, clock());
          if (onAppendKey) observe(read === null ? 0 : Buffer.byteLength(read));
          else lastRead.set(key, read);
          return;
        }
        case 'write': {
          const reply = await client.put(key, value, { durability });
          acknowledged(reply);
          if (durability === 'async') this.asyncAcknowledged(handle);
          else recorder.ok(handle, value, clock());
          return;
        }
        case 'append': {
          const reply = await client.append(key, token, { durability });
          acknowledged(reply);
          if (durability === 'async') {
            this.asyncAcknowledged(handle);
            this.asyncAppendsAcknowledged.push({ key, token });
          } else {
            recorder.ok(handle, reply.length, clock());
          }
          observe(reply.length);
          return;
        }
        case 'cas': {
          const reply = await client.cas(key, expected, value);
          acknowledged(reply);
          if (reply.swapped) recorder.ok(handle, [expected, value], clock());
          else {
            recorder.fail(handle, clock());
            this.countCause('cas not swapped');
          }
          lastRead.set(key, reply.current === null ? null : new TextDecoder().decode(reply.current));
          return;
        }
        case 'incr': {
          const reply = await client.incr(key, 1);
          acknowledged(reply);
          recorder.ok(handle, reply.value, clock());
          return;
        }
      }
    } catch (error) {
      this.countCause(`${f} ${describeError(error)}`);
      const refusal = observingRefusal(f, durability, error);
      if (refusal !== undefined) recorder.fail(handle, clock(), refusal);
      else recorder.info(handle, clock());
    }
  }

  private countCause(cause: string): void {
    this.unsuccessfulByCause.set(cause, (this.unsuccessfulByCause.get(cause) ?? 0) + 1);
  }

  private asyncAcknowledged(handle: OperationHandle): void {
    this.asyncWritesAcknowledged += 1;
    this.options.recorder.info(handle, this.options.clock());
  }
}

function describeError(error: unknown): string {
  if (error instanceof UnderstudyError) return error.code;
  return error instanceof Error ? error.name : 'unknown error';
}

interface ProcessState {
  readonly process: number;
  readonly client: Client;
  readonly random: Random;
  /** The value this process last saw per register: what its next cas expects. */
  readonly lastRead: Map<string, string | null>;
  /** Per append slot, the generation of the key this process appends to. */
  readonly generations: number[];
}

/** Refusals that observe the value, by the function they refuse: the checker judges these. */
const observingRefusals: Readonly<Partial<Record<OperationFunction, string>>> = {
  incr: ErrorCode.notAnInteger,
  append: ErrorCode.valueTooLarge,
};

/**
 * The code to record a fail with, or undefined to record info. Only a sync operation's refusal is
 * held against the value: an async one is answered before it replicates, like its acknowledgement.
 */
function observingRefusal(f: OperationFunction, durability: Durability, error: unknown): string | undefined {
  if (!(error instanceof RequestRefusedError) || durability !== 'sync') return undefined;
  return observingRefusals[f] === error.code ? error.code : undefined;
}
