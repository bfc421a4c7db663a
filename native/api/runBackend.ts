import { EventEmitter } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import type { RunService } from '../runs/runService.js';
import type { RunOperationName } from './runOperations.js';
import type { ApiEvent } from './schemas.js';
import type { ApiBackendPart } from './server.js';
import { ApiError } from './validate.js';

type RunOps = RunOperationName;

/** The Runs operations over a RunService, and its records as API events (each record one event). */
export function runBackend(runs: RunService): ApiBackendPart<RunOps> {
  const events = new EventEmitter<{ event: [ApiEvent] }>();
  runs.on('record', (runId, record) => events.emit('event', { type: 'runRecord', runId, record }));
  runs.on('summary', (run) => events.emit('event', { type: 'runSummary', run }));
  runs.on('removed', (id) => events.emit('event', { type: 'runRemoved', id }));
  const known = (id: string) => {
    if (!runs.store.get(id)) throw new ApiError('bad-request', `no run with id ${id}`);
  };
  return {
    handlers: {
      async startRun({ plan, settings }) {
        return { run: await runs.start(plan, settings) };
      },
      async stopRun({ id }) {
        known(id);
        return { run: await runs.stop(id) };
      },
      async replanRun({ id }) {
        known(id);
        try {
          return { message: await runs.replan(id) };
        } catch (err) {
          throw new ApiError('bad-request', (err as Error).message);
        }
      },
      async resumeRun({ id }) {
        known(id);
        try {
          return { run: await runs.resume(id) };
        } catch (err) {
          throw new ApiError('bad-request', (err as Error).message);
        }
      },
      async listRuns() {
        return { runs: runs.store.list(), live: runs.liveId };
      },
      async getRun({ id }) {
        known(id);
        return { run: runs.store.get(id)!, records: runs.store.read(id) };
      },
      async deleteRun({ id }) {
        known(id);
        runs.delete(id);
        return { id };
      },
      async restoreRun({ id }) {
        return { run: runs.restore(id) };
      },
      async exportRun({ id, dir: asTyped }) {
        known(id);
        const dir = asTyped.startsWith('~/') ? path.join(os.homedir(), asTyped.slice(2)) : asTyped;
        if (!path.isAbsolute(dir))
          throw new ApiError('bad-request', 'give a full path for the export folder');
        return runs.export(id, dir);
      },
    },
    subscribe(listener) {
      events.on('event', listener);
      return () => events.off('event', listener);
    },
  };
}
