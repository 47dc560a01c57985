import type { RequestPhase } from './phases.js';
import type { PluginContext } from './plugin-context.js';
import type { PluginHandler } from './plugin-handler.js';
import { PluginHandlerError } from './plugin-handler-error.js';

/** A rewrite or access handler with the phase it runs in (the request phases run as one list). */
interface RequestStep {
  readonly handler: PluginHandler;
  readonly phase: RequestPhase;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== undefined && value !== null && typeof (value as PromiseLike<unknown>).then === 'function';
}

function handlersOf(handlers: readonly PluginHandler[], phase: keyof PluginHandler): readonly PluginHandler[] {
  return Object.freeze(handlers.filter((h) => typeof h[phase] === 'function'));
}

/**
 * The handlers of a chain per phase, in run order, when they are not simply "every handler with a
 * method for the phase": Kong runs only global instances in rewrite, and a consumer-scoped entry
 * acts in access (where it picks its instance) whatever its instances implement.
 */
export interface ChainPhases {
  readonly rewrite: readonly PluginHandler[];
  readonly access: readonly PluginHandler[];
  readonly header_filter: readonly PluginHandler[];
  readonly body_filter: readonly PluginHandler[];
  readonly log: readonly PluginHandler[];
}

/**
 * The plugin handlers of one (route, service), compiled once: per phase, the array of the handlers
 * acting in it, in run order, frozen. Per request the proxy iterates those arrays and never
 * looks up which plugins apply. Build with {@link compilePluginChain}; {@link EMPTY_CHAIN} has none.
 *
 * Kong's short-circuit rule: when a rewrite or access handler answers, the rewrite and access
 * handlers after it do not run, and every header_filter, body_filter and log handler of the chain
 * runs on the answer.
 */
export class PluginChain {
  /** Every handler, in run order. */
  readonly handlers: readonly PluginHandler[];
  readonly rewrite: readonly PluginHandler[];
  readonly access: readonly PluginHandler[];
  readonly header_filter: readonly PluginHandler[];
  readonly body_filter: readonly PluginHandler[];
  readonly log: readonly PluginHandler[];
  /** Whether any rewrite or access handler is in the chain (without, the proxy forwards at once). */
  readonly hasRequestHandlers: boolean;
  /** The rewrite handlers, then the access handlers. */
  private readonly requestSteps: readonly RequestStep[];

  /**
   * A chain running `handlers` in the order given (see {@link compilePluginChain} for Kong's
   * order), each in the phases it has a method for; or, with `phases`, exactly those per phase
   * (`handlers` then lists them all, for logs).
   */
  constructor(handlers: readonly PluginHandler[], phases?: ChainPhases) {
    this.handlers = Object.freeze([...handlers]);
    this.rewrite = phases ? Object.freeze([...phases.rewrite]) : handlersOf(this.handlers, 'rewrite');
    this.access = phases ? Object.freeze([...phases.access]) : handlersOf(this.handlers, 'access');
    this.header_filter = phases ? Object.freeze([...phases.header_filter]) : handlersOf(this.handlers, 'header_filter');
    this.body_filter = phases ? Object.freeze([...phases.body_filter]) : handlersOf(this.handlers, 'body_filter');
    this.log = phases ? Object.freeze([...phases.log]) : handlersOf(this.handlers, 'log');
    const steps: RequestStep[] = [];
    for (const handler of this.rewrite) steps.push(Object.freeze({ handler, phase: 'rewrite' }));
    for (const handler of this.access) steps.push(Object.freeze({ handler, phase: 'access' }));
    this.requestSteps = Object.freeze(steps);
    this.hasRequestHandlers = steps.length > 0;
    Object.freeze(this);
  }

  /**
   * This chain with `first` run before its own handlers in every phase, in the order given (the
   * proxy's process-wide handlers: traffic statistics, the access log). Compile once per chain,
   * never per request.
   */
  withFirst(first: readonly PluginHandler[]): PluginChain {
    if (first.length === 0) return this;
    return new PluginChain([...first, ...this.handlers], {
      rewrite: [...handlersOf(first, 'rewrite'), ...this.rewrite],
      access: [...handlersOf(first, 'access'), ...this.access],
      header_filter: [...handlersOf(first, 'header_filter'), ...this.header_filter],
      body_filter: [...handlersOf(first, 'body_filter'), ...this.body_filter],
      log: [...handlersOf(first, 'log'), ...this.log],
    });
  }

