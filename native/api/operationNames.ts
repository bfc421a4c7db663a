/**
 * The operation names alone, with no schema library behind them: the Electron preload (sandboxed, kept
 * tiny) builds one function per name from this list, and main registers one IPC handler per name.
 */
/** The run operations (schemas and handlers in runOperations.ts / runBackend.ts). */
export const RUN_OPERATION_NAMES = [
  'startRun',
  'stopRun',
  'replanRun',
  'resumeRun',
  'listRuns',
  'getRun',
  'deleteRun',
  'restoreRun',
  'exportRun',
] as const;
export type RunOperationName = (typeof RUN_OPERATION_NAMES)[number];

export const OPERATION_NAMES = [
  'listNodes',
  'listLinks',
  'addMachine',
  'benchmarkNode',
  'joinInfo',
  'getSettings',
  'setSettings',
  'designerModels',
  'importModel',
  'predictLayout',
  'autoPartition',
  'savePlan',
  'listPlans',
  'openPlan',
  ...RUN_OPERATION_NAMES,
] as const;

export type OperationName = (typeof OPERATION_NAMES)[number];

export function isOperationName(name: unknown): name is OperationName {
  return typeof name === 'string' && (OPERATION_NAMES as readonly string[]).includes(name);
}

/** IPC channel names, shared by preload and main. */
export const ipcChannel = (op: OperationName) => `pipefitter:${op}`;
export const IPC_EVENT_CHANNEL = 'pipefitter:events';
