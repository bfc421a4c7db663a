import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.js';
import { ApiContext } from './hostContext.js';
import { selectHost } from './host/selectHost.js';
import { clusterStore } from './store/clusterStore.js';
import { connectStore } from './store/connect.js';
import { connectRuns } from './store/runsStore.js';
import './styles.css';

const host = selectHost();
connectStore(host, clusterStore);
connectRuns(host);

// `npm run bench:charts` renders the loss chart alone over synthetic runs (see renderer/bench).
if (location.hash === '#bench-charts')
  void import('./bench/ChartBench.js').then((m) =>
    m.mountChartBench(document.getElementById('root')!),
  );
else
  createRoot(document.getElementById('root')!).render(
    <StrictMode>
      <ApiContext.Provider value={host.api}>
        <App />
      </ApiContext.Provider>
    </StrictMode>,
  );
