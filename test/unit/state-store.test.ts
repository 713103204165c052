// The coordinator's state file: every byte is written before the rename (short writes are resumed,
// failures leave the previous good file), and a missing or garbled file loads as the empty state or a
// ConfigError, never as a half-read state.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { ConfigError } from '../../src/errors.js';
import { type StateFileWriter, StateStore } from '../../src/node/state-store.js';
import { type CoordinatorState, emptyCoordinatorState } from '../../src/protocol/effects.js';
import { SCAN_SEED_FORMAT_LEVEL } from '../../src/protocol/format-level.js';
import { replicaId, viewNumber } from '../../src/protocol/types.js';

const stateFile = 'coordinator-state.json';

const state = (number: number, acknowledgedIncarnation: number | null): CoordinatorState => {
  const view = {
    number: viewNumber(number),
    primary: replicaId('replica-a'),
    backups: [replicaId('replica-b'), replicaId('replica-ç')],
    learners: [replicaId('replica-d')],
  };
  const identities = {
    'replica-a': { incarnation: acknowledgedIncarnation ?? 1, directory: 'directory-a' },
    'replica-b': { incarnation: 2, directory: 'directory-b' },
  };
  const current = { view, identities };
  return {
    current,
    acknowledged: acknowledgedIncarnation !== null,
    lastAcknowledged: acknowledgedIncarnation !== null ? current : null,
    formatLevel: SCAN_SEED_FORMAT_LEVEL,
  };
};

function withDirectory(body: (directory: string) => void): void {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'understudy-state-'));
  try {
    body(directory);
  } finally {
    fs.rmSync(directory, { recursive: true, force: true });
  }
}

/** Writes at most `bytesPerCall` per call, as a nearly full disk may; counts the calls. */
function shortWriter(bytesPerCall: number): StateFileWriter & { calls: number } {
  return {
    calls: 0,
    writeSync(fd, buffer, offset, length) {
      this.calls++;
      return fs.writeSync(fd, buffer, offset, Math.min(bytesPerCall, length));
    },
  };
}

/** Writes `bytesBeforeFailing` bytes, then fails like a full disk. */
function failingWriter(bytesBeforeFailing: number): StateFileWriter {
  let written = 0;
  return {
    writeSync(fd, buffer, offset, length) {
      if (written >= bytesBeforeFailing) {
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      }
      const count = fs.writeSync(fd, buffer, offset, Math.min(length, bytesBeforeFailing - written));
      written += count;
      return count;
    },
  };
}

test('a writer that writes at most 7 bytes per call still produces a file that loads back equal', () => {
  withDirectory((directory) => {
    const writer = shortWriter(7);
    const saved = state(12, 3);
    new StateStore(directory, writer).save(saved);
    assert.ok(writer.calls > 10, `expected many short writes, got ${writer.calls}`);
    assert.deepStrictEqual(new StateStore(directory).load(), saved);
  });
});

test('a writer that fails part way throws and leaves the previous good file in place', () => {
  withDirectory((directory) => {
    const previous = state(4, 1);
    new StateStore(directory).save(previous);
    const before = fs.readFileSync(path.join(directory, stateFile));

    const store = new StateStore(directory, failingWriter(20));
    assert.throws(() => store.save(state(5, null)), /ENOSPC/);
    assert.deepStrictEqual(fs.readFileSync(path.join(directory, stateFile)), before);
    assert.deepStrictEqual(store.load(), previous);
    assert.deepStrictEqual(fs.readdirSync(directory), [stateFile], 'the partial temporary file is removed');
  });
});

test('a write that makes no progress is an error, not an endless loop, and the previous file stays', () => {
  withDirectory((directory) => {
    new StateStore(directory).save(state(4, 1));
    const stuck = new StateStore(directory, { writeSync: () => 0 });
    assert.throws(() => stuck.save(state(5, null)), /made no progress at byte 0 of \d+/);
    assert.deepStrictEqual(stuck.load(), state(4, 1));
  });
});

