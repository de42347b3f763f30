// Prompts used before (kept in this browser): one click puts one back in the form.
import type { HistoryEntry } from '../lib/history';

export function PromptHistory({ entries, onPick, onClear }: {
  entries: HistoryEntry[];
  onPick: (entry: HistoryEntry) => void;
  onClear: () => void;
}) {
  return (
    <details className="history">
      <summary>Prompt history ({entries.length})</summary>
      {entries.length === 0 ? (
        <p className="hint">Prompts you generate with are kept here, in this browser.</p>
      ) : (
        <>
          <ul>
            {entries.map((e) => (
              <li key={`${e.at}-${e.prompt}`}>
                <button type="button" className="link" onClick={() => onPick(e)} title={e.negativePrompt ? `Negative: ${e.negativePrompt}` : undefined}>
                  {e.prompt}
                </button>
              </li>
            ))}
          </ul>
          <button type="button" onClick={onClear}>Clear history</button>
        </>
      )}
    </details>
  );
}
