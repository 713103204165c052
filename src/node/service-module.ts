// A service loaded from a module, as `understudy replica --service MODULE` and `understudy start
// --service MODULE` load one. MODULE is a path (`./lock.js`, absolute, or a file: URL) or a package
// name, resolved from the current directory as the user's own code would import it (and, failing
// that, from understudy's own install). Its default export is a StateMachineFactory; it may export
// `service = { name, version }`, which otherwise is its file name without extension (a package: the
// name it was loaded by) and version 1.
//
// Everything is checked before a replica starts, so that a bad module stops the command with a
// ConfigError that says what to fix, rather than a replica that crashes on its first request: the
// module must exist and load, its default export must be a function that is not a class, and what
// that function returns (it is called once, here) must have the StateMachine methods.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ConfigError } from '../errors.js';
import { type ServiceIdentity, serviceIdentityProblem } from '../protocol/service-identity.js';
import type { StateMachineFactory } from '../protocol/state-machine.js';
import { ID_BYTES_MAX } from '../transport/index.js';

/** What a service module exports. */
export interface ServiceModule {
  /** Returns a new state machine, empty, at every call. */
  readonly default: StateMachineFactory;
  /** How the service is named in handshakes; defaults to the module's file name and version 1. */
  readonly service?: ServiceIdentity;
}

export interface LoadedService {
  readonly service: ServiceIdentity;
  readonly createStateMachine: StateMachineFactory;
  /** The file the module was loaded from. */
  readonly file: string;
}

const stateMachineMethods = ['execute', 'query', 'apply', 'snapshot', 'restore'] as const;

/** Loads and checks the service module `specifier`; throws ConfigError for anything wrong with it. */
export async function loadServiceModule(
  specifier: string,
  from: string = process.cwd(),
): Promise<LoadedService> {
  if (specifier.trim() === '') throw new ConfigError('--service needs a module: a path or a package name');
  const byPath = isPathSpecifier(specifier);
  const file = byPath ? resolvePath(specifier, from) : resolvePackage(specifier, from);
  const what = `service module ${specifier}`;
  let exports: Record<string, unknown>;
  try {
    exports = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (error) {
    throw new ConfigError(`${what} (${file}) failed to load: ${describeError(error)}`);
  }
  const createStateMachine = checkFactory(exports.default, what);
  const service = exports.service ?? { name: byPath ? path.parse(file).name : specifier, version: 1 };
  const problem = serviceIdentityProblem(service, ID_BYTES_MAX);
  if (problem !== null) {
    throw new ConfigError(
      `${what} exports a bad \`service\` (${problem}): export { name: string, version: positive integer }, or nothing`,
    );
  }
  const { name, version } = service as ServiceIdentity;
  return { service: { name, version }, createStateMachine, file };
}

/** Paths and file: URLs are files; anything else names a package. */
export function isPathSpecifier(specifier: string): boolean {
  return (
    specifier.startsWith('./') ||
    specifier.startsWith('../') ||
    specifier === '.' ||
    specifier === '..' ||
    specifier.startsWith('file:') ||
    path.isAbsolute(specifier)
  );
}

function resolvePath(specifier: string, from: string): string {
  const file = specifier.startsWith('file:') ? fileURLToPath(specifier) : path.resolve(from, specifier);
  if (!existsSync(file)) throw new ConfigError(`service module ${specifier} not found: there is no ${file}`);
  return file;
}

/** As the user's code in `from` would import it; else as understudy's own code would. */
function resolvePackage(specifier: string, from: string): string {
  const attempts: (() => string)[] = [
    () => createRequire(path.join(from, 'package.json')).resolve(specifier),
    () => fileURLToPath(import.meta.resolve(specifier)),
  ];
  for (const attempt of attempts) {
    try {
      return attempt();
    } catch {
      // Not found this way; try the next.
    }
  }
  const file = path.resolve(from, specifier);
  const hint = existsSync(file)
    ? `; there is a file ${file}: a path starts with ./ (--service ./${specifier})`
    : '. Install it there, or give a path such as ./dist/service.js';
  throw new ConfigError(
    `service module ${specifier} not found: no package of that name from ${from} (nor from understudy's own install)${hint}`,
  );
}

function checkFactory(exported: unknown, what: string): StateMachineFactory {
  const factory = 'a StateMachineFactory (a function that returns a new state machine)';
  if (exported === undefined) {
    throw new ConfigError(`${what} has no default export; it must export default ${factory}`);
  }
  if (typeof exported !== 'function') {
    throw new ConfigError(`${what}: the default export is ${describeValue(exported)}; it must be ${factory}`);
  }
  if (/^class\b/.test(Function.prototype.toString.call(exported))) {
    const name = exported.name === '' ? 'YourService' : exported.name;
    throw new ConfigError(
      `${what}: the default export is the class ${name}; export a factory instead: export default () => new ${name}()`,
    );
  }
  let probe: unknown;
  try {
    probe = (exported as () => unknown)();
  } catch (error) {
    throw new ConfigError(`${what}: calling its default export threw: ${describeError(error)}`);
  }
  if (probe instanceof Promise) {
    throw new ConfigError(
      `${what}: its default export returned a Promise; it must return the state machine itself`,
    );
  }
  const methods = typeof probe === 'object' && probe !== null ? (probe as Record<string, unknown>) : {};
  const missing = stateMachineMethods.filter((method) => typeof methods[method] !== 'function');
  if (missing.length > 0) {
    throw new ConfigError(
      `${what}: its default export returned ${describeValue(probe)}, which lacks ${missing.join(', ')} ` +
        `(a StateMachine has ${stateMachineMethods.join(', ')})`,
    );
  }
  return exported as StateMachineFactory;
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
