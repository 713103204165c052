// `npm run sim -- --seeds N` runs N seeds and summarises; `npm run sim -- --seed S` replays one
// seed twice, proving the run is deterministic (same trace digest), and prints its trace tail.
// `--service MODULE` runs a service of your own instead of the key/value store (service-main.ts).

import { parseArgs } from 'node:util';
import { type LagPolicy, lagPolicies } from '../protocol/config.js';
import { type TestOnlyFaults, testOnlyFaultNames } from '../protocol/test-only-faults.js';
import { noExpiryCounts } from './expiry-workload.js';
import { runSeed, type SeedResult } from './run-seed.js';
import { noSaveCounts } from './save-workload.js';
import { noScanCounts } from './scan-workload.js';
import { loadSimulation, runServiceSeeds } from './service-main.js';
import { noSequenceCounts, noStringWriteCounts } from './workload.js';

const lineLengthMax = 400;
const usage = `usage: npm run sim -- [--seeds N] [--start S] [--seed S] [--ticks T] [--fault NAME] [--lag-policy P] [--coordinator-home H] [--commit-quorum] [--upgrade] [--service MODULE]
  --seeds N    run seeds S..S+N-1 (default 100)
  --start S    first seed (default 1)
  --seed S     replay one seed twice and show its trace
  --ticks T    ticks of faults per seed (default 2000)
  --fault NAME a test-only bug to switch on, to see the checks catch it:
               ${testOnlyFaultNames.join(', ')}
  --lag-policy P  the cluster's policy for a lagging backup in every seed: ${lagPolicies.join(', ')}
               (default demote)
  --coordinator-home H  where the coordinator keeps its state in every seed: directory (one embedded
               coordinator) or etcd (a leader elected by lease, standbys, stale leaders and etcd
               outages among the faults); default: each seed draws (40 % on etcd)
  --upgrade    every seed is a rolling upgrade under way (the upgrade fault: replicas on the older
               format level, upgraded and rolled back); default: a quarter of the seeds
  --commit-quorum  every seed of 3 or 4 replicas commits at k backups (k = 1 where it drew none);
               default: 40 % of them do
  --service MODULE  simulate a service of your own: MODULE (a path or a package name) default-exports a
               function that returns a ServiceSimulation (see understudy/simulator)`;

function fail(message: string): never {
  process.stderr.write(`sim: ${message}\n${usage}\n`);
  process.exit(2);
}

function positiveInteger(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0)
    fail(`--${name} must be a non-negative integer, got ${text}`);
  return value;
}

function short(line: string): string {
  return line.length <= lineLengthMax ? line : `${line.slice(0, lineLengthMax)}… (${line.length} chars)`;
}

function printFailure(result: SeedResult): void {
  process.stdout.write(`\nseed ${result.seed} FAILED (${result.plan})\n`);
  for (const violation of result.violations.slice(0, 5))
    process.stdout.write(`  violation: ${short(violation)}\n`);
  process.stdout.write('  last events:\n');
  for (const line of result.trace.slice(-20)) process.stdout.write(`    ${line}\n`);
  process.stdout.write(`  replay: npm run sim -- --seed ${result.seed}\n`);
}

