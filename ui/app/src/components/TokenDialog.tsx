// Asks for the worker's API token (it was started with --api-token): kept for this tab, or on
// this device when the person says so.
import { useId, useState, type FormEvent } from 'react';
import { Field } from './Field';

export function TokenDialog({ rejected, onSubmit }: { rejected: boolean; onSubmit: (token: string, remember: boolean) => void }) {
  const [token, setToken] = useState('');
  const [remember, setRemember] = useState(false);
  const titleId = useId();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (token.trim()) onSubmit(token.trim(), remember);
  };
  return (
    <div className="dialog-backdrop">
      <form className="dialog" role="dialog" aria-modal="true" aria-labelledby={titleId} onSubmit={submit}>
        <h2 id={titleId}>This worker needs a token</h2>
        <p>Give the API token the worker was started with (<code>--api-token</code>).</p>
        {rejected ? <p role="alert" className="error">That token was refused.</p> : null}
        <Field id="field-token" label="API token">
          <input id="field-token" type="password" autoComplete="current-password" autoFocus value={token}
            onChange={(e) => setToken(e.target.value)} />
        </Field>
        <label className="check">
          <input type="checkbox" checked={remember} onChange={(e) => setRemember(e.target.checked)} />
          <span>Remember on this device</span>
        </label>
        <button type="submit" className="primary" disabled={!token.trim()}>
          Use token
        </button>
      </form>
    </div>
  );
}
