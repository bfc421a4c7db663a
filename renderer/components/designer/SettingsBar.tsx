import { useState } from 'react';
import type { LayoutSettings } from '../../../native/api/designerSchemas.js';
import type { OptimizerName, ScheduleKind, Sync } from '../../../native/common/schemas.js';
import { MAX_CHUNKS } from '../../../native/common/names.js';
import { chunkCount, setSettings } from '../../designer/planModel.js';
import {
  DEFAULT_SYNC_EVERY,
  localSgd,
  MAX_SYNC_EVERY,
  MIN_CHUNKS,
  parseChunks,
  parseSyncEvery,
  syncEveryOf,
} from '../../designer/validate.js';
import { edit } from '../../store/designerStore.js';

/** Labels in the order the pickers offer them; typed by the shared lists, so a new name needs one. */
const SCHEDULE_LABELS: Record<ScheduleKind, string> = {
  '1f1b': '1F1B',
  gpipe: 'GPipe',
  'zb-h1': 'Zero bubble (ZB-H1)',
  'interleaved-1f1b': 'Interleaved 1F1B',
};
const OPTIMIZER_LABELS: Record<OptimizerName, string> = {
  adam: 'Adam',
  momentum: 'Momentum',
  sgd: 'SGD',
};

const SYNC_LABELS: Record<Sync['kind'], string> = {
  'every-step': 'every step',
  local: 'local SGD',
};

const setSync = (sync: Sync) => edit((d) => setSettings(d, { sync }));

/**
 * H of local SGD. Checked as typed, so a bad H is said at once and stays in the field to be fixed;
 * committed on Enter or leaving the field, like the numbers. Keyed by H: undo shows the H it restores.
 */
function SyncEveryField({ sync }: { sync: Extract<Sync, { kind: 'local' }> }) {
  const [problem, setProblem] = useState<string | null>(null);
  const commitFrom = (el: HTMLInputElement) => {
    const r = parseSyncEvery(el.value);
    if ('problem' in r) return setProblem(r.problem);
    setProblem(null);
    // The outer step stays as it was (a run started from the CLI may have set it).
    setSync({ ...sync, every: r.every });
  };
  return (
    <>
      <label className="designer-setting">
        <span>every</span>
        <input
          type="number"
          min={1}
          max={MAX_SYNC_EVERY}
          step={1}
          defaultValue={sync.every}
          aria-label="Local SGD every (steps)"
          aria-invalid={problem !== null}
          onChange={(e) => {
            const r = parseSyncEvery(e.currentTarget.value);
            setProblem('problem' in r ? r.problem : null);
          }}
          onBlur={(e) => commitFrom(e.currentTarget)}
          onKeyDown={(e) => e.key === 'Enter' && commitFrom(e.currentTarget)}
        />
        <span>steps</span>
      </label>
      {problem && (
        <span className="error" role="alert" data-testid="sync-every-error">
          {problem}
        </span>
      )}
    </>
  );
}

/**
 * How replicas synchronise: every step (their gradients summed), or local SGD, averaging every H steps
 * (the prediction carries 1/H of the all-reduce; the run is told the same).
 */
function SyncField({ settings }: { settings: LayoutSettings }) {
  const sync = settings.sync ?? { kind: 'every-step' };
  return (
    <>
      <label className="designer-setting">
        <span>Replicas sync</span>
        <select
          aria-label="Replicas sync"
          value={sync.kind}
          onChange={(e) =>
            setSync(
              e.target.value === 'local' ? localSgd(DEFAULT_SYNC_EVERY) : { kind: 'every-step' },
            )
          }
        >
          {Object.entries(SYNC_LABELS).map(([k, label]) => (
            <option key={k} value={k}>
              {label}
            </option>
          ))}
        </select>
      </label>
      {sync.kind === 'local' && <SyncEveryField key={syncEveryOf(settings)} sync={sync} />}
    </>
  );
}

