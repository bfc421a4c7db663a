import { useId, useRef, useState, type FormEvent } from 'react';
import { useApi } from '../hostContext.js';

const ADDRESS = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/;

/**
 * Adds a machine by address (one the beacons cannot reach: another subnet, a VPN). The engine checks the
 * address again and explains failures: nothing answering there, or the agent refusing our token.
 */
export function AddMachine({ onDone }: { onDone(): void }) {
  const api = useApi();
  const inputId = useId();
  const errorId = useId();
  const input = useRef<HTMLInputElement>(null);
  const [address, setAddress] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [added, setAdded] = useState<string | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const a = address.trim();
    setAdded(null);
    if (!a) return setError('Enter an address, for example 192.168.1.20 or ws-07:47801.');
    if (!ADDRESS.test(a))
      return setError(
        `"${a}" is not an address: use host or host:port, for example 192.168.1.20 or ws-07:47801.`,
      );
    setBusy(true);
    setError(null);
    try {
      const { node } = await api.addMachine({ address: a });
      setAdded(`Added ${node.name} (${node.endpoint.host}:${node.endpoint.controlPort}).`);
      setAddress('');
    } catch (err) {
      setError(`Could not add ${a}: ${(err as Error).message}`);
      input.current?.focus();
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="add-machine" onSubmit={submit} aria-label="Add a machine by address">
      <label htmlFor={inputId}>Machine address</label>
      <input
        id={inputId}
        ref={input}
        autoFocus
        value={address}
        onChange={(e) => setAddress(e.target.value)}
        placeholder="192.168.1.20 or ws-07:47801"
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? errorId : undefined}
        disabled={busy}
        spellCheck={false}
      />
      <button type="submit" disabled={busy}>
        {busy ? 'Connecting…' : 'Add'}
      </button>
      <button type="button" className="secondary" onClick={onDone}>
        Close
      </button>
      {error && (
        <p
          id={errorId}
          className="error-text form-msg"
          role="alert"
          data-testid="add-machine-error"
        >
          {error}
        </p>
      )}
      {added && (
        <p className="ok-text form-msg" role="status">
          {added}
        </p>
      )}
    </form>
  );
}
