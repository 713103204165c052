// `--rounds R`: the whole comparison R times over, every system once per round, so that each
// system's runs are spread over the whole session instead of taken in one stretch of it. On a shared
// machine a busy minute then slows one round of every system, not every run of one: PERFORMANCE.md
// has tables in which one cell alone ran slow and decided a ratio. A cell reports its median round
// (by throughput, with that round's latency and CPU, as a median run does); a ratio is the median of
// the rounds' ratios, each taken within one round, with the lowest and the highest beside it.

import { medianRun } from '../median.js';
import { type Cell, isMeasured, type Ratio, Results, ratios, systems } from './comparison.js';

export interface RatioOverRounds extends Ratio {
  /** The ratio in each round (null where either side did not run). */
  readonly byRound: readonly (number | null)[];
  readonly lowest: number | null;
  readonly highest: number | null;
}

/** The median of `values` (for an even count, the lower of the two middle ones). */
function lowerMedian(values: readonly number[]): number | null {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? null;
}

/** Each cell's median round; a cell no round measured keeps the first round's reason. */
export function combineCells(rounds: readonly Results[], clientCounts: readonly number[]): Results {
  const combined = new Results();
  for (const system of systems) {
    for (const clients of clientCounts) {
      const cells = rounds.map((round) => round.get(system.id, clients));
      const measured = cells.filter(isMeasured);
      const first = cells.find((cell): cell is Cell => cell !== undefined);
      if (measured.length > 0) combined.set(system.id, clients, medianRun(measured));
      else if (first !== undefined) combined.set(system.id, clients, first);
    }
  }
  return combined;
}

/** Every ratio, round by round, and its median over the rounds that measured both sides. */
export function ratiosOverRounds(
  rounds: readonly Results[],
  clientCounts: readonly number[],
): RatioOverRounds[] {
  const perRound = rounds.map((round) => ratios(round, clientCounts));
  const [first = []] = perRound;
  return first.map((ratio, position) => {
    const byRound = perRound.map((list) => list[position]?.ratio ?? null);
    const known = byRound.filter((value): value is number => value !== null);
    return {
      understudy: ratio.understudy,
      peer: ratio.peer,
      clients: ratio.clients,
      ratio: lowerMedian(known),
      byRound,
      lowest: known.length === 0 ? null : Math.min(...known),
      highest: known.length === 0 ? null : Math.max(...known),
    };
  });
}
