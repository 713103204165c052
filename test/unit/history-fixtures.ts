// Operations of a history built by hand for the checkers' tests, as pairOperations would make them:
// a failed or unknown operation has no output, and an unknown one no return.

import type { EventValue, Operation, OperationFunction, OperationStatus } from '../../src/check/index.js';

export function operation(
  process: number,
  f: OperationFunction,
  key: string,
  input: EventValue,
  output: EventValue,
  [call, ret]: readonly [number, number],
  status: OperationStatus = 'ok',
  extra: { readonly index?: number; readonly error?: string } = {},
): Operation {
  return {
    process,
    f,
    key,
    input,
    output: status === 'ok' ? output : null,
    call,
    ret: status === 'info' ? Number.POSITIVE_INFINITY : ret,
    status,
    ...extra,
  };
}
