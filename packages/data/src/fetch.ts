// Downloads with progress through the standard fetch API (browsers and Node >= 18).

/** Progress of one download or file read. `totalBytes` is undefined when the server sends no length. */
export interface LoadProgress {
  /** The URL or path being read. */
  source: string;
  loadedBytes: number;
  totalBytes: number | undefined;
}

/** Options for {@link fetchBytes}. */
export interface FetchBytesOptions {
  /** Called as bytes arrive, and once more when the download is complete. */
  onProgress?: (progress: LoadProgress) => void;
  /** A fetch implementation to use instead of `globalThis.fetch` (e.g. one that adds headers). */
  fetch?: typeof globalThis.fetch;
  signal?: AbortSignal;
}

/** Fetches `url` into memory, reporting progress; a non-2xx response is an error naming the URL. */
export async function fetchBytes(url: string, options: FetchBytesOptions = {}): Promise<Uint8Array> {
  const fetchFunction = options.fetch ?? globalThis.fetch;
  if (typeof fetchFunction !== 'function')
    throw new Error(`fetchBytes: no fetch function available to load ${url}`);
  let response: Response;
  try {
    response = await fetchFunction(url, options.signal ? { signal: options.signal } : undefined);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`${url}: request failed (${reason})`);
  }
  if (!response.ok)
    throw new Error(`${url}: server answered ${response.status} ${response.statusText}`.trimEnd());
  const lengthHeader = response.headers.get('content-length');
  const declared = lengthHeader == null ? Number.NaN : Number(lengthHeader);
  const totalBytes = Number.isFinite(declared) && declared >= 0 ? declared : undefined;
  const onProgress = options.onProgress;
  if (response.body == null) {
    const bytes = new Uint8Array(await response.arrayBuffer());
    onProgress?.({ source: url, loadedBytes: bytes.length, totalBytes: bytes.length });
    return bytes;
  }
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let loadedBytes = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loadedBytes += value.length;
    onProgress?.({ source: url, loadedBytes, totalBytes });
  }
  const bytes = new Uint8Array(loadedBytes);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  onProgress?.({ source: url, loadedBytes, totalBytes: loadedBytes });
  return bytes;
}

/** Resolves `fileName` against a base URL taken as a directory (a trailing slash is added if missing). */
export function resolveUrl(base: string, fileName: string): string {
  const directory = base.endsWith('/') ? base : `${base}/`;
  const location = (globalThis as { location?: { href?: string } }).location?.href;
  return new URL(fileName, location == null ? directory : new URL(directory, location)).href;
}
