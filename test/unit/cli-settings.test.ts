// The server commands' settings (src/cli/settings/): one table makes the flags, the UNDERSTUDY_*
// variables, the config file's schema and `config --defaults`. These tests hold the precedence
// (flag > variable > file > default), both file formats, errors that name the file and the setting,
// unknown settings refused, the defaults' printout, and the example file in examples/config/.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import {
  addSettings,
  settingsOf,
  settingVariables,
  variableOf,
} from '../../src/cli/settings/command-settings.js';
import { ConfigFileError, readConfigFile } from '../../src/cli/settings/config-file.js';
import {
  defaultSettings,
  type ServerCommand,
  serverCommands,
  serverSettings,
} from '../../src/cli/settings/server-settings.js';

const cli = fileURLToPath(new URL('../../../bin/understudy.js', import.meta.url));
const example = fileURLToPath(new URL('../../../examples/config/cluster.yaml', import.meta.url));
const directory = mkdtempSync(join(tmpdir(), 'understudy-settings-'));
after(() => rmSync(directory, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(directory, name);
  writeFileSync(path, text);
  return path;
}

interface Parsed {
  readonly flags: Record<string, unknown>;
  readonly error: string;
}

/**
 * Runs a server command's parsing in this process, with exactly these setting variables set (any
 * of the shell's are put aside meanwhile), and answers what its action would be given.
 */
async function parse(
  command: ServerCommand,
  args: readonly string[],
  variables: Readonly<Record<string, string>> = {},
): Promise<Parsed> {
  const saved = new Map<string, string | undefined>();
  for (const name of settingVariables()) {
    saved.set(name, process.env[name]);
    delete process.env[name];
  }
  Object.assign(process.env, variables);
  let flags: Record<string, unknown> = {};
  let error = '';
  const program = new Command('understudy')
    .exitOverride()
    .configureOutput({ writeErr: (text) => (error += text), writeOut: () => {} });
  addSettings(program.command(command), command).action((given: Record<string, unknown>) => {
    flags = given;
  });
  try {
    await program.parseAsync(['node', 'understudy', command, ...args]);
  } catch {
    // exitOverride: a usage error, written to `error`.
  } finally {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    for (const name of Object.keys(variables)) if (!saved.has(name)) delete process.env[name];
  }
  return { flags, error };
}

const replicaRequired = [
  '--id',
  'r1',
  '--listen',
  '127.0.0.1:0',
  '--coordinator',
  '127.0.0.1:7000',
  '--dir',
  'd',
];

test('precedence: a flag over a variable over the file over the default', async () => {
  const config = file(
    'precedence.yaml',
    'replica:\n  sessionsMax: 11\n  snapshotLogBytes: 12\n  transferRate: 13\n',
  );
  const { flags, error } = await parse(
    'replica',
    [...replicaRequired, '--config', config, '--snapshot-log-bytes', '22'],
    { UNDERSTUDY_SNAPSHOT_LOG_BYTES: '32', UNDERSTUDY_TRANSFER_RATE: '33' },
  );
  assert.equal(error, '');
  assert.equal(flags.snapshotLogBytes, 22, 'the flag wins over the variable and the file');
  assert.equal(flags.transferRate, 33, 'the variable wins over the file');
  assert.equal(flags.sessionsMax, 11, 'the file wins over the default');
  assert.equal(flags.sessionIdleSeconds, 3600, 'the default when nothing says otherwise');
});

test('the config file may come from UNDERSTUDY_CONFIG, and required settings from the file', async () => {
  const config = file(
    'whole.yaml',
    'replica:\n  id: r7\n  listen: 127.0.0.1:0\n  coordinator: 127.0.0.1:7000\n  dir: data/r7\n  admin: 9107\n',
  );
  const { flags, error } = await parse('replica', [], { UNDERSTUDY_CONFIG: config });
  assert.equal(error, '');
  assert.equal(flags.id, 'r7');
  assert.equal(flags.admin, '127.0.0.1:9107', 'a port alone, from a file too, listens on 127.0.0.1');
});

test('a JSON file works as a YAML one does, cluster and log sections included', async () => {
  const config = file(
    'cluster.json',
    JSON.stringify({ cluster: { id: 'orders', syncQuorum: 1, lagPolicy: 'eject' }, log: { level: 'warn' } }),
  );
  const { flags, error } = await parse('coordinator', [
    '--listen',
    '127.0.0.1:0',
    '--dir',
    'd',
    '--config',
    config,
  ]);
  assert.equal(error, '');
  assert.deepEqual(
    [flags.clusterId, flags.syncQuorum, flags.lagPolicy, flags.logLevel],
    ['orders', 1, 'eject', 'warn'],
  );
});

test('a bad value in the file is a usage error naming the file, the setting and the value', async () => {
  const config = file('cluster.yaml', 'replica:\n  snapshotLogBytes: big\n');
  const { error } = await parse('replica', [...replicaRequired, '--config', config]);
  assert.match(
    error,
    /^error: --config \S*cluster\.yaml: replica\.snapshotLogBytes: expected an integer from 1 to 1099511627776, got "big"$/m,
  );
});

test('unknown settings and sections are refused, with what the section takes', () => {
  const config = file('unknown.yaml', 'replica:\n  snapshotLogByte: 5\nlogging:\n  level: info\n');
  assert.throws(
    () => readConfigFile(config),
    (error: unknown) => {
      assert.ok(error instanceof ConfigFileError);
      assert.match(
        error.message,
        /replica\.snapshotLogByte: unknown setting \(replica takes id, listen, .*snapshotLogBytes/,
      );
      assert.match(
        error.message,
        /logging: unknown section \(the sections are cluster, log, coordinator, replica, start\)/,
      );
      return true;
    },
  );
});

test('values are checked as their flags check them', () => {
  const cases: [string, RegExp][] = [
    [
      'cluster:\n  lagPolicy: kick\n',
      /cluster\.lagPolicy: expected one of demote, throttle, eject, got "kick"/,
    ],
    [
      'cluster:\n  backupLagMaxMs: 1\n',
      /cluster\.backupLagMaxMs: expected an integer from 110 to 600000, got 1/,
    ],
    ['replica:\n  listen: nowhere\n', /replica\.listen: bad address "nowhere": expected host:port/],
    [
      'coordinator:\n  recoverFromReplicas: [r1, r1]\n',
      /coordinator\.recoverFromReplicas: .*names an id twice/,
    ],
    ['coordinator:\n  newCluster: yes\n', /coordinator\.newCluster: expected true or false, got "yes"/],
    ['log:\n  level: loud\n', /log\.level: expected one of trace, debug, info, warn, error, fatal, silent/],
    ['replica: 5\n', /replica: expected a mapping of settings, got 5/],
    [
      'replica:\n  snapshotLogBytes: 1.5\n',
      /replica\.snapshotLogBytes: expected an integer from 1 to 1099511627776, got 1\.5/,
    ],
    ['replica:\n  admin: 9107.5\n', /replica\.admin: expected .*, got 9107\.5/],
    [
      'coordinator:\n  recoverFromReplicas: [r1, 2]\n',
      /coordinator\.recoverFromReplicas: expected .*, got \["r1",2\]/,
    ],
    ['replica:\n  id: [r1]\n', /replica\.id: expected .*, got \["r1"\]/],
    ['- a list\n', /the file: expected a mapping of sections/],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => readConfigFile(file('case.yaml', text)), message, text);
  }
  assert.throws(
    () => readConfigFile(file('broken.json', '{"cluster": ')),
    /--config \S+broken\.json: not valid JSON/,
  );
  assert.throws(() => readConfigFile(join(directory, 'missing.yaml')), /missing\.yaml: cannot read it/);
});

test('null and an empty file set nothing', async () => {
  assert.deepEqual(readConfigFile(file('empty.yaml', '# nothing yet\n')), {});
  const config = file('nulls.yaml', 'replica:\n  snapshotLogBytes: null\n  transferRate: ~\n');
  const { flags } = await parse('replica', [...replicaRequired, '--config', config]);
  assert.equal(flags.snapshotLogBytes, 4 * 1024 * 1024);
  assert.equal(flags.transferRate, undefined);
});

test('a required setting missing everywhere names its flag, its place in the file and its variable', async () => {
  const { error } = await parse('replica', ['--id', 'r1', '--coordinator', '127.0.0.1:7000', '--dir', 'd']);
  assert.match(
    error,
    /required option '--listen <host:port>' not specified \(nor replica\.listen in --config, nor UNDERSTUDY_LISTEN\)/,
  );
});

test('a bad variable is a usage error naming the variable', async () => {
  const { error } = await parse('replica', replicaRequired, { UNDERSTUDY_SYNC_QUORUM: 'all' });
  assert.match(
    error,
    /--sync-quorum <k>' value 'all' from env 'UNDERSTUDY_SYNC_QUORUM' is invalid\. expected an integer/,
  );
});

test('the table names each setting once: one place in the file, one flag and one variable per command', () => {
  const places = serverSettings.map((setting) => `${setting.section}.${setting.key}`);
  assert.equal(new Set(places).size, places.length);
  for (const command of serverCommands) {
    const settings = settingsOf(command);
    const flags = settings.map((setting) => setting.flags.split(' ')[0]);
    assert.equal(new Set(flags).size, flags.length, command);
    const variables = settings.map(variableOf).filter((name) => name !== null);
    assert.equal(new Set(variables).size, variables.length, command);
  }
  const snapshotLogBytes = serverSettings.find((setting) => setting.key === 'snapshotLogBytes');
  assert.ok(snapshotLogBytes !== undefined);
  assert.equal(variableOf(snapshotLogBytes), 'UNDERSTUDY_SNAPSHOT_LOG_BYTES');
  assert.ok(settingVariables().has('UNDERSTUDY_CONFIG'));
});

test('the example config file in examples/config/ loads, for every server command', async () => {
  const document = readConfigFile(example);
  assert.equal(document.cluster?.id, 'orders');
  assert.equal(document.replica?.transferRate, 52428800);
  assert.equal(document.coordinator?.admin, '127.0.0.1:9100');
  const { flags, error } = await parse('replica', [
    '--config',
    example,
    '--id',
    'r1',
    '--listen',
    '127.0.0.1:0',
  ]);
  assert.equal(error, '');
  assert.deepEqual(
    [flags.clusterId, flags.coordinator, flags.snapshotLogBytes, flags.logLevel],
    ['orders', '10.0.0.10:7000', 8388608, 'info'],
  );
});

function runCli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { timeout: 20_000 }, (error, stdout, stderr) => {
      resolve({
        code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1,
        stdout,
        stderr,
      });
    });
  });
}

