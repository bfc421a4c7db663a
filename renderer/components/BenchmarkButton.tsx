import { useState } from 'react';
import { useApi } from '../hostContext.js';
import { linksRemeasured } from '../store/linksStore.js';

/**
 * Asks the agent to measure its speed (and its links) again; the new speed arrives through the event
 * stream, the links through the Links list's refresh.
 */
export function BenchmarkButton({
  id,
  name,
  disabled,
}: {
  id: string;
  name: string;
  disabled: boolean;
}) {
  const api = useApi();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  return (
    <span className="bench">
      <button
        type="button"
        className="link-button"
        disabled={disabled || busy}
        aria-label={`Measure the speed of ${name}`}
        onClick={() => {
          setBusy(true);
          setError(null);
          api
            .benchmarkNode({ id })
            .then(linksRemeasured)
            .catch((e: Error) => setError(e.message))
            .finally(() => setBusy(false));
        }}
      >
        {busy ? 'measuring…' : 'measure'}
      </button>
      {error && (
        <span className="error-text" role="alert">
          {error}
        </span>
      )}
    </span>
  );
}
