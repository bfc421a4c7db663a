import { createStore } from 'zustand/vanilla';
import { useStore } from 'zustand';

/**
 * Bumped when links were re-timed behind the node list's back: "Measure" re-times a machine's links
 * after its speed arrives, so the speed's node event comes too early to refresh the Links list.
 */
const linksEpoch = createStore<{ epoch: number }>(() => ({ epoch: 0 }));

export function linksRemeasured(): void {
  linksEpoch.setState((s) => ({ epoch: s.epoch + 1 }));
}

export function useLinksEpoch(): number {
  return useStore(linksEpoch, (s) => s.epoch);
}
