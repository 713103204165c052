// prom-client metrics whose values are read when Prometheus scrapes, never pushed on the hot path:
// each `collect` reads a number the node already keeps (a counter, a log index). A scrape first takes
// one inspection of the node (`ScrapeSource.refresh`), so every metric of one scrape describes the
// same moment and the node is asked once.

import { Counter, Gauge, type Registry } from 'prom-client';

export class ScrapeSource<T> {
  private latest: T;

  constructor(private readonly read: () => T) {
    this.latest = read();
  }

  refresh(): void {
    this.latest = this.read();
  }

  get current(): T {
    return this.latest;
  }
}

export function gaugeFrom(registry: Registry, name: string, help: string, read: () => number): void {
  new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.set(read());
    },
  });
}

/** A counter the node counts itself (a plain number); prom-client only reports it. */
export function counterFrom(registry: Registry, name: string, help: string, read: () => number): void {
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

/** A counter per label value, each a plain number the node counts itself. */
export function labelledCounterFrom(
  registry: Registry,
  name: string,
  help: string,
  labelName: string,
  read: () => Iterable<readonly [string, number]>,
): void {
  new Counter({
    name,
    help,
    labelNames: [labelName],
    registers: [registry],
    collect() {
      this.reset();
      for (const [label, value] of read()) this.inc({ [labelName]: label }, value);
    },
  });
}

/**
 * A gauge with one label whose series come and go (a backup per series): rebuilt at each scrape, so a
 * series that is gone (a backup removed from the view) disappears instead of keeping its last value.
 */
export function labelledGaugeFrom(
  registry: Registry,
  name: string,
  help: string,
  labelName: string,
  read: () => Iterable<readonly [string, number]>,
): void {
  new Gauge({
    name,
    help,
    labelNames: [labelName],
    registers: [registry],
    collect() {
      this.reset();
      for (const [label, value] of read()) this.set({ [labelName]: label }, value);
    },
  });
}

/** 1 for the role the node has now, 0 for each other: `understudy_role{role="primary"} 1`. */
export function roleGaugeFrom(registry: Registry, roles: readonly string[], current: () => string): void {
  new Gauge({
    name: 'understudy_role',
    help: 'The role this node has now: 1 for its role, 0 for the others.',
    labelNames: ['role'],
    registers: [registry],
    collect() {
      const role = current();
      for (const name of roles) this.set({ role: name }, name === role ? 1 : 0);
    },
  });
}
