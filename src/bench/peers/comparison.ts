// The comparison's one table: a row per system, for each client count its throughput, p99 and CPU
// per operation (the servers' processes + the load generator's, of the median run), then for each
// Understudy row its throughput over each peer's that does the same kind of operation (writes over
// writes, reads over reads) at each client count. Ratios are only meaningful
// within one run of the comparison: absolute figures drift 2–3× between runs on a shared machine,
// the ratios much less, and the CPU per operation least.

import { formatCpu } from '../process-cpu.js';
import { formatCount, formatMs, formatTable } from '../table.js';
import type { PeerRun } from './peer-load.js';
import type { RatioOverRounds } from './rounds.js';

export type SystemId =
  | 'redis-set'
  | 'redis-wait'
  | 'etcd-put'
  | 'redis-get'
  | 'etcd-get'
  | 'u1-sync'
  | 'u3-sync'
  | 'u3-replicated'
  | 'u3-async'
  | 'u3-get';

/** A row's ratios are taken only against peers of the same operation: a get over a SET says nothing. */
export type Operation = 'write' | 'read';

export interface System {
  readonly id: SystemId;
  readonly label: string;
  readonly peer: boolean;
  readonly operation: Operation;
}

/** The rows, in the order of the table. */
export const systems: readonly System[] = [
  { id: 'redis-set', label: 'Redis SET (async replication)', peer: true, operation: 'write' },
  { id: 'redis-wait', label: 'Redis SET + WAIT 2 0', peer: true, operation: 'write' },
  { id: 'etcd-put', label: 'etcd put', peer: true, operation: 'write' },
  { id: 'redis-get', label: 'Redis GET (at the primary)', peer: true, operation: 'read' },
  { id: 'etcd-get', label: 'etcd get (linearizable)', peer: true, operation: 'read' },
  { id: 'u1-sync', label: 'Understudy 1 replica, sync put', peer: false, operation: 'write' },
  { id: 'u3-sync', label: 'Understudy 3 replicas, sync put', peer: false, operation: 'write' },
  { id: 'u3-replicated', label: 'Understudy 3 replicas, replicated put', peer: false, operation: 'write' },
  { id: 'u3-async', label: 'Understudy 3 replicas, async put', peer: false, operation: 'write' },
  { id: 'u3-get', label: 'Understudy 3 replicas, get', peer: false, operation: 'read' },
];

/** The peers a row is compared with: those of its own operation. */
const peersOf = (row: System): System[] =>
  systems.filter((system) => system.peer && system.operation === row.operation);

/** What one system did at one client count: its median run, or why it did not run. */
export type Cell = PeerRun | { readonly skipped: string };

export const isMeasured = (cell: Cell | undefined): cell is PeerRun =>
  cell !== undefined && !('skipped' in cell);

/** Cells by system, then by client count. */
export class Results {
  private readonly cells = new Map<SystemId, Map<number, Cell>>();

  set(system: SystemId, clients: number, cell: Cell): void {
    const row = this.cells.get(system) ?? new Map<number, Cell>();
    row.set(clients, cell);
    this.cells.set(system, row);
  }

  get(system: SystemId, clients: number): Cell | undefined {
    return this.cells.get(system)?.get(clients);
  }
}

export interface Ratio {
  readonly understudy: SystemId;
  readonly peer: SystemId;
  readonly clients: number;
  /** Understudy's ops/s over the peer's, or null if either did not run. */
  readonly ratio: number | null;
}

export function ratios(results: Results, clientCounts: readonly number[]): Ratio[] {
  const list: Ratio[] = [];
  for (const understudy of systems.filter((system) => !system.peer)) {
    for (const peer of peersOf(understudy)) {
      for (const clients of clientCounts) {
        const ours = results.get(understudy.id, clients);
        const theirs = results.get(peer.id, clients);
        const ratio =
          isMeasured(ours) && isMeasured(theirs) && theirs.opsPerSecond > 0
            ? Math.round((ours.opsPerSecond / theirs.opsPerSecond) * 100) / 100
            : null;
        list.push({ understudy: understudy.id, peer: peer.id, clients, ratio });
      }
    }
  }
  return list;
}

const peerShortNames: Readonly<Partial<Record<SystemId, string>>> = {
  'redis-set': '×Redis SET',
  'redis-wait': '×Redis WAIT',
  'etcd-put': '×etcd put',
  'redis-get': '×Redis GET',
  'etcd-get': '×etcd get',
};

/** A ratio as the table shows it: over several rounds, the median and (lowest–highest). */
function formatRatio(ratio: Ratio | RatioOverRounds | undefined): string {
  if (ratio?.ratio == null) return '—';
  if (!('byRound' in ratio) || ratio.byRound.length < 2 || ratio.lowest === null || ratio.highest === null)
    return ratio.ratio.toFixed(2);
  return `${ratio.ratio.toFixed(2)} (${ratio.lowest.toFixed(2)}–${ratio.highest.toFixed(2)})`;
}

/**
 * The table; `ratioList` (each Understudy row over each peer of its operation) is this one run's
 * unless given. A ratio column a row has no pairing in stays empty.
 */
export function formatComparison(
  results: Results,
  clientCounts: readonly number[],
  ratioList: readonly (Ratio | RatioOverRounds)[] = ratios(results, clientCounts),
): string {
  const countsLabel = clientCounts.join('/');
  const head = [
    'system',
    ...clientCounts.flatMap((clients) => [
      `${clients} client${clients === 1 ? '' : 's'} ops/s`,
      'p99 ms',
      'CPU µs/op',
    ]),
    ...systems
      .filter((system) => system.peer)
      .map((peer) => `${peerShortNames[peer.id] ?? peer.id} (${countsLabel})`),
  ];
  const rows = systems.map((system) => [
    system.label,
    ...clientCounts.flatMap((clients) => {
      const cell = results.get(system.id, clients);
      if (!isMeasured(cell)) return ['—', '—', '—'];
      const errors = cell.errors > 0 ? ` (${formatCount(cell.errors)} errors)` : '';
      return [
        `${formatCount(cell.opsPerSecond)}${errors}`,
        formatMs(cell.latencyMs.p99),
        formatCpu(cell.cpu),
      ];
    }),
    ...systems
      .filter((peer) => peer.peer)
      .map((peer) => {
        if (system.peer || peer.operation !== system.operation) return '';
        return clientCounts
          .map((clients) =>
            formatRatio(
              ratioList.find(
                (r) => r.understudy === system.id && r.peer === peer.id && r.clients === clients,
              ),
            ),
          )
          .join(' / ');
      }),
  ]);
  return formatTable(head, rows);
}

/** Why cells did not run, one line each. */
export function skippedCells(results: Results, clientCounts: readonly number[]): string[] {
  return systems.flatMap((system) =>
    clientCounts.flatMap((clients) => {
      const cell = results.get(system.id, clients);
      const where = `${system.label}, ${clients} client${clients === 1 ? '' : 's'}`;
      if (cell === undefined) return [`${where}: not run`];
      return 'skipped' in cell ? [`${where}: ${cell.skipped}`] : [];
    }),
  );
}
