// A small seeded generator (xorshift128+ style on 32-bit halves): the simulator's only source of
// randomness, so a seed replays a run exactly.

export class Random {
  private state0: number;
  private state1: number;

  constructor(seed: number) {
    this.state0 = (seed ^ 0x9e3779b9) >>> 0 || 1;
    this.state1 = (Math.imul(seed, 0x85ebca6b) ^ 0xc2b2ae35) >>> 0 || 2;
    for (let round = 0; round < 8; round++) this.nextUint32();
  }

  nextUint32(): number {
    let s1 = this.state0;
    const s0 = this.state1;
    this.state0 = s0;
    s1 ^= s1 << 23;
    s1 ^= s1 >>> 17;
    s1 ^= s0;
    s1 ^= s0 >>> 26;
    this.state1 = s1 >>> 0;
    return (this.state0 + this.state1) >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    return this.nextUint32() / 0x1_0000_0000;
  }

  /** An integer in [low, high]. */
  integer(low: number, high: number): number {
    return low + Math.floor(this.next() * (high - low + 1));
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.next() * items.length)];
    if (item === undefined) throw new Error('pick from an empty list');
    return item;
  }
}
