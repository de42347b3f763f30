// localStorage / sessionStorage that never throws (private modes, quotas): reads fall back,
// writes are best effort.
export type Store = 'local' | 'session';

function storage(store: Store): Storage | undefined {
  try {
    return store === 'local' ? window.localStorage : window.sessionStorage;
  } catch {
    return undefined;
  }
}

export function readJson<T>(key: string, fallback: T, store: Store = 'local'): T {
  try {
    const text = storage(store)?.getItem(key);
    return text ? (JSON.parse(text) as T) : fallback;
  } catch {
    return fallback;
  }
}

export function writeJson(key: string, value: unknown, store: Store = 'local'): void {
  try {
    storage(store)?.setItem(key, JSON.stringify(value));
  } catch {
    // full or unavailable: the value lives for this page only
  }
}

export function remove(key: string, store: Store = 'local'): void {
  try {
    storage(store)?.removeItem(key);
  } catch {
    // unavailable
  }
}
