import type { z } from 'zod';
import { operations } from './operations.js';
import { isOperationName, OPERATION_NAMES, type OperationName } from './operationNames.js';
import type { ApiErrorCode } from './schemas.js';

/** An error that crosses the API boundary with a code the UI can branch on and words a person can read. */
export class ApiError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** "address: use host or host:port…; id: expected string" — one line naming every bad field. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join('.') : '(request)'}: ${i.message}`)
    .join('; ');
}

export function checkOperation(op: unknown): OperationName {
  if (!isOperationName(op))
    throw new ApiError(
      'unknown-operation',
      `unknown operation ${JSON.stringify(op)}; known: ${OPERATION_NAMES.join(', ')}`,
    );
  return op;
}

/** The one gate every transport calls before a handler runs: unknown operations and bad payloads stop here. */
export function parseRequest<K extends OperationName>(
  op: K,
  payload: unknown,
): z.output<(typeof operations)[K]['request']> {
  const r = operations[op].request.safeParse(payload === undefined ? {} : payload);
  if (!r.success)
    throw new ApiError('bad-request', `${op}: invalid request: ${describeIssues(r.error)}`);
  return r.data as z.output<(typeof operations)[K]['request']>;
}

/** Responses are checked too: a handler that drifts from the contract is a bug, reported as such. */
export function parseResponse<K extends OperationName>(
  op: K,
  value: unknown,
): z.output<(typeof operations)[K]['response']> {
  const r = operations[op].response.safeParse(value);
  if (!r.success)
    throw new ApiError('bad-response', `${op}: invalid response: ${describeIssues(r.error)}`);
  return r.data as z.output<(typeof operations)[K]['response']>;
}
