// Which service a replica runs: a name and a version, announced in every handshake a replica makes.
// Backups apply the updates the primary's service produced, so two replicas of one cluster must run
// the same service in the same version (the version names the format of its operations, updates and
// snapshots): one that differs is refused at the handshake and never joins a view.

export interface ServiceIdentity {
  /** Non-empty, at most ID_BYTES_MAX bytes of UTF-8. */
  readonly name: string;
  /** A positive integer; change it only when replicas of the old and new code must not share a log. */
  readonly version: number;
}

export function sameService(a: ServiceIdentity, b: ServiceIdentity): boolean {
  return a.name === b.name && a.version === b.version;
}

/** `"lock" version 2`, as errors and logs name a service. */
export function describeService(service: ServiceIdentity): string {
  return `${JSON.stringify(service.name)} version ${service.version}`;
}

/** Why `value` is not a service identity, or null when it is one. */
export function serviceIdentityProblem(value: unknown, nameBytesMax: number): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'it is not an object';
  const { name, version } = value as Record<string, unknown>;
  if (typeof name !== 'string' || name === '') return '"name" must be a non-empty string';
  if (new TextEncoder().encode(name).length > nameBytesMax) {
    return `"name" must be at most ${nameBytesMax} bytes`;
  }
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) {
    return '"version" must be a positive integer';
  }
  return null;
}
