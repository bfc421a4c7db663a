import { useState } from 'react';
import { useApi } from '../hostContext.js';
import { clusterStore, useCluster } from '../store/clusterStore.js';

const STATE_TEXT = {
  off: 'off',
  starting: 'starting…',
  running: 'running',
  failed: 'failed',
} as const;

/** The setting that turns the embedded agent (this workstation as a node) on or off. */
export function LocalAgentSetting() {
  const api = useApi();
  const settings = useCluster((s) => s.settings);
  const status = useCluster((s) => s.localAgent);
  const [error, setError] = useState<string | null>(null);
  if (!settings) return null;
  return (
    <div className="setting">
      <label>
        <input
          type="checkbox"
          checked={settings.localAgent}
          onChange={(e) => {
            setError(null);
            api
              .setSettings({ localAgent: e.target.checked })
              .then((s) => clusterStore.setState({ settings: s }))
              .catch((err: Error) => setError(err.message));
          }}
        />{' '}
        Run an agent on this workstation
      </label>
      {status && (
        <p className="muted small" data-testid="local-agent-status">
          Local agent: {STATE_TEXT[status.state]}
          {status.detail ? ` (${status.detail})` : ''}
        </p>
      )}
      {error && (
        <p className="error-text small" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
