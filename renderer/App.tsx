import { useState } from 'react';
import { LocalAgentSetting } from './components/LocalAgentSetting.js';
import { PERF, PerfProbe } from './perf.js';
import { useCluster } from './store/clusterStore.js';
import { ClusterView } from './views/ClusterView.js';
import { ComingSoon } from './views/ComingSoon.js';
import { DesignerView } from './views/DesignerView.js';

const PAGES = ['Cluster', 'Designer', 'Runs'] as const;
type Page = (typeof PAGES)[number];

export function App() {
  const [page, setPage] = useState<Page>('Cluster');
  const connection = useCluster((s) => s.connection);
  return (
    <div className="shell">
      <nav className="sidebar" aria-label="Main">
        <div className="brand">
          <img src="./icon.svg" alt="" width={28} height={28} />
          <span>Pipefitter</span>
        </div>
        <ul>
          {PAGES.map((p) => (
            <li key={p}>
              <button
                type="button"
                className="nav-item"
                aria-current={page === p ? 'page' : undefined}
                onClick={() => setPage(p)}
              >
                {p}
              </button>
            </li>
          ))}
        </ul>
        <div className="sidebar-foot">
          <LocalAgentSetting />
        </div>
      </nav>
      {PERF && <PerfProbe />}
      <main className="content">
        {connection === 'closed' && (
          <div className="banner" role="alert">
            Lost the connection to Pipefitter; reconnecting…
          </div>
        )}
        {page === 'Cluster' && <ClusterView />}
        {page === 'Designer' && <DesignerView />}
        {page === 'Runs' && (
          <ComingSoon title="Runs">
            <p>
              Coming after the Designer: start pipeline-parallel training of a layout and watch it
              live: loss, accuracy, throughput, GPU use per stage and a timeline of the pipeline.
            </p>
          </ComingSoon>
        )}
      </main>
    </div>
  );
}
