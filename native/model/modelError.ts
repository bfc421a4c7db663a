/**
 * A problem with a model (its file, a layer, a shape) that the user can fix: the message names the
 * layer and what is supported, and the CLI prints it without a stack trace.
 */
export class ModelError extends Error {
  override name = 'ModelError';
}