test('the store says how long its longest save took since it was last asked (a stall it caused), then starts again', () => {
  withDirectory((directory) => {
    // A disk that holds each write 60 ms: the save runs on the caller's event loop, so it waits.
    const held = new Int32Array(new SharedArrayBuffer(4));
    const slow: StateFileWriter = {
      writeSync: (fd, buffer, offset, length) => {
        Atomics.wait(held, 0, 0, 60);
        return fs.writeSync(fd, buffer, offset, length);
      },
    };
    const store = new StateStore(directory, slow);
    assert.equal(store.takeLongestSaveMs(), 0, 'nothing saved yet');
    store.save(state(4, 1));
    const savedMs = store.takeLongestSaveMs();
    assert.ok(savedMs >= 59, `the save took ${savedMs} ms`);
    assert.equal(store.takeLongestSaveMs(), 0, 'taken, it starts again');
  });
});

test('a missing file loads as no state, and a saved empty state round-trips', () => {
  withDirectory((directory) => {
    const store = new StateStore(path.join(directory, 'not-yet'));
    assert.equal(store.load(), null);
    store.save(emptyCoordinatorState);
    assert.deepStrictEqual(store.load(), emptyCoordinatorState);
  });
});

test('a state a build before format levels wrote loads at format level 1; the level is kept from then on', () => {
  withDirectory((directory) => {
    const { formatLevel: _level, ...older } = state(3, 1);
    fs.writeFileSync(path.join(directory, stateFile), JSON.stringify({ format: 2, ...older }));
    const store = new StateStore(directory);
    assert.deepStrictEqual(store.load(), { ...older, formatLevel: 1 });
    store.save(state(4, 1));
    assert.equal(store.load()?.formatLevel, 2);
  });
});

test('a garbled file is a ConfigError that names the file', () => {
  const whole = JSON.stringify(state(7, 2));
  const garbled = [
    'not json',
    '',
    whole.slice(0, whole.length - 5), // a short write that was renamed anyway
    'null',
    '[]',
    // Written by the previous version: refused, not misread.
    '{"view": null, "primaryIncarnation": null}',
    '{"format": 2, "current": 5, "acknowledged": false, "lastAcknowledged": null}',
    '{"format": 2, "current": null, "acknowledged": "yes", "lastAcknowledged": null}',
    '{"format": 2, "current": {"view": {"number": 1, "primary": "a"}, "identities": {}}, "acknowledged": false, "lastAcknowledged": null}',
    '{"format": 2, "current": {"view": {"number": 1, "primary": "a", "backups": ["b", 2], "learners": []}, "identities": {}}, "acknowledged": false, "lastAcknowledged": null}',
    '{"format": 2, "current": {"view": {"number": -1, "primary": "a", "backups": [], "learners": []}, "identities": {}}, "acknowledged": false, "lastAcknowledged": null}',
    '{"format": 2, "current": {"view": {"number": 1, "primary": "a", "backups": [], "learners": []}, "identities": {"a": {"incarnation": "1", "directory": "d"}}}, "acknowledged": false, "lastAcknowledged": null}',
    '{"format": 2, "current": null, "acknowledged": false, "lastAcknowledged": null, "formatLevel": 0}',
    '{"format": 2, "current": null, "acknowledged": false, "lastAcknowledged": null, "formatLevel": "2"}',
  ];
  for (const content of garbled) {
    withDirectory((directory) => {
      fs.writeFileSync(path.join(directory, stateFile), content);
      assert.throws(
        () => new StateStore(directory).load(),
        (error: unknown) =>
          error instanceof ConfigError &&
          error.message.includes(path.join(directory, stateFile)) &&
          error.message.includes('is not a valid coordinator state'),
        `content ${JSON.stringify(content)}`,
      );
    });
  }
});
