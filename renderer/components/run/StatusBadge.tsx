import type { RunStatus } from '../../../native/api/types.js';

const TONE: Record<RunStatus, string> = {
  starting: 'warn',
  running: 'ok',
  completed: 'ok',
  failed: 'bad',
  stopped: 'muted',
  interrupted: 'warn',
};

export function StatusBadge({ status }: { status: RunStatus }) {
  return (
    <span className={`run-status run-status-${TONE[status]}`} data-testid="run-status">
      {status}
    </span>
  );
}
