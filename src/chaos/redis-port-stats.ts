// How many sequences the Redis ports shared between connections over a chaos run
// (src/resp/shared-sequences.ts), read from each port's INFO stats every few seconds. A port's count
// starts over when its replica restarts, which faults do all the time, so the increases are summed:
// a count lower than the last one read is a restart, and counts from 0. What a port shared between
// its last read and its end is missed, so the total is a floor.

import { RedisPortClient } from './redis-port-client.js';

/** How often the ports are read. */
const SAMPLE_INTERVAL_MS = 2_000;
/** How long one port may take to connect and answer INFO; one that does not is skipped this time. */
const SAMPLE_TIMEOUT_MS = 1_000;

export class SharedSequenceCount {
  #total = 0;
  readonly #last = new Map<string, number>();
  readonly #timer: NodeJS.Timeout;
  #sampling: Promise<void> | null = null;

  /** `addresses`: the Redis ports of the replicas running now. */
  constructor(private readonly addresses: () => readonly string[]) {
    this.#timer = setInterval(() => {
      this.#sampling ??= this.#sample().finally(() => {
        this.#sampling = null;
      });
    }, SAMPLE_INTERVAL_MS);
  }

  /** Shared sequences counted so far, over every port and restart. */
  get total(): number {
    return this.#total;
  }

  /** Stops reading, after one last read of every port. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#sampling;
    await this.#sample();
  }

  /** Stops reading, without a last read (a run that ended early). */
  cancel(): void {
    clearInterval(this.#timer);
  }

  async #sample(): Promise<void> {
    for (const address of this.addresses()) {
      const count = await sharedSequencesAt(address);
      if (count === null) continue;
      const last = this.#last.get(address) ?? 0;
      this.#total += count >= last ? count - last : count;
      this.#last.set(address, count);
    }
  }
}

/** The port's `understudy_shared_sequences` (INFO stats), or null if it did not answer in time. */
async function sharedSequencesAt(address: string): Promise<number | null> {
  let connection: RedisPortClient;
  try {
    connection = await RedisPortClient.connect(address, SAMPLE_TIMEOUT_MS);
  } catch {
    return null;
  }
  try {
    const reply = await connection.command(['INFO', 'stats'], SAMPLE_TIMEOUT_MS);
    const text = Buffer.isBuffer(reply) ? reply.toString('utf8') : String(reply);
    const count = /understudy_shared_sequences:(\d+)/.exec(text)?.[1];
    return count === undefined ? null : Number(count);
  } catch {
    return null;
  } finally {
    connection.close();
  }
}
