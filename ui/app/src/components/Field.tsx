// A labelled control: the label names the control by `for`, not by wrapping it (a wrapping label
// would put the control's own value into its accessible name).
import type { ReactNode } from 'react';

export function Field({ id, label, extra, className = 'field', children }: {
  id: string;
  label: string;
  extra?: ReactNode;  // shown after the label, outside the name (e.g. the current value)
  className?: string;
  children: ReactNode;
}) {
  return (
    <div className={className}>
      <span className="label-row">
        <label htmlFor={id}>{label}</label>
        {extra}
      </span>
      {children}
    </div>
  );
}
