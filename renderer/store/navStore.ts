import { create } from 'zustand';
import type { RunSettings } from '../../native/api/types.js';

export const PAGES = ['Cluster', 'Designer', 'Runs'] as const;
export type Page = (typeof PAGES)[number];

interface NavState {
  page: Page;
  /** The run whose page is open in the Runs view; null shows the list. */
  runId: string | null;
  /** "Run again": the settings the next run dialog starts from (its plan goes to the designer). */
  rerun: RunSettings | null;
}

/**
 * Which page is showing, outside React, so a dialog in one view (Start run in the designer, Run again
 * in the runs view) can move the user to another without threading callbacks through App.
 */
export const useNav = create<NavState>(() => ({ page: 'Cluster', runId: null, rerun: null }));

export const navigate = (page: Page) => useNav.setState({ page });
export const openRun = (runId: string | null) => useNav.setState({ page: 'Runs', runId });
