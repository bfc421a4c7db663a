import { useCluster } from '../store/clusterStore.js';
import { CopyButton } from './CopyButton.js';

/** What a new user sees with no machines: exactly what to run on another workstation. */
export function EmptyState({ onAdd }: { onAdd(): void }) {
  const join = useCluster((s) => s.join);
  const local = useCluster((s) => s.localAgent);
  return (
    <section className="empty" aria-labelledby="empty-title" data-testid="empty-state">
      <h2 id="empty-title">No machines yet</h2>
      <p>
        On each workstation of the lab, install Pipefitter (Node.js 20 or newer) and start its agent
        with this lab's token:
      </p>
      {join ? (
        <div className="command">
          <code data-testid="join-command">{join.command}</code>
          <CopyButton text={join.command} label="Copy the agent command" />
        </div>
      ) : (
        <p className="muted">Loading the lab token…</p>
      )}
      <p>
        Machines on this network appear here by themselves within a few seconds. To keep an agent
        running across reboots, install it as a service (see the README:{' '}
        <code>app/pipefitter-agent.service</code>).
      </p>
      <p>
        Behind a router or VPN, where broadcasts do not reach?{' '}
        <button type="button" className="link-button" onClick={onAdd}>
          Add it by address
        </button>
        .
      </p>
      {local && local.state === 'off' && (
        <p className="muted">
          This workstation's own agent is off; turn it on in the sidebar to show this machine.
        </p>
      )}
      {local && local.state === 'failed' && (
        <p className="error-text">This workstation's agent could not start: {local.detail}</p>
      )}
    </section>
  );
}
