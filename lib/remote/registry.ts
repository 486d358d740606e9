/**
 * The functions this process lets peers run (RCI), by name. Nothing that arrives from a peer is
 * evaluated as code: a call names one of these, and only these run.
 *
 * @module
 * @internal
 */
import type { CoroFn } from '../core/coro.js';

export const rciRegistry = new Map<string, CoroFn<unknown, any>>();