function main(): void {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      options: {
        seeds: { type: 'string' },
        start: { type: 'string' },
        seed: { type: 'string' },
        ticks: { type: 'string' },
        fault: { type: 'string' },
        'lag-policy': { type: 'string' },
        'coordinator-home': { type: 'string' },
        'commit-quorum': { type: 'boolean' },
        upgrade: { type: 'boolean' },
        service: { type: 'string' },
        help: { type: 'boolean' },
      },
      strict: true,
    });
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values.help === true) {
    process.stdout.write(`${usage}\n`);
    return;
  }
  const text = (name: string): string | undefined => {
    const value = values[name];
    return typeof value === 'string' ? value : undefined;
  };
  const faultName = text('fault');
  const knownFaults: readonly string[] = testOnlyFaultNames;
  if (faultName !== undefined && !knownFaults.includes(faultName)) fail(`unknown --fault ${faultName}`);
  const testOnlyFaults: TestOnlyFaults | undefined =
    faultName === undefined ? undefined : { [faultName]: true };
  const lagPolicy = text('lag-policy');
  if (lagPolicy !== undefined && !(lagPolicies as readonly string[]).includes(lagPolicy)) {
    fail(`unknown --lag-policy ${lagPolicy}`);
  }
  const coordinatorHome = text('coordinator-home');
  if (coordinatorHome !== undefined && coordinatorHome !== 'directory' && coordinatorHome !== 'etcd') {
    fail(`unknown --coordinator-home ${coordinatorHome}`);
  }
  const serviceModule = text('service');
  if (serviceModule !== undefined) {
    if (lagPolicy !== undefined) fail('--lag-policy applies to the key/value runs only');
    if (coordinatorHome !== undefined) fail('--coordinator-home applies to the key/value runs only');
    if (values['commit-quorum'] === true) fail('--commit-quorum applies to the key/value runs only');
    if (values.upgrade === true) fail('--upgrade applies to the key/value runs only');
    const runOptions = {
      faultTicks: positiveInteger('ticks', text('ticks'), 2_000),
      replay: text('seed') === undefined ? null : positiveInteger('seed', text('seed'), 1),
      start: positiveInteger('start', text('start'), 1),
      count: positiveInteger('seeds', text('seeds'), 100),
      ...(testOnlyFaults === undefined ? {} : { testOnlyFaults }),
    };
    loadSimulation(serviceModule).then(
      (simulation) => {
        process.exitCode = runServiceSeeds(simulation, runOptions);
      },
      (error: unknown) => fail(error instanceof Error ? error.message : String(error)),
    );
    return;
  }
  const options = {
    faultTicks: positiveInteger('ticks', text('ticks'), 2_000),
    ...(lagPolicy === undefined ? {} : { lagPolicy: lagPolicy as LagPolicy }),
    ...(coordinatorHome === undefined ? {} : { coordinatorHome: coordinatorHome as 'directory' | 'etcd' }),
    ...(values['commit-quorum'] === true ? { commitQuorum: true } : {}),
    ...(values.upgrade === true ? { rollingUpgrade: true } : {}),
    ...(testOnlyFaults === undefined ? {} : { testOnlyFaults }),
  };

  const replay = text('seed');
  if (replay !== undefined) {
    const seed = positiveInteger('seed', replay, 1);
    const first = runSeed(seed, options);
    const second = runSeed(seed, options);
    process.stdout.write(`seed ${seed}: ${first.plan}\n`);
    process.stdout.write(`trace digest ${first.traceDigest}, replayed ${second.traceDigest}: `);
    process.stdout.write(
      first.traceDigest === second.traceDigest ? 'identical\n' : 'DIFFERENT (nondeterminism!)\n',
    );
    process.stdout.write(
      `${first.operations} operations, ${first.failovers} failovers, faults ${[...first.faults].map(([kind, count]) => `${kind} ${count}`).join(', ') || 'none'}\n`,
    );
    const { storage, boundedReads } = first;
    process.stdout.write(
      `snapshots ${storage.snapshotsTaken} taken, ${storage.snapshotsFailed} failed to be written, ${storage.snapshotsKept} kept; transfers ${storage.transfersCompleted} completed, ${storage.transfersFailed} interrupted; repairs ${storage.repairs}; ` +
        `sessions expired ${first.sessionsExpired}; bounded reads ${boundedReads.servedByMember} by a member, ${boundedReads.servedByPrimary} by the primary, ${boundedReads.staleReplies} STALE; ` +
        `request-status ${[...first.statusAnswers].map(([answer, count]) => `${answer} ${count}`).join(', ') || 'none'}; ` +
        `async lost ${first.asyncLost} of ${first.asyncAcknowledged} acknowledged appends, ${first.asyncLostReported ?? '?'} on the loss record; ` +
        `replicated ${first.replicatedAcknowledged} acknowledged, ${first.replicatedExcused} lost by every holder\n`,
    );
    if (first.violations.length > 0) printFailure(first);
    else
      process.stdout.write(
        'last events:\n' +
          first.trace
            .slice(-10)
            .map((line) => `  ${line}\n`)
            .join(''),
      );
    process.exitCode = first.violations.length > 0 || first.traceDigest !== second.traceDigest ? 1 : 0;
    return;
  }

  const count = positiveInteger('seeds', text('seeds'), 100);
  const start = positiveInteger('start', text('start'), 1);
  const began = performance.now();
  const faults = new Map<string, number>();
  let operations = 0;
  let failovers = 0;
  let asyncAcknowledged = 0;
  let asyncLost = 0;
  let asyncLostReported = 0;
  let replicatedAcknowledged = 0;
  let replicatedExcused = 0;
  let quorumSeeds = 0;
  let promotionsWithoutHolders = 0;
  let unknownKeys = 0;
  let sessionsExpired = 0;
  let rollbacks = 0;
  let forgotten = 0;
  const expiry = noExpiryCounts();
  const scans = { ...noScanCounts(), keysDue: 0, acrossSeeding: 0 };
  const storage = {
    snapshotsTaken: 0,
    snapshotsFailed: 0,
    snapshotsKept: 0,
    snapshotsRetained: 0,
    transfersCompleted: 0,
    transfersFailed: 0,
    repairs: 0,
    lossReportsAcrossCrashes: 0,
    coordinatorSaveStalls: 0,
    coordinatorSavesLost: 0,
    viewsRefusedByFullEtcd: 0,
  };
  const bounded = { servedByMember: 0, servedByPrimary: 0, staleReplies: 0, abandoned: 0 };
  const statusAnswers = new Map<string, number>();
  const sequences = noSequenceCounts();
  const floats = noStringWriteCounts();
  const clears = { sent: 0, answered: 0, inSequences: 0, seeds: 0 };
  const saves = noSaveCounts();
  const failed: SeedResult[] = [];
  for (let seed = start; seed < start + count; seed++) {
    const result = runSeed(seed, options);
    for (const [kind, number] of result.faults) faults.set(kind, (faults.get(kind) ?? 0) + number);
    rollbacks += result.rollbacks;
    forgotten += result.forgotten;
    operations += result.operations;
    failovers += result.failovers;
    asyncAcknowledged += result.asyncAcknowledged;
    asyncLost += result.asyncLost;
    asyncLostReported += result.asyncLostReported ?? 0;
    replicatedAcknowledged += result.replicatedAcknowledged;
    replicatedExcused += result.replicatedExcused;
    if (result.syncQuorum !== null) quorumSeeds += 1;
    promotionsWithoutHolders += result.storage.promotionsWithoutHolders;
    unknownKeys += result.unknownKeys;
    sessionsExpired += result.sessionsExpired;
    for (const name of Object.keys(storage) as (keyof typeof storage)[])
      storage[name] += result.storage[name];
    for (const name of Object.keys(bounded) as (keyof typeof bounded)[])
      bounded[name] += result.boundedReads[name];
    for (const name of Object.keys(sequences) as (keyof typeof sequences)[])
      sequences[name] += result.sequences[name];
    for (const name of Object.keys(expiry) as (keyof typeof expiry)[]) expiry[name] += result.expiry[name];
    for (const name of Object.keys(floats) as (keyof typeof floats)[])
      floats[name] += result.stringWriteCounts[name];
    clears.sent += result.clears.sent;
    clears.answered += result.clears.answered;
    clears.inSequences += result.clears.inSequences;
    if (result.clears.sent + result.clears.inSequences > 0) clears.seeds += 1;
    for (const name of Object.keys(scans) as (keyof typeof scans)[]) scans[name] += result.scans[name];
    saves.asked += result.saves.asked;
    saves.refused += result.saves.refused;
    saves.saved += result.saves.saved;
    for (const why of Object.keys(saves.failures) as (keyof typeof saves.failures)[])
      saves.failures[why] += result.saves.failures[why];
    for (const [answer, number] of result.statusAnswers) {
      statusAnswers.set(answer, (statusAnswers.get(answer) ?? 0) + number);
    }
    if (result.violations.length > 0) {
      failed.push(result);
      printFailure(result);
    }
  }
  const seconds = ((performance.now() - began) / 1000).toFixed(1);
  let totalFaults = 0;
  for (const number of faults.values()) totalFaults += number;
  const breakdown = [...faults].map(([kind, number]) => `${kind} ${number}`).join(', ');
  process.stdout.write(
    [
      `sim: ${count} seeds (${start}..${start + count - 1}) in ${seconds} s${faultName === undefined ? '' : `, test-only fault ${faultName} ON`}`,
      `faults injected: ${totalFaults} (${breakdown}); of the upgrades, ${rollbacks} rollbacks to the older build after every replica ran this one; of the forgets, ${forgotten} forgotten (the rest refused)`,
      `operations checked: ${operations}`,
      `failovers: ${failovers}; async writes lost in failovers: ${asyncLost} of ${asyncAcknowledged} acknowledged appends missing, ${asyncLostReported} async writes on the clusters' loss records; ${storage.lossReportsAcrossCrashes} crashes of a replica with losses not yet on the record`,
      `replicated writes acknowledged: ${replicatedAcknowledged}; ${replicatedExcused} of them unchecked (every replica that held them failed before they committed); ${promotionsWithoutHolders} primaries chosen among restarted replicas, none that held everything being alive`,
      `seeds with a commit quorum (syncQuorum below the backups): ${quorumSeeds}`,
      `snapshots: ${storage.snapshotsTaken} taken, ${storage.snapshotsFailed} failed to be written (the replica served on), ${storage.snapshotsKept} kept (${storage.snapshotsRetained} keeping an older one on for a follower receiving it); transfers: ${storage.transfersCompleted} completed, ${storage.transfersFailed} interrupted; repairs after damage: ${storage.repairs}; views decided while the coordinator's state write hung: ${storage.coordinatorSaveStalls} (${storage.coordinatorSavesLost} lost: it went down first); views etcd out of space refused (the leader stepped down): ${storage.viewsRefusedByFullEtcd}`,
      `sessions expired under a pending write: ${sessionsExpired}`,
      `bounded reads: ${bounded.servedByMember} served by a member, ${bounded.servedByPrimary} by the primary after STALE, ${bounded.staleReplies} STALE replies, ${bounded.abandoned} given up`,
      `request-status answers: ${[...statusAnswers].map(([answer, number]) => `${answer} ${number}`).join(', ') || 'none'}`,
      `sequences: ${sequences.sent} sent (${sequences.readOnly} of reads only, ${sequences.readBacks} with a read-back), ${sequences.units} history operations of ${sequences.parts} parts; ${sequences.answered} answered, ${sequences.partsRefused} parts refused; ${sequences.guarded} sent whole behind a guard, ${sequences.guardsFailed} of them refused whole (VALUE_CHANGED: none of it ran)`,
      `snapshot saves: ${saves.asked} asked, ${saves.refused} refused at once (not the primary, no lease, nothing yet), ${saves.saved} saved and checked as a read of every key, ${Object.values(saves.failures).reduce((sum, number) => sum + number, 0)} failed (${Object.entries(
        saves.failures,
      )
        .map(([why, number]) => `${why} ${number}`)
        .join(', ')})`,
      `keys that expire: ${expiry.set} register writes with a time to live, ${expiry.changed} expires and persists, ${expiry.ttlReads} ttl reads checked, ${expiry.readingWrites} get-sets, get-deletes and get-expires answered and recorded as what they showed; ${expiry.expired} keys deleted by a primary's logged expiry, each checked not before its time nor after it was taken away, and put in the history`,
      `clears of every key (FLUSHALL, checked as a delete of each key): ${clears.sent} sent alone in ${clears.seeds} seeds, ${clears.answered} of them answered definitely; ${clears.inSequences} sequences that clear first`,
      `incr-floats (as INCRBYFLOAT, recorded as the incrs they are): ${floats.incrFloats} answered, ${floats.incrFloatsRefused} refused NOT_A_FLOAT; put-many-if-absent on groups (MSETNX, recorded as a cas from absent): ${floats.allAbsent} answered, ${floats.allAbsentWritten} of them written; SET ... IFEQ on registers (recorded as a cas): ${floats.ifEqualSets} answered, ${floats.ifEqualSetsWritten} of them written; register puts in sequences staged under a key of their own and renamed over (recorded as the write): ${floats.stagedRenames} answered`,
      `scans of every key: ${scans.started} begun, ${scans.completed} whole (${scans.pages} pages answered) and checked: ${scans.keysDue} keys present throughout one, each returned (${scans.acrossSeeding} scans under way as the store was seeded, not checked)`,
      `keys the checker could not decide: ${unknownKeys}`,
      `violations: ${failed.length} seeds${failed.length > 0 ? ` (${failed.map((result) => result.seed).join(', ')})` : ''}`,
      '',
    ].join('\n'),
  );
  process.exitCode = failed.length > 0 ? 1 : 0;
}

main();
