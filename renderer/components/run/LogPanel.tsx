import { useState } from 'react';
import type { RunData } from '../../runs/runData.js';

/** Each stage's messages and errors, filterable by machine; newest at the bottom. */
export function LogPanel({ data, version }: { data: RunData; version: number }) {
  const [machine, setMachine] = useState<string>('');
  const machines = [...new Set(data.stages.map((s) => s.node))];
  const lines = data.logs.filter((l) => !machine || l.machine === machine).slice(-300);
  return (
    <section className="panel" aria-label="Log" data-version={version}>
      <div className="chart-head">
        <h3>Log</h3>
        <label className="inline">
          Machine
          <select value={machine} onChange={(e) => setMachine(e.target.value)}>
            <option value="">all</option>
            {machines.map((m) => (
              <option key={m} value={m}>
                {m}
              </option>
            ))}
          </select>
        </label>
      </div>
      <ol className="log-lines" aria-live="polite">
        {lines.length === 0 && <li className="muted">Nothing yet.</li>}
        {lines.map((l, i) => (
          <li key={i} className={l.level === 'error' ? 'error-text' : undefined}>
            <time>{new Date(l.t).toLocaleTimeString()}</time> {l.message}
          </li>
        ))}
      </ol>
    </section>
  );
}
