// Dark and light themes: the system's at first, then the person's choice (kept in the browser).
import { useEffect, useState } from 'react';
import { readJson, writeJson } from '../lib/storage';

type Theme = 'light' | 'dark';
const kKey = 'sd-worker-ui.theme';

function initialTheme(): Theme {
  const saved = readJson<Theme | undefined>(kKey, undefined);
  if (saved === 'light' || saved === 'dark') return saved;
  return window.matchMedia?.('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

export function ThemeToggle() {
  const [theme, setTheme] = useState<Theme>(initialTheme);
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
  }, [theme]);
  const next: Theme = theme === 'dark' ? 'light' : 'dark';
  return (
    <button
      type="button"
      className="icon-button"
      aria-label={`Switch to ${next} theme`}
      title={`Switch to ${next} theme`}
      onClick={() => {
        setTheme(next);
        writeJson(kKey, next);
      }}
    >
      {theme === 'dark' ? '☀' : '☾'}
    </button>
  );
}
