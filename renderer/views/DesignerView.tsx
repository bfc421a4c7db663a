import { useCallback, useEffect, useMemo, useState } from 'react';
import type { LayoutSettings } from '../../native/api/designerSchemas.js';
import { LayerColumn } from '../components/designer/LayerColumn.js';
import { MachinePanel } from '../components/designer/MachinePanel.js';
import { PlanFiles } from '../components/designer/PlanFiles.js';
import { PredictionPanel } from '../components/designer/PredictionPanel.js';
import { SettingsBar } from '../components/designer/SettingsBar.js';
import { StageList } from '../components/designer/StageList.js';
import { useMachines } from '../components/designer/useMachines.js';
import '../designer/designer.css';
import { StartRunDialog } from '../components/run/StartRunDialog.js';
import { setSettings, stageOfLayers } from '../designer/planModel.js';
import { formatRate } from '../designer/units.js';
import { MAX_FILE_BYTES } from '../host/files.js';
import { useApi } from '../hostContext.js';
import {
  attachDesigner,
  autoPartition,
  chooseModel,
  edit,
  importModelFile,
  openPlanFile,
  redo,
  undo,
  useDesigner,
} from '../store/designerStore.js';

/** A dropped .json is a plan file if it looks like one, else a model.json to import. */
async function openDropped(file: File): Promise<void> {
  let isPlan = false;
  // A file over the limit is the import's to refuse, unread.
  if (file.size <= MAX_FILE_BYTES)
    try {
      const v = JSON.parse(await file.text()) as { version?: unknown; stages?: unknown } | null;
      isPlan = v !== null && typeof v === 'object' && 'version' in v && Array.isArray(v.stages);
    } catch {
      // not JSON: the import names the problem
    }
  await (isPlan ? openPlanFile(file) : importModelFile(file));
}

function useWindowFileDrop(): boolean {
  const [over, setOver] = useState(false);
  useEffect(() => {
    const isFiles = (e: DragEvent) => e.dataTransfer?.types.includes('Files') ?? false;
    const onOver = (e: DragEvent) => {
      if (!isFiles(e)) return;
      e.preventDefault();
      setOver(true);
    };
    const onLeave = (e: DragEvent) => {
      if (e.relatedTarget === null) setOver(false);
    };
    const onDrop = (e: DragEvent) => {
      if (!isFiles(e)) return;
      e.preventDefault();
      setOver(false);
      const f = e.dataTransfer?.files[0];
      if (f) void openDropped(f);
    };
    window.addEventListener('dragover', onOver);
    window.addEventListener('dragleave', onLeave);
    window.addEventListener('drop', onDrop);
    return () => {
      window.removeEventListener('dragover', onOver);
      window.removeEventListener('dragleave', onLeave);
      window.removeEventListener('drop', onDrop);
    };
  }, []);
  return over;
}

function useUndoKeys(): void {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (!(e.ctrlKey || e.metaKey) || e.altKey) return;
      const t = e.target as HTMLElement | null;
      if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA')) return;
      const k = e.key.toLowerCase();
      if (k === 'z' && !e.shiftKey) undo();
      else if ((k === 'z' && e.shiftKey) || k === 'y') redo();
      else return;
      e.preventDefault();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);
}

