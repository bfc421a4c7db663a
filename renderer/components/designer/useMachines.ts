import { useMemo } from 'react';
import { onlineMachines, type DesignerMachine } from '../../designer/machines.js';
import { useCluster } from '../../store/clusterStore.js';

const MiB64 = 64 * 1024 ** 2;

/**
 * The online machines, re-rendering only when one joins, leaves, is measured or its free memory moves by
 * 64 MiB or more — not on every telemetry sample.
 */
export function useMachines(): DesignerMachine[] {
  const key = useCluster((s) =>
    JSON.stringify(
      onlineMachines(s.nodes).map((m) => ({
        ...m,
        freeBytes: m.freeBytes === null ? null : Math.floor(m.freeBytes / MiB64) * MiB64,
      })),
    ),
  );
  return useMemo(() => JSON.parse(key) as DesignerMachine[], [key]);
}
