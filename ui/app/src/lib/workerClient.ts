// The app's client of the worker that serves it: the API is at the origin's root, one level
// above /ui/ (so a proxy prefix such as /worker/ui/ -> /worker/ works too), and the token the
// person gave is kept for this tab (or on this device when they asked).
import { SdWorkerClient } from 'sd-worker-sdk';
import { readJson, remove, writeJson } from './storage';

const kTokenKey = 'sd-worker-ui.token';

export function apiBaseUrl(location: Location = window.location): string {
  const url = new URL('..', location.href);
  return url.href.replace(/\/$/, '');
}

export function storedToken(): string | undefined {
  return readJson<string | undefined>(kTokenKey, undefined, 'session') ?? readJson<string | undefined>(kTokenKey, undefined, 'local');
}

export function storeToken(token: string | undefined, remember: boolean): void {
  remove(kTokenKey, 'session');
  remove(kTokenKey, 'local');
  if (token) writeJson(kTokenKey, token, remember ? 'local' : 'session');
}

export function createClient(): SdWorkerClient {
  return new SdWorkerClient({ baseUrl: apiBaseUrl(), token: storedToken(), hiveId: 'sd-worker-ui' });
}
