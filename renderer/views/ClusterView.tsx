import { useDeferredValue, useId, useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import type { NodeView } from '../../native/api/types.js';
import { AddMachine } from '../components/AddMachine.js';
import { EmptyState } from '../components/EmptyState.js';
import { LinkList } from '../components/LinkList.js';
import { NodeCard } from '../components/NodeCard.js';
import { NodeRow } from '../components/NodeRow.js';
import { StrangerNotice } from '../components/StrangerNotice.js';
import { cardHeight, rowHeight } from '../components/nodeFacts.js';
import { VirtualGrid } from '../components/VirtualGrid.js';
import { useCluster } from '../store/clusterStore.js';
import { queryNodes, SORT_LABELS, type SortKey } from './clusterQuery.js';

type Layout = 'cards' | 'rows';

function summarize(nodes: Record<string, NodeView>) {
  let count = 0;
  let online = 0;
  let gpus = 0;
  for (const n of Object.values(nodes)) {
    count++;
    if (n.state === 'online') online++;
    gpus += n.inventory?.static.gpus.length ?? 0;
  }
  return { count, online, gpus };
}

/**
 * Every machine of the lab, live: cards or rows, filtered and sorted, with "Add machine", and the links
 * between them.
 */
export function ClusterView() {
  const loaded = useCluster((s) => s.loaded);
  const [filter, setFilter] = useState('');
  const [sort, setSort] = useState<SortKey>('name');
  const [layout, setLayout] = useState<Layout>('cards');
  const [adding, setAdding] = useState(false);
  const filterId = useId();
  const sortId = useId();
  // Typing stays responsive with hundreds of machines: the list catches up when the browser is idle.
  const deferredFilter = useDeferredValue(filter);
  // Shallow-compared selections: a telemetry update that changes no order, height or count re-renders
  // only the visible cards (each subscribed to its own machine), not this view or the grid.
  const ids = useCluster(useShallow((s) => queryNodes(s.nodes, deferredFilter, sort)));
  const heightOf = layout === 'cards' ? cardHeight : rowHeight;
  const heights = useCluster(useShallow((s) => ids.map((id) => heightOf(s.nodes[id]))));
  const { count, online, gpus } = useCluster(useShallow((s) => summarize(s.nodes)));

  return (
    <section className="view cluster" aria-labelledby="cluster-title">
      <header className="view-head">
        <div>
          <h1 id="cluster-title">Cluster</h1>
          <p className="muted" aria-live="polite" data-testid="cluster-summary">
            {loaded
              ? `${count} ${count === 1 ? 'machine' : 'machines'} · ${online} online · ${gpus} ${gpus === 1 ? 'GPU' : 'GPUs'}`
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
      <StrangerNotice />
      {loaded && count > 0 && <LinkList />}
      {loaded && count === 0 ? (
        <EmptyState onAdd={() => setAdding(true)} />
      ) : ids.length === 0 && loaded ? (
        <p className="muted empty-filter">No machine matches “{filter}”.</p>
      ) : layout === 'cards' ? (
        <VirtualGrid
          ids={ids}
          heights={heights}
          minColumnWidth={330}
          gap={12}
          label="Machines"
          render={(id) => <NodeCard id={id} />}
        />
      ) : (
        <VirtualGrid
          ids={ids}
          heights={heights}
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
