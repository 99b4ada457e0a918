// Errors the CLI reports as one line: a message for the user, no stack trace unless --verbose.

/** An error whose message is meant for the user as is (bad option, missing file). */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/** True for Node's "no such file" errors. */
export function isMissingFile(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

/** The first line of an error's message, for one-line reports. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/** Parses a positive integer option; the message names the option. */
export function parsePositiveInteger(name: string, value: string | number | undefined): number | undefined {
  if (value == null) return undefined;
  const number = typeof value === 'number' ? value : Number(value);
  if (!Number.isInteger(number) || number < 1) {
    throw new UsageError(`${name} must be a positive integer, got '${value}'`);
  }
  return number;
}

/** Parses a non-negative integer option (seeds). */
export function parseNonNegativeInteger(
  name: string,
  value: string | number | undefined,
): number | undefined {
  if (value == null) return undefined;
  const number = typeof value === 'number' ? value : value.trim() === '' ? Number.NaN : Number(value);
  if (!Number.isInteger(number) || number < 0) {
    throw new UsageError(`${name} must be a non-negative integer, got '${value}'`);
  }
  return number;
}

/** Parses a positive finite number option (learning rates). */
export function parsePositiveNumber(name: string, value: string | number | undefined): number | undefined {
  if (value == null) return undefined;
  const number = typeof value === 'number' ? value : Number(value);
  if (!Number.isFinite(number) || number <= 0) {
    throw new UsageError(`${name} must be a positive number, got '${value}'`);
  }
  return number;
}
