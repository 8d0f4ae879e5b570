import type { StandardSchemaV1 } from '@standard-schema/spec';

/**
 * The `code` of a {@link HostCallError}. The guest sees it in the error message, after the
 * qualified function name: `host:db.get: … (ERR_HOST_ARGUMENTS)`.
 *
 * - `ERR_HOST_ARGUMENTS`: the guest's arguments failed their schemas, or there were too many;
 * - `ERR_HOST_TIMEOUT`: the implementation did not settle within the function's `timeoutMs`;
 * - `ERR_HOST_RESULT`: the implementation's result failed the function's `returns` schema;
 * - `ERR_HOST_DENIED`: a capability module refused the request (an origin or method not allowed,
 *   a read-only value, …);
 * - `ERR_HOST_LIMIT`: a capability module's size or volume limit was reached.
 * @public
 */
export type HostCallErrorCode =
  | 'ERR_HOST_ARGUMENTS'
  | 'ERR_HOST_TIMEOUT'
  | 'ERR_HOST_RESULT'
  | 'ERR_HOST_DENIED'
  | 'ERR_HOST_LIMIT';

/**
 * One validation issue of a host-function call, with the path from the argument list:
 * `[0, 'email']` is the `email` property of the first argument.
 * @public
 */
export interface HostCallIssue {
  /** The schema library's message. */
  readonly message: string;
  /** The path from the argument list: the argument's index first. */
  readonly path: readonly PropertyKey[];
}

/**
 * An error a host-module wrapper throws (or rejects with) instead of running, or after running,
 * the implementation. The binding turns it into an `Error` thrown in the guest with the same
 * `message`, which the guest can catch; the message starts with the qualified function name
 * (`host:<module>.<function>`) and carries the `code` in parentheses.
 * @public
 */
export class HostCallError extends Error {
  /** What went wrong. */
  readonly code: HostCallErrorCode;
  /** `host:<module>.<function>`. */
  readonly function: string;
  /** The validation issues (`ERR_HOST_ARGUMENTS`, `ERR_HOST_RESULT`), else empty. */
  readonly issues: readonly HostCallIssue[];

  /** Builds the error; `detail` follows the function name and precedes the code. */
  constructor(
    code: HostCallErrorCode,
    qualifiedName: string,
    detail: string,
    issues: readonly HostCallIssue[] = [],
    options?: { cause?: unknown },
  ) {
    const lines = issues.map((issue) => `\n  ${formatPath(issue.path)}: ${issue.message}`);
    super(`${qualifiedName}: ${detail} (${code})${lines.join('')}`, options);
    this.name = 'HostCallError';
    this.code = code;
    this.function = qualifiedName;
    this.issues = issues;
  }
}

/**
 * Thrown synchronously when a host module or capability module is defined or installed with a
 * bad argument (a bad name, a value that is not a Standard Schema, a bad timeout or limit). Its
 * `code` is `'ERR_INVALID_ARG'`, the same code as the binding's argument errors.
 * @public
 */
export class HostModuleDefinitionError extends TypeError {
  /** Always `'ERR_INVALID_ARG'`. */
  readonly code = 'ERR_INVALID_ARG' as const;
  /** Builds the error. */
  constructor(message: string) {
    super(message);
    this.name = 'HostModuleDefinitionError';
  }
}

/** `arguments[0].user.email`, `arguments[1][2]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const [i, key] of path.entries()) {
    if (i === 0 && typeof key === 'number') out += `arguments[${key}]`;
    else if (i === 0 && typeof key === 'string') out += key;
    else if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'string' && /^[A-Za-z_$][\w$]*$/.test(key)) out += `.${key}`;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out || 'arguments';
}

/** The issues of a Standard Schema failure, prefixed with `prefix` (the argument index). */
export function issuesAt(
  prefix: readonly PropertyKey[],
  issues: ReadonlyArray<StandardSchemaV1.Issue>,
): HostCallIssue[] {
  return issues.map((issue) => ({
    message: issue.message,
    path: [
      ...prefix,
      ...(issue.path ?? []).map((segment) =>
        typeof segment === 'object' && segment !== null ? segment.key : segment,
      ),
    ],
  }));
}
