import type { LayoutSettings } from '../../../native/api/designerSchemas.js';
import type { OptimizerName, ScheduleKind } from '../../../native/common/schemas.js';
import { setSettings } from '../../designer/planModel.js';
import { edit } from '../../store/designerStore.js';

/** Labels in the order the pickers offer them; typed by the shared lists, so a new name needs one. */
const SCHEDULE_LABELS: Record<ScheduleKind, string> = {
  '1f1b': '1F1B',
  gpipe: 'GPipe',
  'zb-h1': 'Zero bubble (ZB-H1)',
};
const OPTIMIZER_LABELS: Record<OptimizerName, string> = {
  adam: 'Adam',
  momentum: 'Momentum',
  sgd: 'SGD',
};

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
    </div>
  );
}