export function DesignerView() {
  const api = useApi();
  useEffect(() => attachDesigner(api), [api]);
  useUndoKeys();
  const fileOver = useWindowFileDrop();
  const models = useDesigner((s) => s.models);
  const model = useDesigner((s) => s.model);
  const history = useDesigner((s) => s.history);
  const doc = history.present;
  const prediction = useDesigner((s) => (s.predictedDoc === doc ? s.prediction : null));
  const stalePrediction = useDesigner((s) => s.prediction);
  const predictionError = useDesigner((s) => s.predictionError);
  const problems = useDesigner((s) => s.problems);
  const plan = useDesigner((s) => s.plan);
  const importError = useDesigner((s) => s.importError);
  const auto = useDesigner((s) => s.auto);
  const autoError = useDesigner((s) => s.autoError);
  const machines = useMachines();
  const [excluded, setExcluded] = useState<ReadonlySet<string>>(new Set());
  const [running, setRunning] = useState(false);
  const layerNames = useMemo(() => model?.layers.map((l) => l.name) ?? [], [model]);
  const toggle = useCallback(
    (id: string) =>
      setExcluded((s) => {
        const next = new Set(s);
        if (next.has(id)) next.delete(id);
        else next.add(id);
        return next;
      }),
    [],
  );
  // While the engine answers (a few ms), keep showing the last figures rather than flashing empty.
  const shown = prediction ?? (doc.machines.every((m) => m) ? stalePrediction : null);
  // Interleaved layers take their colour from the chunks the prediction split.
  const layerStages = useMemo(() => (shown ? stageOfLayers(shown.plan) : null), [shown]);

  return (
    <div className={`designer${fileOver ? ' file-over' : ''}`}>
      <header className="view-header designer-toolbar">
        <h1>Designer</h1>
        <label className="designer-setting">
          <span>Model</span>
          <select
            aria-label="Model"
            value={model?.id ?? ''}
            onChange={(e) => {
              const m = models.find((x) => x.id === e.target.value);
              if (m) chooseModel(m);
            }}
          >
            <option value="" disabled>
              choose…
            </option>
            {model?.source === 'file' && <option value={model.id}>{model.name} (imported)</option>}
            {models.map((m) => (
              <option key={m.id} value={m.id}>
                {m.name} ({m.id})
              </option>
            ))}
          </select>
        </label>
        <label className="button-like">
          Import model.json…
          <input
            type="file"
            accept=".json,application/json"
            hidden
            aria-label="Import model.json"
            onChange={(e) => {
              const f = e.target.files?.[0];
              if (f) void importModelFile(f);
              e.target.value = '';
            }}
          />
        </label>
        <span className="toolbar-gap" />
        <button type="button" onClick={undo} disabled={history.past.length === 0} title="Ctrl+Z">
          Undo
        </button>
        <button
          type="button"
          onClick={redo}
          disabled={history.future.length === 0}
          title="Ctrl+Shift+Z"
        >
          Redo
        </button>
        <button
          type="button"
          className="primary"
          disabled={!plan}
          title={
            plan ? 'Start training this plan' : 'Fix the problems listed under Prediction first'
          }
          onClick={() => setRunning(true)}
        >
          Start run…
        </button>
      </header>
      {importError && (
        <p className="error" role="alert" data-testid="import-error">
          {importError}
        </p>
      )}
      {fileOver && <div className="drop-overlay">Drop a model.json or a plan file</div>}
      {!model ? (
        <p className="muted designer-empty">
          Pick a model from the catalogue, or import a TensorFlow.js / Keras <code>model.json</code>{' '}
          (button above, or drop the file on this window).
        </p>
      ) : (
        <>
          <div className="designer-settings">
            <SettingsBar settings={doc.settings} />
            <div className="auto-partition" role="group" aria-label="Auto-partition">
              <select
                aria-label="Auto-partition preset"
                value={doc.settings.preset}
                onChange={(e) =>
                  edit((d) =>
                    setSettings(d, { preset: e.target.value as LayoutSettings['preset'] }),
                  )
                }
              >
                <option value="balanced">balanced</option>
                <option value="uniform">uniform</option>
                <option value="parameters">parameters</option>
              </select>
              <button
                type="button"
                disabled={machines.every((m) => excluded.has(m.id))}
                onClick={() =>
                  void autoPartition(machines.filter((m) => !excluded.has(m.id)).map((m) => m.id))
                }
              >
                Auto-partition
              </button>
              {auto && (
                <span className="auto-result" role="status" data-testid="auto-result">
                  {auto.preset}: {formatRate(auto.after)}
                  {auto.before !== null
                    ? `, ${auto.after >= auto.before ? '+' : ''}${(((auto.after - auto.before) / auto.before) * 100).toFixed(0)} % over your layout (${formatRate(auto.before)})`
                    : ''}{' '}
                  · Undo restores yours
                </span>
              )}
              {autoError && (
                <span className="error" role="alert">
                  {autoError}
                </span>
              )}
            </div>
          </div>
          {model.notes.length > 0 && <p className="muted">{model.notes.join(' ')}</p>}
          <div className="designer-grid">
            <LayerColumn model={model} doc={doc} layerStages={layerStages} />
            <StageList doc={doc} layerNames={layerNames} machines={machines} prediction={shown} />
            <MachinePanel
              doc={doc}
              machines={machines}
              prediction={shown}
              excluded={excluded}
              onToggle={toggle}
            />
          </div>
          <PredictionPanel prediction={shown} error={predictionError} problems={problems} />
        </>
      )}
      <PlanFiles />
      {running && plan && <StartRunDialog plan={plan} onClose={() => setRunning(false)} />}
    </div>
  );
}