/**
 * Chunks a stage holds under the interleaved schedule. Checked as typed, so a bad count is said at
 * once and stays in the field to be fixed; committed on Enter or leaving the field. Keyed by the
 * count: undo shows the count it restores.
 */
function ChunksField({ chunks }: { chunks: number }) {
  const [problem, setProblem] = useState<string | null>(null);
  const commitFrom = (el: HTMLInputElement) => {
    const r = parseChunks(el.value);
    if ('problem' in r) return setProblem(r.problem);
    setProblem(null);
    edit((d) => setSettings(d, { chunks: r.chunks }));
  };
  return (
    <>
      <label
        className="designer-setting"
        title="Each stage holds this many chunks of non-adjacent layers (stage k: chunks k, p + k, …): the bubble shrinks by as much, for as many more messages. The micro-batches must be a multiple of the stages."
      >
        <span>Chunks</span>
        <input
          type="number"
          min={MIN_CHUNKS}
          max={MAX_CHUNKS}
          step={1}
          defaultValue={chunks}
          aria-label="Chunks per stage"
          aria-invalid={problem !== null}
          onChange={(e) => {
            const r = parseChunks(e.currentTarget.value);
            setProblem('problem' in r ? r.problem : null);
          }}
          onBlur={(e) => commitFrom(e.currentTarget)}
          onKeyDown={(e) => e.key === 'Enter' && commitFrom(e.currentTarget)}
        />
      </label>
      {problem && (
        <span className="error" role="alert" data-testid="chunks-error">
          {problem}
        </span>
      )}
    </>
  );
}

/** Commits on Enter or leaving the field, so typing "128" is one undo step, not three. */
function NumberField({
  label,
  value,
  onCommit,
}: {
  label: string;
  value: number;
  onCommit(v: number): void;
}) {
  const commitFrom = (el: HTMLInputElement) => {
    const v = Number(el.value);
    if (Number.isInteger(v) && v > 0) onCommit(v);
    else el.value = String(value);
  };
  return (
    <label className="designer-setting">
      <span>{label}</span>
      <input
        key={value}
        type="number"
        min={1}
        defaultValue={value}
        aria-label={label}
        onBlur={(e) => commitFrom(e.currentTarget)}
        onKeyDown={(e) => e.key === 'Enter' && commitFrom(e.currentTarget)}
      />
    </label>
  );
}

export function SettingsBar({ settings }: { settings: LayoutSettings }) {
  const set = (patch: Partial<LayoutSettings>) => edit((d) => setSettings(d, patch));
  return (
    <div className="settings-bar" role="group" aria-label="Training settings">
      <NumberField label="Batch" value={settings.batch} onCommit={(batch) => set({ batch })} />
      <NumberField
        label="Micro-batches"
        value={settings.microbatches}
        onCommit={(microbatches) => set({ microbatches })}
      />
      <label className="designer-setting">
        <span>Schedule</span>
        <select
          aria-label="Schedule"
          value={settings.schedule}
          onChange={(e) => set({ schedule: e.target.value as LayoutSettings['schedule'] })}
        >
          {Object.entries(SCHEDULE_LABELS).map(([k, label]) => (
            <option key={k} value={k}>
              {label}
            </option>
          ))}
        </select>
      </label>
      {settings.schedule === 'interleaved-1f1b' && (
        <ChunksField key={chunkCount(settings)} chunks={chunkCount(settings)} />
      )}
      <label className="designer-setting">
        <span>Optimizer</span>
        <select
          aria-label="Optimizer"
          value={settings.optimizer}
          onChange={(e) => set({ optimizer: e.target.value as LayoutSettings['optimizer'] })}
        >
          {Object.entries(OPTIMIZER_LABELS).map(([k, label]) => (
            <option key={k} value={k}>
              {label}
            </option>
          ))}
        </select>
      </label>
      <SyncField settings={settings} />
    </div>
  );
}
