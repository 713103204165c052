// `understudy bench`: a closed-loop load generator against a running cluster (--coordinator) or a
// local one it starts and stops itself (--start N). Bad flags are usage errors (exit 2) before
// anything starts; errors of the cluster during the runs are counted and reported, not fatal; the
// exit status is 1 only if an answer or a read-back disagreed with what the bench wrote, the
// read-back could not read every key, or a signal cut the bench short. The bench code is imported
// lazily, so the other commands never load it.

import { type Command, InvalidArgumentError, Option } from 'commander';
import {
  BENCH_CLIENTS_MAX,
  BENCH_DURATION_SECONDS_MAX,
  BENCH_KEYS_MAX,
  BENCH_PIPELINE_MAX,
  BENCH_RUNS_MAX,
  BENCH_SHAPE_DEFAULT,
  BENCH_VALUE_BYTES_MAX,
  BENCH_VALUE_BYTES_MIN,
  BENCH_WARMUP_SECONDS_MAX,
  type BenchShape,
  checkShape,
  durabilities,
  formatMix,
  type Mix,
  parseMix,
  type ReadMode,
  readModes,
  ShapeError,
} from '../bench/shape.js';
import type { Durability } from '../protocol/types.js';
import { addClientOptions, type ClientFlags, exitCode, integerIn } from './options.js';
import { CLUSTER_REPLICAS_MAX } from './server-commands.js';

interface BenchFlags extends ClientFlags {
  readonly start?: number;
  readonly clients: number;
  readonly pipeline: number;
  readonly sharedClient?: boolean;
  readonly mix: Mix;
  readonly valueBytes: number;
  readonly keys: number;
  readonly durability: Durability;
  readonly read: ReadMode;
  readonly duration: number;
  readonly runs: number;
  readonly warmup: number;
  readonly verify?: boolean;
}

function mixArgument(text: string): Mix {
  try {
    return parseMix(text);
  } catch (error) {
    if (error instanceof ShapeError) throw new InvalidArgumentError(error.message);
    throw error;
  }
}

export function addBenchCommand(program: Command): void {
  const defaults = BENCH_SHAPE_DEFAULT;
  const command = program
    .command('bench')
    .summary('measure throughput and latency with a closed-loop load')
    .description(
      'Run a closed-loop load (each call waits for its answer before the next) against the cluster at ' +
        '--coordinator, or against a local cluster of N replicas that --start runs and stops. Prints ' +
        'each run, the median run, the errors by code, and any answer that disagreed with what the ' +
        'bench wrote (exit 1, as when --verify cannot read every key back).',
    )
    .option(
      '--start <n>',
      'start a local cluster of N replicas and a coordinator (127.0.0.1, free ports, a temporary directory) and stop it at the end',
      integerIn(1, CLUSTER_REPLICAS_MAX),
    )
    .option(
      '--clients <n>',
      'clients, each its own connection',
      integerIn(1, BENCH_CLIENTS_MAX),
      defaults.clients,
    )
    .option(
      '--pipeline <k>',
      'calls each client keeps in flight',
      integerIn(1, BENCH_PIPELINE_MAX),
      defaults.pipeline,
    )
    .option('--shared-client', 'every call goes through one client object (one connection)')
    .addOption(
      new Option('--mix <weights>', 'operation mix: weights of put, get, append, cas, incr')
        .argParser(mixArgument)
        .default(defaults.mix, formatMix(defaults.mix)),
    )
    .option(
      '--value-bytes <n>',
      'size of each value written',
      integerIn(BENCH_VALUE_BYTES_MIN, BENCH_VALUE_BYTES_MAX),
      defaults.valueBytes,
    )
    .option('--keys <n>', 'keys each client cycles over', integerIn(1, BENCH_KEYS_MAX), defaults.keys)
    .addOption(
      new Option('--durability <level>', 'when a write is acknowledged')
        .choices(durabilities)
        .default(defaults.durability),
    )
    .addOption(
      new Option('--read <from>', 'where gets are answered').choices(readModes).default(defaults.read),
    )
    .option(
      '--duration <seconds>',
      'length of each run',
      integerIn(1, BENCH_DURATION_SECONDS_MAX),
      defaults.durationSeconds,
    )
    .option('--runs <n>', 'runs; the median one is reported', integerIn(1, BENCH_RUNS_MAX), defaults.runs)
    .option(
      '--warmup <seconds>',
      'load before the first run, not counted (0: none)',
      integerIn(0, BENCH_WARMUP_SECONDS_MAX),
      defaults.warmupSeconds,
    )
    .option(
      '--verify',
      'after the runs, read back every key written and compare it with what was last written',
    );
  addClientOptions(command).action((flags: BenchFlags, self: Command) => {
    const usage = (message: string): never =>
      self.error(`error: ${message}`, { exitCode: exitCode.usage, code: 'understudy.usage' });
    if (flags.start !== undefined) {
      for (const option of ['coordinator', 'clusterId'] as const) {
        if (self.getOptionValueSource(option) === 'cli') {
          const flag = option === 'coordinator' ? '--coordinator' : '--cluster-id';
          usage(`--start runs its own cluster: it takes no ${flag}`);
        }
      }
    }
    const shape: BenchShape = {
      clients: flags.clients,
      pipeline: flags.pipeline,
      sharedClient: flags.sharedClient === true,
      mix: flags.mix,
      valueBytes: flags.valueBytes,
      keys: flags.keys,
      durability: flags.durability,
      read: flags.read,
      durationSeconds: flags.duration,
      runs: flags.runs,
      warmupSeconds: flags.warmup,
    };
    try {
      checkShape(shape);
    } catch (error) {
      if (error instanceof ShapeError) usage(error.message);
      throw error;
    }
    return bench(flags, shape);
  });
}

async function bench(flags: BenchFlags, shape: BenchShape): Promise<void> {
  const { runBench } = await import('../bench/run.js');
  const { formatReport, jsonReport } = await import('../bench/report.js');
  const { ProgressLine } = await import('../bench/progress.js');
  const { runningCluster, startLocalCluster } = await import('../bench/target.js');
  const progress = process.stderr.isTTY ? new ProgressLine(process.stderr) : null;
  const interrupted = new AbortController();
  const interrupt = () => interrupted.abort();
  process.once('SIGINT', interrupt).once('SIGTERM', interrupt);
  try {
    if (flags.start !== undefined)
      progress?.note(`starting a cluster of ${flags.start} replica${flags.start === 1 ? '' : 's'}`);
    const target =
      flags.start === undefined
        ? runningCluster(flags.coordinator, flags.clusterId)
        : await startLocalCluster(flags.start);
    try {
      const report = await runBench(target, {
        shape,
        timeoutMs: flags.timeout,
        verify: flags.verify === true,
        signal: interrupted.signal,
        ...(progress === null
          ? {}
          : {
              onSecond: (phase, second) => progress.show(phase, second),
              onPhaseEnd: () => progress.clear(),
            }),
      });
      process.stdout.write(flags.json ? jsonReport(report) : formatReport(report));
      const disagreed = report.mismatches.count + (report.verify?.mismatches ?? 0);
      const unread = Object.keys(report.verify?.readErrors ?? {}).length > 0;
      if (disagreed > 0 || unread || report.interrupted) process.exitCode = exitCode.failed;
    } finally {
      progress?.clear();
      await target.close();
    }
  } finally {
    process.off('SIGINT', interrupt).off('SIGTERM', interrupt);
  }
}