test('config --defaults prints every setting with its default, as YAML and as JSON, and is a valid config file', async () => {
  const yaml = await runCli('config', '--defaults');
  assert.equal(yaml.code, 0, yaml.stderr);
  assert.deepEqual(parseYaml(yaml.stdout), defaultSettings());
  assert.match(
    yaml.stdout,
    /# log bytes since the last snapshot.*\n.*UNDERSTUDY_SNAPSHOT_LOG_BYTES.*\n.*\n {2}snapshotLogBytes: 4194304\n/,
  );
  const json = await runCli('config', '--defaults', '--json');
  assert.equal(json.code, 0, json.stderr);
  const defaults: unknown = JSON.parse(json.stdout);
  assert.deepEqual(defaults, defaultSettings());
  assert.deepEqual(
    Object.keys(defaultSettings().replica).length,
    settingsOf('replica').filter((s) => s.section === 'replica').length,
  );
  // Loaded back, the printout sets exactly the defaults (null: not set).
  const loaded = readConfigFile(file('defaults.yaml', yaml.stdout));
  assert.equal(loaded.replica?.snapshotLogBytes, 4 * 1024 * 1024);
  assert.equal(loaded.replica?.id, undefined);
});

test('docs/OPERATIONS.md lists every setting with its flag and variable', () => {
  const operations = readFileSync(
    fileURLToPath(new URL('../../../docs/OPERATIONS.md', import.meta.url)),
    'utf8',
  );
  for (const setting of serverSettings) {
    const names = [`${setting.section}.${setting.key}`, setting.flags.split(' ')[0], variableOf(setting)];
    for (const name of names)
      if (name !== null) assert.ok(operations.includes(`\`${name}\``), `${name} is in the docs`);
  }
});
