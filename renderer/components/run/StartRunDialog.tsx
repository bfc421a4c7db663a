import '../../runs/runs.css';
import { useId, useState, type FormEvent } from 'react';
import type { PlanFile, RunSettings } from '../../../native/api/types.js';
import { defaultLearningRate as defaultLr } from '../../../native/common/defaults.js';
import { useApi } from '../../hostContext.js';
import { useCluster } from '../../store/clusterStore.js';
import { syncOfPlan } from '../../store/designerStore.js';
import { openRun, useNav } from '../../store/navStore.js';

type Optimizer = RunSettings['optimizer'];

const DATASETS = ['mnist', 'text', 'synthetic'];

/** The model's own dataset for catalogue models; others train on synthetic data unless told. */
function defaultDataset(plan: PlanFile): string {
  if (plan.model.id.startsWith('mnist')) return 'mnist';
  if (plan.model.id === 'char-gru') return 'text';
  return 'synthetic';
}

/** In the order the picker offers them (the default first); keyed by the shared list, so none is missed. */
const OPTIMIZERS: Record<Optimizer, string> = { adam: 'adam', sgd: 'sgd', momentum: 'momentum' };

/**
 * Starts a run of a plan: dataset, length, optimizer and a name. Machines that are not online are named
 * before Start is possible; what only the agents can tell (a dataset missing on a machine) comes back
 * from the engine before any training starts, in its words.
 */
export function StartRunDialog({ plan, onClose }: { plan: PlanFile; onClose(): void }) {
  const api = useApi();
  const titleId = useId();
  // "Run again" leaves the earlier run's settings here; a fresh dialog takes the plan's defaults.
  const [rerun] = useState(() => useNav.getState().rerun);
  const [name, setName] = useState(
    rerun
      ? `${rerun.name} (again)`
      : `${plan.model.name} · ${new Date().toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'short' })}`,
  );
  const [dataset, setDataset] = useState(rerun?.dataset ?? defaultDataset(plan));
  const [lengthKind, setLengthKind] = useState<'epochs' | 'steps'>(
    rerun?.steps !== undefined ? 'steps' : 'epochs',
  );
  const [length, setLength] = useState(String(rerun?.steps ?? rerun?.epochs ?? 1));
  const [optimizer, setOptimizer] = useState<Optimizer>(rerun?.optimizer ?? plan.optimizer);
  const [lr, setLr] = useState(String(rerun?.learningRate ?? defaultLr(plan.optimizer)));
  // The designer's replicas sync for its own plan; a plan file does not say, so Run again of it keeps
  // the earlier run's. Every step is the default and not written.
  const [sync] = useState(() => {
    const s = syncOfPlan(plan) ?? rerun?.sync;
    return s?.kind === 'local' ? s : undefined;
  });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const offline = useCluster((s) =>
    plan.stages
      .flatMap((st, k) => st.replicas.map((r) => [k, r] as const))
      .map(([k, r]) => {
        const n = s.nodes[r.machineId];
        if (!n) return `stage ${k} is planned on ${r.machineName}, which is not in the cluster`;
        if (n.state !== 'online') return `stage ${k} is planned on ${n.name}, which is ${n.state}`;
        return null;
      })
      .filter((x): x is string => x !== null)
      .join('; '),
  );

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const n = Number(length);
    const rate = Number(lr);
    if (!Number.isInteger(n) || n < 1) return setError(`${lengthKind} must be a whole number ≥ 1`);
    if (!(rate > 0 && rate <= 10))
      return setError('the learning rate must be above 0 and at most 10');
    if (!dataset.trim()) return setError('choose a dataset');
    setBusy(true);
    setError(null);
    try {
      const settings: RunSettings = {
        name: name.trim() || plan.model.name,
        dataset: dataset.trim(),
        learningRate: rate,
        optimizer,
        ...(lengthKind === 'epochs' ? { epochs: n } : { steps: n }),
        ...(sync ? { sync } : {}),
      };
      const { run } = await api.startRun({
        plan,
        settings: { ...settings, ...(rerun?.seed === undefined ? {} : { seed: rerun.seed }) },
      });
      useNav.setState({ rerun: null });
      openRun(run.id);
      onClose();
    } catch (err) {
      setError(`The run did not start: ${(err as Error).message}`);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="modal-backdrop" role="presentation">
      <form
        className="modal start-run"
        role="dialog"
        aria-modal="true"
        aria-labelledby={titleId}
        onSubmit={submit}
      >
        <h2 id={titleId}>Start a run</h2>
        <p className="muted">
          {plan.model.name}: {plan.stages.length} stages on{' '}
          {[...new Set(plan.stages.flatMap((s) => s.replicas.map((r) => r.machineName)))].join(
            ', ',
          )}
          ; batch {plan.batch}, {plan.microbatches} micro-batches, {plan.schedule}
          {sync && (
            <>
              ; replicas average every {sync.every === 1 ? 'step' : `${sync.every} steps`} (local
              SGD)
            </>
          )}
        </p>
        <label>
          Name
          <input value={name} onChange={(e) => setName(e.target.value)} maxLength={120} />
        </label>
        <label>
          Dataset
          <input
            value={dataset}
            list="pf-datasets"
            onChange={(e) => setDataset(e.target.value)}
            spellCheck={false}
          />
          <datalist id="pf-datasets">
            {DATASETS.map((d) => (
              <option key={d} value={d} />
            ))}
            <option value="csv:/path/to/file.csv" />
          </datalist>
        </label>
        <div className="form-row">
          <label>
            Train for
            <input
              aria-label={`number of ${lengthKind}`}
              value={length}
              onChange={(e) => setLength(e.target.value)}
              inputMode="numeric"
              size={6}
            />
          </label>
          <select
            aria-label="epochs or steps"
            value={lengthKind}
            onChange={(e) => setLengthKind(e.target.value as 'epochs' | 'steps')}
          >
            <option value="epochs">epochs</option>
            <option value="steps">steps</option>
          </select>
        </div>
        <div className="form-row">
          <label>
            Optimizer
            <select
              value={optimizer}
              onChange={(e) => {
                const o = e.target.value as Optimizer;
                setOptimizer(o);
                setLr(String(defaultLr(o)));
              }}
            >
              {Object.entries(OPTIMIZERS).map(([o, label]) => (
                <option key={o} value={o}>
                  {label}
                </option>
              ))}
            </select>
          </label>
          <label>
            Learning rate
            <input value={lr} onChange={(e) => setLr(e.target.value)} size={8} />
          </label>
        </div>
        {offline && (
          <p className="error-text" role="alert" data-testid="start-run-offline">
            Cannot start: {offline}.
          </p>
        )}
        {error && (
          <p className="error-text" role="alert" data-testid="start-run-error">
            {error}
          </p>
        )}
        <div className="form-row end">
          <button type="button" className="secondary" onClick={onClose} disabled={busy}>
            Cancel
          </button>
          <button type="submit" disabled={busy || !!offline}>
            {busy ? 'Starting…' : 'Start'}
          </button>
        </div>
      </form>
    </div>
  );
}
