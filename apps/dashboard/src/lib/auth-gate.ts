/**
 * The API token, asked for once. When the API or ingest answers 401, every request that got it
 * waits on the same question; the analyst answers once, the token is kept for the browser tab
 * (sessionStorage) and sent on every request, upload and WebSocket from then on.
 */

/** Where the token is kept: per tab, gone when the tab closes. */
export const TOKEN_STORAGE_KEY = "floodwatch.apiToken";

/** The analyst dismissed the token dialog. */
export class AuthCancelledError extends Error {
  override readonly name = "AuthCancelledError";
  constructor() {
    super("an API token is required and none was given");
  }
}

/** What the token dialog needs to know. */
export interface TokenRequest {
  /** True when a token was sent and refused, so the dialog says so. */
  rejected: boolean;
}

/** Minimal storage, so tests and private-mode browsers (storage that throws) both work. */
export interface TokenStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** Holds the token and serialises the "ask the analyst" step. */
export class AuthGate {
  #token: string | null;
  #request: TokenRequest | null = null;
  #waiters: { resolve: (token: string) => void; reject: (error: Error) => void }[] = [];
  readonly #listeners = new Set<() => void>();
  readonly #storage: TokenStorage | null;

  constructor(storage: TokenStorage | null = browserSessionStorage()) {
    this.#storage = storage;
    this.#token = safeGet(storage);
  }

  /** The current token, if any. */
  token(): string | null {
    return this.#token;
  }

  /** Headers to add to a request. */
  headers(): Record<string, string> {
    return this.#token === null ? {} : { Authorization: `Bearer ${this.#token}` };
  }

  /** The open question to the analyst, or null; read by the token dialog. */
  pendingRequest = (): TokenRequest | null => this.#request;

  /** Calls `listener` when the question opens or closes, or the token changes. */
  subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  /**
   * Called after a 401 for a request sent with `sentToken`. Resolves with the token to retry with:
   * at once when another request already obtained a newer one, otherwise once the analyst
   * answers. Rejects with {@link AuthCancelledError} when they dismiss the dialog.
   */
  unauthorized(sentToken: string | null): Promise<string> {
    if (this.#token !== null && this.#token !== sentToken) return Promise.resolve(this.#token);
    if (this.#token !== null && this.#token === sentToken) {
      // The kept token is refused (rotated on the server): forget it before asking again.
      this.#token = null;
      safeRemove(this.#storage);
    }
    const promise = new Promise<string>((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
    });
    if (this.#request === null) {
      this.#request = { rejected: sentToken !== null };
      this.#emit();
    }
    return promise;
  }

  /** The analyst's answer. */
  provide(token: string): void {
    const trimmed = token.trim();
    if (trimmed === "") return;
    this.#token = trimmed;
    safeSet(this.#storage, trimmed);
    this.#request = null;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.resolve(trimmed);
    this.#emit();
  }

  /** The analyst dismissed the dialog: every waiting request fails. */
  cancel(): void {
    this.#request = null;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.reject(new AuthCancelledError());
    this.#emit();
  }

  #emit(): void {
    for (const listener of this.#listeners) listener();
  }
}

function browserSessionStorage(): TokenStorage | null {
  try {
    return typeof sessionStorage === "undefined" ? null : sessionStorage;
  } catch {
    // Access to storage can throw when the browser blocks it.
    return null;
  }
}

function safeGet(storage: TokenStorage | null): string | null {
  try {
    return storage?.getItem(TOKEN_STORAGE_KEY) ?? null;
  } catch {
    return null;
  }
}

function safeSet(storage: TokenStorage | null, token: string): void {
  try {
    storage?.setItem(TOKEN_STORAGE_KEY, token);
  } catch {
    // The token still works for this page; it just will not survive a reload.
  }
}

function safeRemove(storage: TokenStorage | null): void {
  try {
    storage?.removeItem(TOKEN_STORAGE_KEY);
  } catch {
    // Nothing to forget.
  }
}
