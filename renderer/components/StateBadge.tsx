import type { NodeView } from '../../native/api/types.js';
import { formatAgo } from '../format.js';
import { useCluster } from '../store/clusterStore.js';
import { useNow } from './useNow.js';

const LABELS: Record<NodeView['state'], string> = {
  connecting: 'connecting',
  online: 'online',
  unreachable: 'unreachable',
  offline: 'offline',
  refused: 'refused',
};

/** State in words, with "seen N s ago" once a machine stops answering (ticks only then). */
export function StateBadge({ node }: { node: NodeView }) {
  const away = node.state === 'unreachable' || node.state === 'offline';
  const now = useNow(away);
  const offset = useCluster((s) => s.clockOffsetMs);
  const ago = away ? ` · seen ${formatAgo(now + offset - node.lastSeen)}` : '';
  return (
    <span className={`state state-${node.state}`} data-testid="node-state" data-state={node.state}>
      <span className="state-dot" aria-hidden="true" />
      {LABELS[node.state]}
      {ago}
    </span>
  );
}
