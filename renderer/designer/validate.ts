/**
 * What stands between a layout and a usable plan, each problem in words with the way to fix it. Pure:
 * it reads the document, the machines the Cluster view knows and the last prediction's memory figures.
 */
import type { MachineLoad } from '../../native/api/designerSchemas.js';
import { formatBytes } from '../format.js';
import { stageMachines, stagesOn, type DesignDoc } from './planModel.js';

export interface MachineStatus {
  name: string;
  /** 'online', or the state the registry reports ('unreachable', 'offline'…). */
  state: string;
  measured: boolean;
}

export interface Problem {
  code: 'no-model' | 'batch' | 'unplaced' | 'missing' | 'not-online' | 'unmeasured' | 'memory';
  message: string;
  fix: string;
  stage?: number;
  machineId?: string;
}

const list = (ks: number[]) =>
  ks.length === 1 ? `stage ${ks[0]! + 1}` : `stages ${ks.map((k) => k + 1).join(', ')}`;

export function validate(
  doc: DesignDoc,
  machines: ReadonlyMap<string, MachineStatus>,
  loads: readonly MachineLoad[] | null,
): Problem[] {
  if (doc.layerCount === 0)
    return [{ code: 'no-model', message: 'No model chosen.', fix: 'Pick a model or import one.' }];
  const out: Problem[] = [];
  const { batch, microbatches } = doc.settings;
  if (batch % microbatches !== 0)
    out.push({
      code: 'batch',
      message: `The batch (${batch}) does not split into ${microbatches} equal micro-batches.`,
      fix: `Choose a batch that is a multiple of ${microbatches}, or another micro-batch count.`,
    });
  const reported = new Set<string>();
  doc.machines.forEach((first, k) => {
    if (!first) {
      out.push({
        code: 'unplaced',
        stage: k,
        message: `Stage ${k + 1} is on no machine.`,
        fix: `Drag stage ${k + 1} onto a machine card, or pick a machine in its list.`,
      });
      return;
    }
    // Every replica's machine must be usable: the stage runs on all of them.
    for (const m of stageMachines(doc, k)) {
      if (reported.has(m.id)) continue;
      const on = stagesOn(doc, m.id);
      const status = machines.get(m.id);
      const move = `move ${list(on)} to another machine`;
      if (!status) {
        reported.add(m.id);
        out.push({
          code: 'missing',
          stage: k,
          machineId: m.id,
          message: `${m.name} (${m.id.slice(0, 8)}…), the machine of ${list(on)}, is not on the network now.`,
          fix: `Start its agent, or ${move}.`,
        });
      } else if (status.state !== 'online') {
        reported.add(m.id);
        out.push({
          code: 'not-online',
          stage: k,
          machineId: m.id,
          message: `${status.name}, the machine of ${list(on)}, is ${status.state}.`,
          fix: `Wait for it to come back, or ${move}.`,
        });
      } else if (!status.measured) {
        reported.add(m.id);
        out.push({
          code: 'unmeasured',
          stage: k,
          machineId: m.id,
          message: `${status.name} has no measured speed yet, so nothing can be predicted on it.`,
          fix: 'Press “measure” on its card in the Cluster view, or choose another machine.',
        });
      }
    }
  });
  for (const l of loads ?? [])
    if (l.usedBytes > l.freeBytes)
      out.push({
        code: 'memory',
        machineId: l.id,
        stage: l.stages[0],
        message:
          `${l.name} needs ${formatBytes(l.usedBytes - l.freeBytes)} more than its ` +
          `${formatBytes(l.freeBytes)} free (${list(l.stages)}).`,
        fix:
          'Move a stage to another machine, give it fewer layers, or lower memory: 1F1B, ' +
          'more micro-batches, a smaller batch or SGD.',
      });
  return out;
}
