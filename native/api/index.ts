// The API contract (types and schemas) and its server side. The renderer imports types only (lint rule).
export * from './schemas.js';
export * from './operations.js';
export * from './operationNames.js';
export * from './fileOperations.js';
export * from './validate.js';
export * from './server.js';
export type * from './types.js';