  /**
   * Runs the rewrite handlers, then the access handlers, stopping at the first that answers
   * (`ctx.hasAnswered`). Returns null when every handler returned synchronously (no promise made),
   * else a promise that settles when the last one has.
   * @throws PluginHandlerError (or rejects with it) when a handler throws or rejects.
   */
  runRequestPhases(ctx: PluginContext): Promise<void> | null {
    const steps = this.requestSteps;
    for (let i = 0; i < steps.length; i++) {
      if (ctx.hasAnswered) return null;
      const step = steps[i]!;
      const result = runStep(step, ctx);
      if (isThenable(result)) return continueSteps(steps, i, result, ctx);
    }
    return null;
  }

  /**
   * Runs the request phases ({@link runRequestPhases}), then `proceed`: at once when every handler
   * returned synchronously, else once the last one has settled. A handler that throws or rejects
   * goes to `onHandlerError` (the caller fails closed); an exception from `proceed` after an async
   * handler goes to `onProceedError` (after sync handlers it propagates to the caller).
   */
  runRequestPhasesThen(ctx: PluginContext, proceed: () => void, onHandlerError: (err: unknown) => void, onProceedError: (err: unknown) => void): void {
    let pending: Promise<void> | null;
    try {
      pending = this.runRequestPhases(ctx);
    } catch (err) {
      return onHandlerError(err);
    }
    if (pending === null) return proceed();
    pending.then(() => {
      try {
        proceed();
      } catch (err) {
        onProceedError(err);
      }
    }, onHandlerError);
  }

  /** Runs the header_filter handlers on the response head being sent. @throws PluginHandlerError */
  runHeaderFilter(ctx: PluginContext): void {
    const handlers = this.header_filter;
    for (let i = 0; i < handlers.length; i++) {
      const handler = handlers[i]!;
      try {
        handler.header_filter!(ctx);
      } catch (err) {
        throw new PluginHandlerError(handler.name, 'header_filter', err);
      }
    }
  }

  /** Passes one body chunk through the body_filter handlers; returns what to send. @throws PluginHandlerError */
  runBodyFilter(ctx: PluginContext, chunk: Buffer, isLast: boolean): Buffer {
    const handlers = this.body_filter;
    let out = chunk;
    for (let i = 0; i < handlers.length; i++) {
      const handler = handlers[i]!;
      try {
        out = handler.body_filter!(ctx, out, isLast);
      } catch (err) {
        throw new PluginHandlerError(handler.name, 'body_filter', err);
      }
    }
    return out;
  }

  /**
   * Runs every log handler; one that throws (or rejects later) is reported to `onError` and the
   * next still runs. Promises are not awaited.
   */
  runLog(ctx: PluginContext, onError: (err: PluginHandlerError, ctx: PluginContext) => void): void {
    const handlers = this.log;
    for (let i = 0; i < handlers.length; i++) {
      const handler = handlers[i]!;
      try {
        const result = handler.log!(ctx);
        if (isThenable(result)) result.then(undefined, (err: unknown) => onError(new PluginHandlerError(handler.name, 'log', err), ctx));
      } catch (err) {
        onError(new PluginHandlerError(handler.name, 'log', err), ctx);
      }
    }
  }
}

function runStep(step: RequestStep, ctx: PluginContext): void | PromiseLike<void> {
  try {
    return step.phase === 'rewrite' ? step.handler.rewrite!(ctx) : step.handler.access!(ctx);
  } catch (err) {
    throw new PluginHandlerError(step.handler.name, step.phase, err);
  }
}

/** The rest of {@link PluginChain.runRequestPhases} once step `at` returned a promise. */
async function continueSteps(steps: readonly RequestStep[], at: number, pending: PromiseLike<unknown>, ctx: PluginContext): Promise<void> {
  try {
    await pending;
  } catch (err) {
    throw new PluginHandlerError(steps[at]!.handler.name, steps[at]!.phase, err);
  }
  for (let i = at + 1; i < steps.length; i++) {
    if (ctx.hasAnswered) return;
    const step = steps[i]!;
    const result = runStep(step, ctx);
    if (!isThenable(result)) continue;
    try {
      await result;
    } catch (err) {
      throw new PluginHandlerError(step.handler.name, step.phase, err);
    }
  }
}

/**
 * Compiles the handlers that apply to one (route, service) into a chain, in Kong's order
 * (`sort_by_handler_priority`): higher priority first; equal non-zero priorities by name,
 * descending; otherwise as given.
 */
export function compilePluginChain(handlers: readonly PluginHandler[]): PluginChain {
  const sorted = [...handlers].sort((a, b) => {
    if (a.priority === b.priority) return a.priority === 0 ? 0 : a.name > b.name ? -1 : a.name < b.name ? 1 : 0;
    return b.priority - a.priority;
  });
  return new PluginChain(sorted);
}

/** The chain of a route without plugins. */
export const EMPTY_CHAIN = new PluginChain([]);
