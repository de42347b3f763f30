// Prompt history kept in the browser (localStorage): newest first, no duplicates, at most 50.
import { readJson, remove, writeJson } from './storage';

export interface HistoryEntry {
  prompt: string;
  negativePrompt: string;
  at: number;
}

const kKey = 'sd-worker-ui.history';
export const kMaxHistory = 50;

export function loadHistory(): HistoryEntry[] {
  const list = readJson<unknown>(kKey, []);
  return Array.isArray(list) ? (list.filter((e) => typeof e?.prompt === 'string') as HistoryEntry[]) : [];
}

export function addToHistory(history: HistoryEntry[], prompt: string, negativePrompt: string): HistoryEntry[] {
  const next = [
    { prompt, negativePrompt, at: Date.now() },
    ...history.filter((e) => e.prompt !== prompt || e.negativePrompt !== negativePrompt),
  ].slice(0, kMaxHistory);
  writeJson(kKey, next);
  return next;
}

export function clearHistory(): HistoryEntry[] {
  remove(kKey);
  return [];
}
