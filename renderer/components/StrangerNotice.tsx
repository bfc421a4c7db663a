import { useCluster } from '../store/clusterStore.js';
import { useNow } from './useNow.js';
import { formatAgo } from '../format.js';

/**
 * Agents or strangers whose beacons do not prove this lab's token get one line per address, never a
 * machine card: a flood with fresh ids must not fill the view.
 */
export function StrangerNotice() {
  const strangers = useCluster((s) => s.strangers);
  const offset = useCluster((s) => s.clockOffsetMs);
  const now = useNow(strangers.length > 0) + offset;
  if (strangers.length === 0) return null;
  return (
    <ul
      className="stranger-notice muted"
      aria-label="Unauthenticated beacons"
      data-testid="strangers"
    >
      {strangers.slice(0, 5).map((s) => (
        <li key={s.address}>
          {s.beacons} unauthenticated {s.beacons === 1 ? 'beacon' : 'beacons'} from {s.address}{' '}
          (last {formatAgo(now - s.lastSeen)}): an agent with another lab token, an older
          Pipefitter, or a stranger on the network. Nothing was opened for them.
        </li>
      ))}
      {strangers.length > 5 && <li>…and {strangers.length - 5} more addresses.</li>}
    </ul>
  );
}
