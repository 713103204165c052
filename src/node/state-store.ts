// The coordinator's durable memory: the current view and the incarnation of its primary, in one
// small file replaced atomically (write a temporary file, fsync it, rename over the old one,
// fsync the directory).

import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '../errors.js';
import type { CoordinatorState } from '../protocol/effects.js';
import { replicaId, viewNumber } from '../protocol/types.js';

const fileName = 'coordinator-state.json';

interface StoredState {
  view: { number: number; primary: string; backups: string[]; learners: string[] } | null;
  primaryIncarnation: number | null;
}

export class StateStore {
  private readonly file: string;

  constructor(private readonly directory: string) {
    fs.mkdirSync(directory, { recursive: true });
    this.file = path.join(directory, fileName);
  }

  load(): CoordinatorState {
    if (!fs.existsSync(this.file)) return { view: null, primaryIncarnation: null };
    try {
      const stored = JSON.parse(fs.readFileSync(this.file, 'utf8')) as StoredState;
      const view = stored.view;
      if (view !== null && (!Number.isInteger(view.number) || typeof view.primary !== 'string')) {
        throw new Error('the view lacks a number or a primary');
      }
      return {
        view:
          view === null
            ? null
            : {
                number: viewNumber(view.number),
                primary: replicaId(view.primary),
                backups: view.backups.map(replicaId),
                learners: view.learners.map(replicaId),
              },
        primaryIncarnation: typeof stored.primaryIncarnation === 'number' ? stored.primaryIncarnation : null,
      };
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new ConfigError(`${this.file} is not a valid coordinator state: ${reason}`);
    }
  }

  save(state: CoordinatorState): void {
    const temporary = `${this.file}.tmp`;
    const fd = fs.openSync(temporary, 'w');
    try {
      fs.writeSync(fd, JSON.stringify(state));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temporary, this.file);
    const directoryFd = fs.openSync(this.directory, 'r');
    try {
      fs.fsyncSync(directoryFd);
    } finally {
      fs.closeSync(directoryFd);
    }
  }
}
