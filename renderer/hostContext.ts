import { createContext, useContext } from 'react';
import type { PipefitterApi } from '../native/api/types.js';

export const ApiContext = createContext<PipefitterApi | null>(null);

/** The typed API, whichever host provides it. */
export function useApi(): PipefitterApi {
  const api = useContext(ApiContext);
  if (!api) throw new Error('useApi outside <ApiContext.Provider>');
  return api;
}
