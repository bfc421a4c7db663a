import { LocalAgentSetting } from './components/LocalAgentSetting.js';
import { PerfProbe } from './bench/PerfProbe.js';
import { PERF } from './store/perfMarks.js';
import { useCluster } from './store/clusterStore.js';
import { navigate, PAGES, useNav } from './store/navStore.js';
import { ClusterView } from './views/ClusterView.js';
import { DesignerView } from './views/DesignerView.js';
import { RunsView } from './views/RunsView.js';

export function App() {
  const page = useNav((s) => s.page);
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
                onClick={() =>
                  p === 'Runs' ? useNav.setState({ page: p, runId: null }) : navigate(p)
                }
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
        {page === 'Runs' && <RunsView />}
      </main>
    </div>
  );
}
