// The understudy command's contract with scripts, without a cluster: bad usage (bad flags, a
// staleness bound without --any, a malformed request id) exits 2 with a message naming what was
// wrong, --help exits 0 on every command, and an unreachable cluster is a failed operation (exit 1)
// reported as UNAVAILABLE within the timeout.

import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { powerCutsUnavailable, serverDisksUnavailable } from '../../src/chaos/server-disks.js';
import { serverNodeFlags } from '../../src/cli/server-node-flags.js';
import { freePort } from '../../src/tools/free-port.js';

const cli = fileURLToPath(new URL('../../../bin/understudy.js', import.meta.url));

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { timeout: 20_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A replica's required flags, with nothing listening at its coordinator: the rows add the flag under test. */
const aReplica = [
  'replica',
  '--id',
  'r1',
  '--listen',
  '127.0.0.1:0',
  '--coordinator',
  '127.0.0.1:1',
  '--dir',
  'x',
];

const usageErrors: [string[], RegExp][] = [
  [['frobnicate'], /unknown command 'frobnicate'/],
  [['put', '--bogus', 'k', 'v'], /unknown option '--bogus'/],
  [['put', 'k'], /missing required argument 'value'/],
  [['put', 'k', 'v', 'extra'], /too many arguments/],
  [['start', '--replicas', 'abc'], /--replicas.*'abc' is invalid/],
  [['start', '--replicas', '10'], /from 1 to 9/],
  [['start', '--port', '65534', '--replicas', '3'], /no room for 3 replica ports/],
  [['get', 'k', '--coordinator', 'nonsense'], /--coordinator.*bad address "nonsense"/],
  [['get', 'k', '--timeout', 'soon'], /--timeout.*'soon' is invalid/],
  [['incr', 'k', '1.5'], /'1.5' is invalid for argument 'delta'/],
  [['put', 'k', 'v', '--ttl', '0'], /--ttl.*'0' is invalid.*from 1 to/],
  [['put', 'k', 'v', '--ttl', 'soon'], /--ttl.*'soon' is invalid/],
  [['expire', 'k'], /missing required argument 'ms'/],
  [['expire', 'k', '-5'], /'-5' is invalid for argument 'ms'/],
  [['ttl'], /missing required argument 'key'/],
  [['cas', 'k', 'only-expected'], /cas takes KEY EXPECTED NEW/],
  [['replica', '--id', 'r1'], /required option '--listen/],
  [
    [...aReplica, '--resp', 'redis'],
    /--resp.*'redis' is invalid.*expected \[host:\]port \(a port alone listens on 127\.0\.0\.1\)/,
  ],
  [[...aReplica, '--resp', '70000'], /--resp.*'70000' is invalid.*a port from 0 to 65535/],
  [
    ['start', '--resp-port', '65534', '--replicas', '3'],
    /--resp-port 65534 leaves no room for 3 Redis ports/,
  ],
  [['start', '--resp-port', '7002'], /the Redis ports 7002..7004 overlap the cluster's ports 7000..7003/],
  [['start', '--resp-port', 'six'], /--resp-port.*'six' is invalid/],
  [
    [
      'replica',
      '--id',
      'r1',
      '--listen',
      '127.0.0.1:7001',
      '--coordinator',
      '127.0.0.1:7000',
      '--dir',
      'd',
      '--resp-advertise',
      '10.0.0.1:6379',
    ],
    /--resp-advertise names where clients dial the Redis port: it needs --resp/,
  ],
  [
    ['start', '--sentinel-port', '7001'],
    /--sentinel-port 7001 is one of the cluster's ports 7000..7003; choose another/,
  ],
  [
    ['start', '--sentinel-port', '6380'],
    /--sentinel-port 6380 is one of the Redis ports 6379..6381; choose another/,
  ],
  [
    ['start', '--sentinel-port', '7379', '--service', './x.js'],
    /option '--sentinel-port <port>' cannot be used with option '--service <module>'/,
  ],
  [
    ['start', '--resp-port', '7379', '--service', './x.js'],
    /option '--resp-port <port>' cannot be used with option '--service <module>'/,
  ],
  [
    [...aReplica, '--resp', '0', '--service', './x.js'],
    /option '--resp <\[host:\]port>' cannot be used with option '--service <module>'/,
  ],
  [['get', 'k', '--max-staleness', '100'], /--max-staleness applies to reads at any member: add --any/],
  [['get', 'k', '--min-index', '3'], /--min-index applies to reads at any member: add --any/],
  [['get', 'k', '--any', '--max-staleness', '-1'], /--max-staleness.*'-1' is invalid.*from 0/],
  [['get', 'k', '--any', '--max-staleness', 'soon'], /--max-staleness.*'soon' is invalid/],
  [['get', 'k', '--any', '--min-index', '1.5'], /--min-index.*'1.5' is invalid/],
  [['request-status'], /missing required argument 'id'/],
  [['request-status', 'no-number'], /bad request id "no-number": it has no "#"/],
  [
    ['request-status', 'c/0#0'],
    /bad request id "c\/0#0": the request number after "#" must be an integer from 1/,
  ],
  [['request-status', '#4'], /the client id before "#" is empty/],
  [['request-status', 'c/0#1', 'extra'], /too many arguments/],
  [[], /Usage: understudy/],
  [['bench', '--mix', 'put=x'], /--mix.*"put=x" is not KIND=WEIGHT/],
  [
    ['bench', '--mix', 'delete=1'],
    /--mix.*unknown operation "delete"; the kinds are put, get, append, cas, incr/,
  ],
  [['bench', '--mix', 'put=0'], /--mix.*at least one operation needs a weight above 0/],
  [['bench', '--durability', 'eventually'], /--durability.*'eventually' is invalid.*sync, replicated, async/],
  [
    ['put', 'k', 'v', '--durability', 'eventually'],
    /--durability.*'eventually' is invalid.*sync, replicated, async/,
  ],
  [['put', 'k', 'v', '--durability', 'replicated', '--async'], /--durability.*cannot be used with.*--async/],
  [['start', '--sync-quorum', '0'], /--sync-quorum.*from 1/],
  [['coordinator', '--listen', '127.0.0.1:0', '--dir', 'd', '--sync-quorum', 'x'], /--sync-quorum/],
  [['chaos', '--sync-quorum', '0'], /--sync-quorum.*from 1/],
  [['chaos', '--clock-drift', '0.2'], /--clock-drift.*expected a number from 0 to 0.05/],
  [['chaos', '--clock-drift', 'fast'], /--clock-drift.*expected a number from 0 to 0.05/],
  [['chaos', '--file-system', 'zfs'], /--file-system.*'zfs' is invalid.*ext4, xfs/],
  [['chaos', '--nemesis', 'kill,etcd'], /--nemesis etcd acts on the etcd that --etcd starts: add --etcd/],
  [
    ['chaos', '--nemesis', 'etcd-full,kill'],
    /--nemesis etcd-full acts on the etcd that --etcd starts: add --etcd/,
  ],
  [
    ['chaos', '--nemesis', 'kill,flood'],
    /--nemesis.*expected a comma-separated subset of kill,pause,disk-hang/,
  ],
  [['bench', '--read', 'backup'], /--read.*'backup' is invalid.*primary, any/],
  [['bench', '--clients', '0'], /--clients.*from 1 to 1024/],
  [['bench', '--pipeline', 'many'], /--pipeline.*'many' is invalid/],
  [['bench', '--value-bytes', '8'], /--value-bytes.*from 16 to 1048576/],
  [['bench', '--duration', '0'], /--duration.*from 1 to 3600/],
  [['bench', '--runs', '1.5'], /--runs.*'1.5' is invalid/],
  [['bench', '--warmup', '-1'], /--warmup.*from 0 to 600/],
  [['bench', '--keys', '2', '--pipeline', '4'], /--keys \(2\) must be at least --pipeline \(4\)/],
  [['bench', '--start', '10'], /--start.*from 1 to 9/],
  [
    ['bench', '--start', '3', '--coordinator', '127.0.0.1:7000'],
    /--start runs its own cluster: it takes no --coordinator/,
  ],
  [
    ['bench', '--start', '3', '--cluster-id', 'other'],
    /--start runs its own cluster: it takes no --cluster-id/,
  ],
  [['bench', '--scenario', 'chaos'], /--scenario.*'chaos' is invalid.*load, failover, steady/],
  [
    ['bench', '--slow-backup-fsync-ms', '20'],
    /--slow-backup-fsync-ms slows a replica this bench starts: it needs --start N/,
  ],
  [['bench', '--start', '1', '--slow-backup-fsync-ms', '20'], /slows a backup: --start 2 or more/],
  [
    ['bench', '--sync-quorum', '1'],
    /--sync-quorum is a setting of a cluster this bench starts: it needs --start N/,
  ],
  [['bench', '--lag-policy', 'eject'], /--lag-policy is a setting of a cluster this bench starts/],
  [
    ['bench', '--start', '3', '--lag-policy', 'kick'],
    /--lag-policy.*'kick' is invalid.*demote, throttle, eject/,
  ],
  [['start', '--lag-policy', 'kick'], /--lag-policy.*'kick' is invalid.*demote, throttle, eject/],
  [['start', '--backup-lag-max-ms', '1'], /--backup-lag-max-ms/],
  [['start', '--resp-reads', 'backup'], /--resp-reads.*'backup' is invalid.*primary, replica/],
  [['start', '--resp-read-staleness-ms', '-5'], /--resp-read-staleness-ms.*from 0 to 3600000/],
  [[...aReplica, '--resp-reads', 'all'], /--resp-reads.*'all' is invalid/],
  [
    ['start', '--service', './my-service.js', '--resp-reads', 'replica'],
    /--resp-reads.*cannot be used with.*--service/,
  ],
  [['bench', '--start', '3', '--slow-backup-fsync-ms', 'soon'], /--slow-backup-fsync-ms/],
  [
    ['bench', '--scenario', 'failover'],
    /--scenario failover kills and restarts replicas: it needs --start N/,
  ],
  [['bench', '--scenario', 'failover', '--start', '1'], /needs a backup to promote: --start 2 or more/],
  [['bench', '--scenario', 'failover', '--start', '3', '--trials', '0'], /--trials.*from 1 to 100/],
  [
    ['bench', '--scenario', 'failover', '--start', '3', '--durability', 'async'],
    /--scenario failover times writes a failover must keep: it takes no --durability async/,
  ],
  [
    ['bench', '--scenario', 'failover', '--start', '3', '--mix', 'get=1'],
    /--mix needs a put, append, cas or incr/,
  ],
  [
    ['bench', '--scenario', 'failover', '--start', '3', '--duration', '5'],
    /--scenario failover takes no --duration: the load runs until the trials are done/,
  ],
  [['bench', '--scenario', 'failover', '--start', '3', '--runs', '2'], /--scenario failover takes no --runs/],
  [
    ['bench', '--scenario', 'failover', '--start', '3', '--warmup', '2'],
    /--scenario failover takes no --warmup/,
  ],
  [['bench', '--scenario', 'steady'], /--scenario steady samples the replicas' memory: it needs --start N/],
  [['bench', '--scenario', 'steady', '--start', '3', '--runs', '2'], /--scenario steady takes no --runs/],
  [['bench', '--start', '3', '--trials', '5'], /--trials is for --scenario failover/],
  [
    ['bench', '--start', '3', '--replica-admins', '127.0.0.1:9100'],
    /--replica-admins names the admin ports of a running cluster: --start reads its own/,
  ],
  [['bench', '--replica-admins', 'nowhere'], /--replica-admins/],
  [
    ['bench', '--replica-admins', '127.0.0.1:9100', '--admin-tls'],
    /--admin-tls reads --replica-admins over HTTPS: it needs both --replica-admins and --tls-ca/,
  ],
  [['bench', '--scenario', 'steady', '--start', '3', '--trials', '5'], /--trials is for --scenario failover/],
  [['snapshot', 'save'], /missing required argument 'file'/],
  [['snapshot', 'save', 'a.snap', '--within', '0'], /--within.*expected an integer from 1/],
  [['snapshot', 'restore', 'a.snap'], /required option '--dir <dir>' not specified/],
  // Refused before any cluster is asked (none listens here).
  [
    ['snapshot', 'save', '/nonexistent/dir/a.snap'],
    /BAD_CONFIG: cannot save to \/nonexistent\/dir\/a\.snap: \/nonexistent\/dir is not a directory/,
  ],
  [['snapshot', 'save', tmpdir()], /BAD_CONFIG: cannot save to .*: it is a directory; name a file/],
  [
    ['snapshot', 'restore', '/nonexistent/a.snap', '--dir', '/nonexistent/r1'],
    /BAD_CONFIG: cannot read saved snapshot \/nonexistent\/a\.snap/,
  ],
];

for (const [args, message] of usageErrors) {
  test(`bad usage exits 2: understudy ${args.join(' ')}`, async () => {
    const result = await run(...args);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, message);
  });
}

const commandArguments: Record<string, RegExp> = {
  put: /<key> <value>/,
  get: /<key>[\s\S]*--any[\s\S]*--max-staleness <ms>[\s\S]*--min-index <n>/,
  'request-status': /<id>[\s\S]*executed[\s\S]*cancelled[\s\S]*forgotten[\s\S]*expired/,
  del: /<key>/,
  append: /<key> <value>/,
  cas: /<key> \[expected\] \[new\][\s\S]*--expect-absent[\s\S]*--delete/,
  incr: /<key> \[delta\]/,
  status: /--coordinator/,
  coordinator: /--listen[\s\S]*--dir/,
  replica: /--id[\s\S]*--listen[\s\S]*--coordinator[\s\S]*--dir/,
  start: /--replicas[\s\S]*--dir[\s\S]*--port[\s\S]*--host/,
  snapshot: /save[\s\S]*restore/,
  bench:
    /--scenario <name>[\s\S]*"load",\s+"failover",\s+"steady"[\s\S]*--trials <n>[\s\S]*--start <n>[\s\S]*--slow-backup-fsync-ms <ms>[\s\S]*--clients <n>[\s\S]*--pipeline <k>[\s\S]*--shared-client[\s\S]*--mix <weights>[\s\S]*--durability[\s\S]*--read[\s\S]*--duration[\s\S]*--runs[\s\S]*--warmup[\s\S]*--verify[\s\S]*--coordinator[\s\S]*--json/,
};

for (const [command, mentions] of Object.entries(commandArguments)) {
  test(`understudy ${command} --help exits 0 and shows its arguments`, async () => {
    const result = await run(command, '--help');
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`Usage: understudy ${command}`));
    assert.match(result.stdout, mentions);
  });
}

test('chaos --nemesis power-loss without xfs_io, or --file-system xfs without mkfs.xfs, is bad usage (exit 2), saying what to install', {
  skip:
    process.getuid?.() !== 0
      ? 'the disk nemeses need root'
      : (serverDisksUnavailable() ?? powerCutsUnavailable() ?? false),
}, async () => {
  // Every tool the other disk nemeses need, on a PATH of its own without xfs_io.
  const bin = mkdtempSync(join(tmpdir(), 'understudy-no-xfs-io-'));
  try {
    for (const tool of ['sh', 'mkfs.ext4', 'mount', 'umount', 'fsfreeze', 'losetup', 'fallocate']) {
      const found = execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim();
      symlinkSync(found, join(bin, tool));
    }
    const chaosWithout = (...args: string[]) =>
      new Promise<Run>((resolve) => {
        execFile(
          process.execPath,
          [cli, 'chaos', ...args],
          { timeout: 20_000, env: { ...process.env, PATH: bin } },
          (error, stdout, stderr) => {
            const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
            resolve({ code, stdout, stderr });
          },
        );
      });
    const noPowerCuts = await chaosWithout('--nemesis', 'kill,power-loss');
    assert.equal(noPowerCuts.code, 2, noPowerCuts.stderr);
    assert.match(
      noPowerCuts.stderr,
      /--nemesis power-loss cannot run here: xfs_io is not installed \(Debian package xfsprogs\)/,
    );
    const noXfs = await chaosWithout('--nemesis', 'kill,disk-full', '--file-system', 'xfs');
    assert.equal(noXfs.code, 2, noXfs.stderr);
    assert.match(
      noXfs.stderr,
      /--nemesis disk-full cannot run here: mkfs.xfs is not installed \(Debian package xfsprogs\)/,
    );
  } finally {
    rmSync(bin, { recursive: true, force: true });
  }
});

test('snapshot restore of a file that is not a saved snapshot fails (exit 1), saying so, and creates nothing', async () => {
  const directory = mkdtempSync(join(tmpdir(), 'understudy-restore-'));
  try {
    const notSaved = join(directory, 'notes.txt');
    writeFileSync(notSaved, 'not a snapshot at all, but long enough to have a header and a trailer');
    const result = await run('snapshot', 'restore', notSaved, '--dir', join(directory, 'r1'));
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /does not start with the saved snapshot magic/);
    assert.ok(!existsSync(join(directory, 'r1')) && !existsSync(join(directory, 'r1.restoring')));
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

test('get with nobody listening fails (exit 1) as UNAVAILABLE within the timeout', async () => {
  const port = await freePort();
  const started = performance.now();
  const result = await run('get', 'k', '--coordinator', `127.0.0.1:${port}`, '--timeout', '500');
  assert.equal(result.code, 1, result.stderr);
  assert.match(result.stderr, /^error: UNAVAILABLE: .*500 ms/);
  assert.equal(result.stdout, '');
  assert(performance.now() - started < 10_000, 'the command gave up and exited promptly');
});

test('run as a program, the understudy script starts node with the same memory flags as the servers Understudy spawns', async () => {
  const shebang = readFileSync(cli, 'utf8').split('\n')[0] ?? '';
  assert.equal(shebang, `#!/usr/bin/env -S node ${serverNodeFlags.join(' ')}`);
  // Executed directly (as the npm bin link is), the flags reach V8: the young generation stays small.
  const probe = await new Promise<string>((resolve, reject) => {
    execFile(cli, ['--version'], { timeout: 20_000 }, (error, stdout) =>
      error === null ? resolve(stdout) : reject(error),
    );
  });
  assert.match(probe, /^\d+\.\d+\.\d+/);
});

test("a replica started by plain node, without the servers' V8 flags, says so once at start", async () => {
  const directory = mkdtempSync(join(tmpdir(), 'understudy-flags-'));
  const child = spawn(
    process.execPath,
    [
      cli,
      'replica',
      '--id',
      'r1',
      '--listen',
      '127.0.0.1:0',
      '--coordinator',
      `127.0.0.1:${await freePort()}`,
      '--dir',
      directory,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  try {
    let stderr = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no warning within 20 s:\n${stderr}`)), 20_000);
      child.stderr?.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (stderr.includes("started without the servers' V8 flags")) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    assert.match(
      stderr,
      /"missing":\["--max-semi-space-size=1","--heap-growing-percent=50","--single-threaded-gc"\]/,
    );
  } finally {
    if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    rmSync(directory, { recursive: true, force: true });
  }
});
