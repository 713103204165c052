// The CLI loads only the group of commands its command line names (src/cli/command-groups.ts). Each
// group's table of names must be exactly what the group adds: a name listed under another group
// would load that one alone, and the command would be "unknown"; one left out would load every group
// (it still runs, but starts as slowly as before).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Command } from 'commander';
import { commandGroups, groupsFor } from '../../src/cli/command-groups.js';

test('each group names exactly the commands it adds, and no name is in two groups', async () => {
  for (const group of commandGroups) {
    const program = new Command('understudy');
    await group.add(program);
    assert.deepEqual(
      program.commands.map((command) => command.name()),
      group.names,
    );
  }
  const names = commandGroups.flatMap((group) => group.names);
  assert.equal(new Set(names).size, names.length);
});

test('a command line naming a command loads its group alone, --version none, anything else every group', () => {
  const line = (...args: string[]) => ['node', 'understudy', ...args];
  assert.deepEqual(
    groupsFor(line('get', 'k')).map((group) => group.names[0]),
    ['put'],
  );
  assert.deepEqual(
    groupsFor(line('replica', '--id', 'r1')).map((group) => group.names),
    [['coordinator', 'replica', 'start']],
  );
  assert.deepEqual(groupsFor(line('--version')), []);
  assert.deepEqual(groupsFor(line('-V')), []);
  for (const other of [line(), line('--help'), line('--version', 'get'), line('help', 'get'), line('gett')]) {
    assert.equal(groupsFor(other), commandGroups, other.join(' '));
  }
});
