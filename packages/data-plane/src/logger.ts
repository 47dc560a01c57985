/**
 * The logging role the data plane depends on: the subset of pino's `Logger` it calls (structured
 * object first, then a message). The CLI passes a pino logger; tests pass `silentLogger` or a
 * collecting one.
 */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** A logger that drops everything. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};
