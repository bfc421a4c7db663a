import { useCallback, useDeferredValue, useId, useMemo, useState } from 'react';
import { AddMachine } from '../components/AddMachine.js';
import { EmptyState } from '../components/EmptyState.js';
import { NodeCard } from '../components/NodeCard.js';
import { NodeRow } from '../components/NodeRow.js';
import { cardHeight, rowHeight } from '../components/nodeFacts.js';
import { VirtualGrid } from '../components/VirtualGrid.js';
import { clusterStore, useCluster } from '../store/clusterStore.js';
import { queryNodes, SORT_LABELS, type SortKey } from './clusterQuery.js';

type Layout = 'cards' | 'rows';

const nodeById = (id: string) => clusterStore.getState().nodes[id];

/** Every machine of the lab, live: cards or rows, filtered and sorted, with "Add machine". */
export function ClusterView() {
  const nodes = useCluster((s) => s.nodes);
  const loaded = useCluster((s) => s.loaded);
  const [filter, setFilter] = useState('');
  const [sort, setSort] = useState<SortKey>('name');
  const [layout, setLayout] = useState<Layout>('cards');
  const [adding, setAdding] = useState(false);
  const filterId = useId();
  const sortId = useId();
  // Typing stays responsive with hundreds of machines: the list catches up when the browser is idle.
  const deferredFilter = useDeferredValue(filter);
  const ids = useMemo(() => queryNodes(nodes, deferredFilter, sort), [nodes, deferredFilter, sort]);
  const all = Object.values(nodes);
  const online = all.filter((n) => n.state === 'online').length;
  const gpus = all.reduce((s, n) => s + (n.inventory?.static.gpus.length ?? 0), 0);

  const cardH = useCallback((id: string) => cardHeight(nodeById(id)), []);
  const rowH = useCallback((id: string) => rowHeight(nodeById(id)), []);

  return (
    <section className="view cluster" aria-labelledby="cluster-title">
      <header className="view-head">
        <div>
          <h1 id="cluster-title">Cluster</h1>
          <p className="muted" aria-live="polite" data-testid="cluster-summary">
            {loaded
              ? `${all.length} ${all.length === 1 ? 'machine' : 'machines'} · ${online} online · ${gpus} ${gpus === 1 ? 'GPU' : 'GPUs'}`
              : 'Loading…'}
          </p>
        </div>
        <div className="toolbar">
          <label htmlFor={filterId} className="visually-hidden">
            Filter machines
          </label>
          <input
            id={filterId}
            type="search"
            placeholder="Filter: name, address, GPU…"
            value={filter}
            onChange={(e) => setFilter(e.target.value)}
          />
          <label htmlFor={sortId} className="visually-hidden">
            Sort machines by
          </label>
          <select id={sortId} value={sort} onChange={(e) => setSort(e.target.value as SortKey)}>
            {Object.entries(SORT_LABELS).map(([k, label]) => (
              <option key={k} value={k}>
                Sort: {label}
              </option>
            ))}
          </select>
          <div className="segmented" role="group" aria-label="Layout">
            {(['cards', 'rows'] as const).map((l) => (
              <button
                key={l}
                type="button"
                aria-pressed={layout === l}
                onClick={() => setLayout(l)}
              >
                {l === 'cards' ? 'Cards' : 'Rows'}
              </button>
            ))}
          </div>
          <button type="button" onClick={() => setAdding((a) => !a)} aria-expanded={adding}>
            Add machine
          </button>
        </div>
      </header>
      {adding && <AddMachine onDone={() => setAdding(false)} />}
      {loaded && all.length === 0 ? (
        <EmptyState onAdd={() => setAdding(true)} />
      ) : ids.length === 0 && loaded ? (
        <p className="muted empty-filter">No machine matches “{filter}”.</p>
      ) : layout === 'cards' ? (
        <VirtualGrid
          ids={ids}
          heightOf={cardH}
          minColumnWidth={330}
          gap={12}
          label="Machines"
          render={(id) => <NodeCard id={id} />}
        />
      ) : (
        <VirtualGrid
          ids={ids}
          heightOf={rowH}
          minColumnWidth={100_000}
          gap={0}
          label="Machines"
          header={
            <div className="row row-header" aria-hidden="true">
              <div className="col-name">Machine</div>
              <div className="col-state">State</div>
              <div className="col-cpu">CPU · load</div>
              <div className="col-mem">Memory</div>
              <div className="col-gpus">GPUs · utilisation</div>
              <div className="col-backend">Backend</div>
            </div>
          }
          render={(id) => <NodeRow id={id} />}
        />
      )}
    </section>
  );
}
