import { useRef, useState } from 'react';
import { openPlanFile, openSavedPlan, savePlan, useDesigner } from '../../store/designerStore.js';

/** Save the plan (state dir), open a recent one, open or export a plan file. */
export function PlanFiles() {
  const plan = useDesigner((s) => s.plan);
  const saved = useDesigner((s) => s.saved);
  const note = useDesigner((s) => s.planNote);
  const [name, setName] = useState('');
  const [status, setStatus] = useState<string | null>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  const defaultName = plan ? `${plan.model.id}-${plan.stages.length}-stages` : '';
  const save = async () => {
    try {
      const path = await savePlan(name.trim() || defaultName);
      setStatus(`Saved ${path}`);
    } catch (err) {
      setStatus(`Could not save: ${(err as Error).message}`);
    }
  };
  const exportFile = () => {
    if (!plan) return;
    const url = URL.createObjectURL(
      new Blob([JSON.stringify(plan, null, 2) + '\n'], { type: 'application/json' }),
    );
    const a = document.createElement('a');
    a.href = url;
    a.download = `${name.trim() || defaultName}.json`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  };
  return (
    <section className="plan-files" aria-label="Plan files">
      <header className="panel-head">
        <h2>Plans</h2>
      </header>
      <div className="plan-save">
        <input
          aria-label="Plan name"
          placeholder={defaultName || 'plan name'}
          value={name}
          onChange={(e) => setName(e.target.value)}
        />
        <button type="button" disabled={!plan} onClick={() => void save()}>
          Save plan
        </button>
        <button type="button" disabled={!plan} onClick={exportFile} title="Download the plan file">
          Export…
        </button>
        <button type="button" onClick={() => fileInput.current?.click()}>
          Open file…
        </button>
        <input
          ref={fileInput}
          type="file"
          accept=".json,application/json"
          hidden
          aria-label="Plan file"
          onChange={(e) => {
            const f = e.target.files?.[0];
            if (f) void openPlanFile(f);
            e.target.value = '';
          }}
        />
      </div>
      {status && (
        <p className="muted" role="status" data-testid="save-status">
          {status}
        </p>
      )}
      {note && (
        <p className="error" role="alert">
          {note}
        </p>
      )}
      {saved.length > 0 && (
        <ul className="recent-plans" aria-label="Recent plans">
          {saved.slice(0, 8).map((p) => (
            <li key={p.name}>
              <button
                type="button"
                onClick={() => void openSavedPlan(p.name)}
                aria-label={`Open plan ${p.name}`}
              >
                {p.name}
              </button>
              <span className="muted">
                {p.modelId} · {p.stages} stage{p.stages === 1 ? '' : 's'} ·{' '}
                {p.samplesPerSecond.toFixed(0)} samples/s
              </span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
