// The three modes as an ARIA tab list (arrow keys move between tabs).
import type { KeyboardEvent } from 'react';

export type Mode = 'txt2img' | 'img2img' | 'inpaint';

export const kModes: { id: Mode; label: string }[] = [
  { id: 'txt2img', label: 'Text to image' },
  { id: 'img2img', label: 'Image to image' },
  { id: 'inpaint', label: 'Inpainting' },
];

export function Tabs({ mode, onChange }: { mode: Mode; onChange: (mode: Mode) => void }) {
  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key !== 'ArrowRight' && e.key !== 'ArrowLeft') return;
    const at = kModes.findIndex((m) => m.id === mode);
    const next = kModes[(at + (e.key === 'ArrowRight' ? 1 : kModes.length - 1)) % kModes.length];
    if (next) {
      onChange(next.id);
      document.getElementById(`tab-${next.id}`)?.focus();
    }
  };
  return (
    <div role="tablist" aria-label="Mode" className="tabs" onKeyDown={onKeyDown}>
      {kModes.map((m) => (
        <button
          key={m.id}
          id={`tab-${m.id}`}
          type="button"
          role="tab"
          aria-selected={mode === m.id}
          aria-controls="mode-panel"
          tabIndex={mode === m.id ? 0 : -1}
          onClick={() => onChange(m.id)}
        >
          {m.label}
        </button>
      ))}
    </div>
  );
}
