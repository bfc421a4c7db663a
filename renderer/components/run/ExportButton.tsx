import { useState } from 'react';
import { useApi } from '../../hostContext.js';

/**
 * Exports the trained model (model.json + weights.bin) and metrics.csv into a folder on the machine
 * running Pipefitter; the engine writes them, so the path is that machine's.
 */
export function ExportButton({
  id,
  hasModel,
  name,
}: {
  id: string;
  hasModel: boolean;
  name: string;
}) {
  const api = useApi();
  const [open, setOpen] = useState(false);
  const [dir, setDir] = useState(`~/pipefitter-exports/${name.replace(/[^A-Za-z0-9._-]+/g, '-')}`);
  const [msg, setMsg] = useState<{ ok: boolean; text: string } | null>(null);
  if (!open)
    return (
      <button type="button" className="secondary small" onClick={() => setOpen(true)}>
        Export…
      </button>
    );
  const run = async () => {
    setMsg(null);
    try {
      const r = await api.exportRun({ id, dir: dir.trim() });
      setMsg({
        ok: true,
        text: r.modelJson
          ? `Wrote ${r.modelJson} (+ weights.bin) and ${r.metricsCsv}`
          : `Wrote ${r.metricsCsv} (this run has no trained model)`,
      });
    } catch (e) {
      setMsg({ ok: false, text: (e as Error).message });
    }
  };
  return (
    <form
      className="export-form"
      onSubmit={(e) => {
        e.preventDefault();
        void run();
      }}
    >
      <label className="inline">
        Export to folder
        <input value={dir} onChange={(e) => setDir(e.target.value)} size={36} spellCheck={false} />
      </label>
      <button type="submit" className="small">
        {hasModel ? 'Export model + CSV' : 'Export CSV'}
      </button>
      <button type="button" className="secondary small" onClick={() => setOpen(false)}>
        Close
      </button>
      {msg && (
        <p className={msg.ok ? 'ok-text' : 'error-text'} role="status" data-testid="export-result">
          {msg.text}
        </p>
      )}
    </form>
  );
}
