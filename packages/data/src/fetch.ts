// Downloads come from @mlzoo/core's fetchBytes (one implementation for weights and datasets).
import type { FetchProgress } from '@mlzoo/core';

export { type FetchBytesOptions, fetchBytes } from '@mlzoo/core';

/** Progress of one download or file read (core's FetchProgress). */
export type LoadProgress = FetchProgress;

/** Resolves `fileName` against a base URL taken as a directory (a trailing slash is added if missing). */
export function resolveUrl(base: string, fileName: string): string {
  const directory = base.endsWith('/') ? base : `${base}/`;
  const location = (globalThis as { location?: { href?: string } }).location?.href;
  return new URL(fileName, location == null ? directory : new URL(directory, location)).href;
}
