// CPU per operation (src/bench/process-cpu.ts): the times read from /proc/PID/stat, whatever the
// process's name holds; the division by the operations, and no figure at all when a process could
// not be read or nothing completed; and a reading of this very process that sees CPU it spent.

import assert from 'node:assert/strict';
import { platform } from 'node:os';
import { test } from 'node:test';
import {
  CpuMeter,
  cpuTicksOfStat,
  formatCpu,
  formatKernelCpu,
  perOperation,
} from '../../src/bench/process-cpu.js';

/** A /proc/PID/stat line whose utime and stime (fields 14 and 15) are given. */
function statLine(name: string, user: number, system: number): string {
  const afterName = [
    'S',
    '1',
    '2',
    '3',
    '0',
    '-1',
    '4194560',
    '10',
    '0',
    '0',
    '0',
    user,
    system,
    '0',
    '0',
    '20',
  ];
  return `4242 (${name}) ${afterName.join(' ')} 0 1 0 12345 67890\n`;
}

test('the times are read after the last parenthesis, so a name with spaces and parentheses is no trouble', () => {
  assert.deepEqual(cpuTicksOfStat(statLine('node', 150, 70)), { total: 220, kernel: 70 });
  assert.deepEqual(cpuTicksOfStat(statLine('a (b) c) 9 9', 3, 4)), { total: 7, kernel: 4 });
  assert.equal(cpuTicksOfStat('4242 (node) S'), null, 'a cut line has no times');
});

/** CPU times in seconds: user + system, and system. */
const times = (total: number, kernel: number) => ({ total, kernel });

test('each process is divided by the operations, and the servers are summed apart from the client', () => {
  const before = new Map([
    ['coordinator', times(1.0, 0.5)],
    ['r1', times(2.0, 1.0)],
    ['client', times(0.5, 0.2)],
  ]);
  const after = new Map([
    ['coordinator', times(1.1, 0.52)],
    ['r1', times(3.0, 1.4)],
    ['client', times(0.8, 0.3)],
  ]);
  const cpu = perOperation(before, after, 10_000);
  assert.deepEqual(cpu, {
    serversMicros: 110,
    clientMicros: 30,
    byProcess: { coordinator: 10, r1: 100 },
    serversKernelMicros: 42,
    clientKernelMicros: 10,
  });
  assert.equal(formatCpu(cpu), '110 + 30');
  assert.equal(formatKernelCpu(cpu), '42 + 10');
  assert.equal(
    formatCpu({
      serversMicros: 2952,
      clientMicros: 12,
      byProcess: {},
      serversKernelMicros: 0,
      clientKernelMicros: 0,
    }),
    '2,952 + 12',
  );
});

test('no figure when a process was not read either time, or when nothing completed', () => {
  const read = new Map([
    ['r1', times(2.0, 1.0)],
    ['client', times(0.5, 0.2)],
  ]);
  assert.equal(
    perOperation(
      read,
      new Map([
        ['r1', times(3.0, 1.5)],
        ['client', null],
      ]),
      100,
    ),
    null,
  );
  assert.equal(
    perOperation(
      new Map([
        ['r1', null],
        ['client', times(0.5, 0.2)],
      ]),
      read,
      100,
    ),
    null,
  );
  assert.equal(perOperation(read, read, 0), null);
  assert.equal(formatCpu(null), '—');
  assert.equal(formatKernelCpu(null), '—');
});

test('a reading of this process sees the CPU it spent', { skip: platform() !== 'linux' }, async () => {
  const meter = new CpuMeter(() => [{ name: 'self', pid: process.pid }]);
  const spendMicros = 200_000;
  const measured = await meter.measure(async () => {
    // Spent by the CPU clock, not the wall clock: a busy machine may deschedule this loop.
    const start = process.cpuUsage();
    let spent = 0;
    while (spent < spendMicros) {
      const usage = process.cpuUsage(start);
      spent = usage.user + usage.system;
    }
    return { ops: 1 };
  });
  assert.ok(measured.cpu !== null);
  const { self } = measured.cpu.byProcess;
  assert.ok(self !== undefined);
  // /proc counts in clock ticks (10 ms): allow two of them, and other threads' work on top.
  assert.ok(self >= spendMicros - 20_000, `read ${self} µs, spent at least ${spendMicros}`);
  assert.ok(measured.cpu.clientMicros >= spendMicros - 20_000);
});
