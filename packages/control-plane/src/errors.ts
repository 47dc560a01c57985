/**
 * Errors of the control plane. Every error has a stable `code` (`SLUICE_CP_*`) that callers branch
 * on; messages are for people.
 *
 * Two families: {@link ControlPlaneError} subclasses for operational failures (store, migrations,
 * configuration), and the Admin API's errors, one code per condition in {@link ADMIN_ERRORS}
 * (fastify's error table is the model): each with the HTTP status it answers and, for Kong's DAO
 * errors ({@link KongDaoError}, `kong/db/errors.lua`), Kong's numeric code, name, message and
 * `fields`, which the Admin API turns into Kong's error bodies; the others ({@link HttpError})
 * answer `{"message": …}`.
 */
import { type DeclarativeError, type FieldError, type FieldErrors, ENTITIES, formatLuaTable, schemaViolationMessage } from '@sluice/protocol';

/** Stable codes of control-plane errors. */
export const ControlPlaneErrorCode = {
  store: 'SLUICE_CP_STORE',
  migration: 'SLUICE_CP_MIGRATION',
  config: 'SLUICE_CP_CONFIG',
  closed: 'SLUICE_CP_CLOSED',
} as const;
export type ControlPlaneErrorCode = (typeof ControlPlaneErrorCode)[keyof typeof ControlPlaneErrorCode] | AdminErrorCode;

/** The base of every control-plane error. */
export class ControlPlaneError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A database operation failed for a reason other than a Kong-level constraint (connection, SQL). */
export class StoreError extends ControlPlaneError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ControlPlaneErrorCode.store, message, options);
  }
}

/** Running the migrations failed; the store is not usable. */
export class MigrationError extends ControlPlaneError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ControlPlaneErrorCode.migration, message, options);
  }
}

/** A command-line flag or environment variable is invalid. */
export class ConfigurationError extends ControlPlaneError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ControlPlaneErrorCode.config, message, options);
  }
}

/** The store or server was used after `close()`. */
export class ClosedError extends ControlPlaneError {
  constructor(what: string) {
    super(ControlPlaneErrorCode.closed, `${what} is closed`);
  }
}

/** Kong's DAO error codes (`kong/db/errors.lua: ERRORS`). */
export const KongErrorCode = {
  invalidPrimaryKey: 1,
  schemaViolation: 2,
  primaryKeyViolation: 3,
  foreignKeyViolation: 4,
  uniqueViolation: 5,
  notFound: 6,
  invalidOffset: 7,
  databaseError: 8,
  invalidSize: 9,
  invalidUnique: 10,
  invalidOptions: 11,
  operationUnsupported: 12,
  foreignKeysUnresolved: 13,
  declarativeConfig: 14,
} as const;
export type KongErrorCode = (typeof KongErrorCode)[keyof typeof KongErrorCode];

/** Kong's error names by code. */
const KONG_ERROR_NAMES: Record<KongErrorCode, string> = {
  1: 'invalid primary key',
  2: 'schema violation',
  3: 'primary key violation',
  4: 'foreign key violation',
  5: 'unique constraint violation',
  6: 'not found',
  7: 'invalid offset',
  8: 'database error',
  9: 'invalid size',
  10: 'invalid unique %s',
  11: 'invalid options',
  12: 'operation unsupported',
  13: 'foreign keys unresolved',
  14: 'invalid declarative configuration',
};

/** The HTTP status Kong answers each DAO error with (`kong/api/endpoints.lua: ERRORS_HTTP_CODES`). */
export const KONG_ERROR_HTTP_STATUS: Record<KongErrorCode, number> = {
  1: 400,
  2: 400,
  3: 400,
  4: 400,
  5: 409,
  6: 404,
  7: 400,
  8: 500,
  9: 400,
  10: 400,
  11: 400,
  12: 405,
  13: 400,
  14: 400,
};

/**
 * Every Admin API error condition: its stable code, the HTTP status it answers with, and Kong's
 * DAO code (`null` for errors Kong answers with a bare `{"message": …}`). A condition has one code,
 * so callers, dashboards and log queries branch on exactly what happened.
 */
export const ADMIN_ERRORS = {
  SLUICE_CP_SCHEMA_VIOLATION: { status: 400, kong: KongErrorCode.schemaViolation },
  SLUICE_CP_PRIMARY_KEY_VIOLATION: { status: 400, kong: KongErrorCode.primaryKeyViolation },
  /** A foreign key names an entity that does not exist (insert, update). */
  SLUICE_CP_FOREIGN_KEY_VIOLATION: { status: 400, kong: KongErrorCode.foreignKeyViolation },
  /** A delete refused because other entities reference this one (`@referenced_by`). */
  SLUICE_CP_REFERENCED_BY: { status: 400, kong: KongErrorCode.foreignKeyViolation },
  SLUICE_CP_UNIQUE_VIOLATION: { status: 409, kong: KongErrorCode.uniqueViolation },
  /** The entity a PATCH names does not exist (Kong's DAO body, code 6). */
  SLUICE_CP_ENTITY_NOT_FOUND: { status: 404, kong: KongErrorCode.notFound },
  SLUICE_CP_INVALID_OFFSET: { status: 400, kong: KongErrorCode.invalidOffset },
  SLUICE_CP_INVALID_SIZE: { status: 400, kong: KongErrorCode.invalidSize },
  /** The endpoint key in the URL is not a valid value of the unique field (code 10). */
  SLUICE_CP_INVALID_UNIQUE: { status: 400, kong: KongErrorCode.invalidUnique },
  SLUICE_CP_INVALID_OPTIONS: { status: 400, kong: KongErrorCode.invalidOptions },
  SLUICE_CP_FOREIGN_KEY_UNRESOLVED: { status: 400, kong: KongErrorCode.foreignKeysUnresolved },
  /** A `POST /config` file is invalid: its `fields` and `flattened_errors` name each faulty entity. */
  SLUICE_CP_DECLARATIVE_CONFIG: { status: 400, kong: KongErrorCode.declarativeConfig },
  /** No valid Admin API token (`Authorization: Bearer`, `Kong-Admin-Token`) while tokens are configured. */
  SLUICE_CP_UNAUTHORIZED: { status: 401, kong: null },
  /** A read-only token tried a write (POST, PUT, PATCH, DELETE). */
  SLUICE_CP_FORBIDDEN: { status: 403, kong: null },
  /** No such path, or no such entity for a GET (`{"message":"Not found"}`). */
  SLUICE_CP_NOT_FOUND: { status: 404, kong: null },
  SLUICE_CP_METHOD_NOT_ALLOWED: { status: 405, kong: null },
  /** A query parameter's value is refused (`?custom_id=`, a propagation version that is not a number). */
  SLUICE_CP_INVALID_QUERY: { status: 400, kong: null },
  /** The body is not JSON, is nested too deep, or is not valid UTF-8 (`Cannot parse JSON body`). */
  SLUICE_CP_INVALID_JSON: { status: 400, kong: null },
  /** A form body breaks a decoder limit (arguments, array index, nesting) or is malformed multipart. */
  SLUICE_CP_FORM_ARGUMENT: { status: 400, kong: null },
  SLUICE_CP_UNSUPPORTED_MEDIA_TYPE: { status: 415, kong: null },
  SLUICE_CP_BODY_TOO_LARGE: { status: 413, kong: null },
  /** A write from a browser page of an origin not allowed by `--admin-gui-origin`. */
  SLUICE_CP_CROSS_ORIGIN: { status: 403, kong: null },
  /**
   * The database is down, unreachable, or did not answer within its timeouts (`--database-*-timeout`):
   * `{"message":"database unavailable"}` with `Retry-After`. A write that answers it wrote nothing.
   */
  SLUICE_CP_DATABASE_UNAVAILABLE: { status: 503, kong: null },
  /** Anything else: logged, answered `{"message":"An unexpected error occurred"}`. */
  SLUICE_CP_UNEXPECTED: { status: 500, kong: null },
} as const satisfies Record<string, { status: number; kong: KongErrorCode | null }>;
export type AdminErrorCode = keyof typeof ADMIN_ERRORS;

/** Admin error codes whose condition is one of Kong's DAO errors. */
type DaoErrorCode = { [C in AdminErrorCode]: (typeof ADMIN_ERRORS)[C]['kong'] extends null ? never : C }[AdminErrorCode];
/** Admin error codes answered with `{"message": …}`. */
type MessageErrorCode = Exclude<AdminErrorCode, DaoErrorCode>;

/** The body of a Kong DAO error: `{code, name, message, fields?}` (or `options` for code 11; `flattened_errors` for 14). */
export interface KongErrorBody {
  code: number;
  name: string;
  message: string;
  fields?: unknown;
  options?: unknown;
  flattened_errors?: FlattenedEntityErrors[];
}

/** One faulty entity of a declarative config, as Kong's `POST /config?flatten_errors=1` lists it. */
export interface FlattenedEntityErrors {
  /** The kind's singular (`service`), or null for a fault of the document itself (`_format_version`). */
  entity_type: string | null;
  entity_id?: string;
  entity_name?: string;
  /** Where it is in the file (`services[0].routes[2]`); Sluice's addition. */
  entity_path: string;
  errors: ({ type: 'field'; field: string; message: string } | { type: 'entity'; message: string })[];
}

/** One of Kong's DAO errors; see the module comment. */
export class KongDaoError extends ControlPlaneError {
  readonly kongCode: KongErrorCode;
  readonly kongName: string;
  readonly fields: unknown;
  readonly options: unknown;
  declare readonly code: DaoErrorCode;
  constructor(code: DaoErrorCode, message: string, extra: { fields?: unknown; options?: unknown; name?: string; cause?: unknown } = {}) {
    super(code, message, { cause: extra.cause });
    this.kongCode = ADMIN_ERRORS[code].kong;
    this.kongName = extra.name ?? KONG_ERROR_NAMES[this.kongCode];
    this.fields = extra.fields;
    this.options = extra.options;
  }

  /** The HTTP status this error answers with. */
  get statusCode(): number {
    return ADMIN_ERRORS[this.code].status;
  }

  /** The response body, exactly as Kong shapes it. */
  toBody(): KongErrorBody {
    const body: KongErrorBody = { code: this.kongCode, name: this.kongName, message: this.message };
    if (this.fields !== undefined) body.fields = this.fields;
    if (this.options !== undefined) body.options = this.options;
    return body;
  }

  /** Code 2: the input failed validation. */
  static schemaViolation(fields: FieldErrors): KongDaoError {
    return new KongDaoError('SLUICE_CP_SCHEMA_VIOLATION', schemaViolationMessage(fields), { fields });
  }

  /** Code 3: an entity with this primary key exists already. */
  static primaryKeyViolation(id: string, cause?: unknown): KongDaoError {
    return new KongDaoError('SLUICE_CP_PRIMARY_KEY_VIOLATION', `primary key violation on key '${formatLuaTable({ id })}'`, {
      fields: { id },
      cause,
    });
  }

  /** Code 4 on insert/update: the referenced entity does not exist. */
  static foreignKeyInvalidReference(field: string, key: { id: string }, parent: string, cause?: unknown): KongDaoError {
    return new KongDaoError(
      'SLUICE_CP_FOREIGN_KEY_VIOLATION',
      `the foreign key '${formatLuaTable(key)}' does not reference an existing '${parent}' entity.`,
      { fields: { [field]: key }, cause },
    );
  }

  /** Code 4 on delete: other entities still reference this one. */
  static foreignKeyRestricted(parent: string, child: string, cause?: unknown): KongDaoError {
    return new KongDaoError('SLUICE_CP_REFERENCED_BY', `an existing '${child}' entity references this '${parent}' entity`, {
      fields: { '@referenced_by': child },
      cause,
    });
  }

  /** Code 5: a unique field already holds this value. */
  static uniqueViolation(key: Record<string, unknown>, cause?: unknown): KongDaoError {
    return new KongDaoError('SLUICE_CP_UNIQUE_VIOLATION', `UNIQUE violation detected on '${formatLuaTable(key)}'`, { fields: key, cause });
  }

  /** Code 6: the entity to update does not exist. */
  static notFound(key: Record<string, unknown>): KongDaoError {
    const message =
      'id' in key
        ? `could not find the entity with primary key '${formatLuaTable(key)}'`
        : `could not find the entity with '${formatLuaTable(key)}'`;
    return new KongDaoError('SLUICE_CP_ENTITY_NOT_FOUND', message, { fields: key });
  }

  /** Code 7: the pagination offset token cannot be decoded. */
  static invalidOffset(offset: string, reason: string): KongDaoError {
    return new KongDaoError('SLUICE_CP_INVALID_OFFSET', `'${offset}' is not a valid offset: ${reason}`);
  }

  /** Code 9: the page size is not a number or out of range. */
  static invalidSize(message: string): KongDaoError {
    return new KongDaoError('SLUICE_CP_INVALID_SIZE', message);
  }

  /** Code 10: the endpoint key in the URL is not a valid value of the unique field. */
  static invalidUnique(field: string, message: string): KongDaoError {
    return new KongDaoError('SLUICE_CP_INVALID_UNIQUE', message, { name: `invalid unique ${field}` });
  }

  /** Code 11: an invalid query option (tags filter). */
  static invalidOptions(options: Record<string, string>): KongDaoError {
    const parts = Object.keys(options)
      .sort()
      .map((k) => `${k}: ${options[k]}`);
    return new KongDaoError('SLUICE_CP_INVALID_OPTIONS', `invalid option (${parts.join('; ')})`, { options });
  }

  /** Code 14: a declarative config is invalid; see {@link InvalidDeclarativeConfigError}. */
  static declarativeConfig(errors: readonly DeclarativeError[]): InvalidDeclarativeConfigError {
    return new InvalidDeclarativeConfigError(errors);
  }

  /** Code 13: a foreign key given by a unique field could not be resolved. */
  static foreignKeysUnresolved(field: string, keyField: string, value: string, parent: string): KongDaoError {
    const detail = `the foreign key cannot be resolved with '${formatLuaTable({ [keyField]: value })}' for an existing '${parent}' entity`;
    return new KongDaoError('SLUICE_CP_FOREIGN_KEY_UNRESOLVED', `foreign key unresolved (${field}.${keyField}: ${detail})`, {
      fields: { [field]: { [keyField]: detail } },
    });
  }
}

/** Most faults listed in the message of an {@link InvalidDeclarativeConfigError} (all are in its `fields`). */
const MAX_LISTED_DECLARATIVE_ERRORS = 20;

/** Field errors as `{field, message}` pairs: nested records as `a.b`, array elements as `a.1` (1-based, as Kong). */
function flattenFieldErrors(errors: FieldErrors | FieldError, prefix: string, out: FlattenedEntityErrors['errors']): void {
  if (typeof errors === 'string') {
    out.push(prefix === '@entity' || prefix === '' ? { type: 'entity', message: errors } : { type: 'field', field: prefix, message: errors });
    return;
  }
  if (Array.isArray(errors)) {
    errors.forEach((e, i) => {
      if (e === null) return;
      if (prefix === '@entity' && typeof e === 'string') out.push({ type: 'entity', message: e });
      else flattenFieldErrors(e, `${prefix}.${i + 1}`, out);
    });
    return;
  }
  for (const [key, value] of Object.entries(errors)) flattenFieldErrors(value, prefix === '' ? key : `${prefix}.${key}`, out);
}

/** Puts `value` at `path` in a tree of objects and arrays (holes are null, as Kong encodes them). */
function setAtPath(tree: Record<string, unknown>, path: readonly (string | number)[], value: unknown): void {
  let node: Record<string | number, unknown> = tree;
  path.forEach((part, i) => {
    if (i === path.length - 1) {
      node[part] = value;
      return;
    }
    const next = path[i + 1];
    if (typeof node[part] !== 'object' || node[part] === null) node[part] = typeof next === 'number' ? [] : {};
    node = node[part] as Record<string | number, unknown>;
  });
}

/**
 * Kong's code 14 (`declarative config is invalid`): `fields` mirrors the file (`{"services":
 * [null, {"host": "required field missing"}]}`), `flattened_errors` lists each faulty entity with
 * its kind, id, name and path in the file. Nothing was written.
 */
export class InvalidDeclarativeConfigError extends KongDaoError {
  readonly errors: readonly DeclarativeError[];
  constructor(errors: readonly DeclarativeError[]) {
    const listed = errors.slice(0, MAX_LISTED_DECLARATIVE_ERRORS).map((e) => (e.where === '' ? e.message : `${e.where}: ${e.message}`));
    const more = errors.length > MAX_LISTED_DECLARATIVE_ERRORS ? `; and ${errors.length - MAX_LISTED_DECLARATIVE_ERRORS} more` : '';
    const fields: Record<string, unknown> = {};
    for (const e of errors) setAtPath(fields, e.path.length > 0 ? e.path : ['@entity'], e.fields ?? e.message);
    super('SLUICE_CP_DECLARATIVE_CONFIG', `declarative config is invalid: ${listed.join('; ')}${more}`, { fields });
    this.errors = errors;
  }

  override toBody(): KongErrorBody {
    const flattened = this.errors.map((e): FlattenedEntityErrors => {
      const list: FlattenedEntityErrors['errors'] = [];
      if (e.fields !== undefined) flattenFieldErrors(e.fields, '', list);
      else list.push(e.kind === null && e.where !== '' ? { type: 'field', field: e.where, message: e.message } : { type: 'entity', message: e.message });
      return {
        entity_type: e.kind === null ? null : ENTITIES[e.kind].singular,
        ...(e.entityId === undefined ? {} : { entity_id: e.entityId }),
        ...(e.entityName === undefined ? {} : { entity_name: e.entityName }),
        entity_path: e.where,
        errors: list,
      };
    });
    return { ...super.toBody(), flattened_errors: flattened };
  }
}

/**
 * An Admin API error that is not a DAO error: Kong answers these with `{"message": ...}` (or an
 * empty body for 415).
 */
export class HttpError extends ControlPlaneError {
  declare readonly code: MessageErrorCode;
  readonly statusCode: number;
  /** The response body, or `null` for none. */
  readonly body: { message: string } | null;
  /** The status comes from the code's row in {@link ADMIN_ERRORS}; `message` null sends no body. */
  constructor(code: MessageErrorCode, message: string | null, options?: { cause?: unknown }) {
    super(code, message ?? `HTTP ${ADMIN_ERRORS[code].status}`, { cause: options?.cause });
    this.statusCode = ADMIN_ERRORS[code].status;
    this.body = message === null ? null : { message };
  }

  static notFound(): HttpError {
    return new HttpError('SLUICE_CP_NOT_FOUND', 'Not found');
  }
  static methodNotAllowed(): HttpError {
    return new HttpError('SLUICE_CP_METHOD_NOT_ALLOWED', 'Method not allowed');
  }
  /** A query parameter's value is refused; `message` says which and why. */
  static invalidQuery(message: string): HttpError {
    return new HttpError('SLUICE_CP_INVALID_QUERY', message);
  }
  static cannotParseJson(cause?: unknown): HttpError {
    return new HttpError('SLUICE_CP_INVALID_JSON', 'Cannot parse JSON body', { cause });
  }
  static unsupportedMediaType(): HttpError {
    return new HttpError('SLUICE_CP_UNSUPPORTED_MEDIA_TYPE', null);
  }
  static payloadTooLarge(limitBytes: number): HttpError {
    return new HttpError('SLUICE_CP_BODY_TOO_LARGE', `Request body exceeds the limit of ${limitBytes} bytes`);
  }
  /** No valid token: Kong's RBAC message. */
  static unauthorized(): HttpError {
    return new HttpError('SLUICE_CP_UNAUTHORIZED', 'Invalid credentials. Token or User credentials required');
  }
  /** A read-only token tried a write: Kong's RBAC message (`<name>, you do not have permissions to <action> this resource`). */
  static forbidden(tokenName: string, action: string): HttpError {
    return new HttpError('SLUICE_CP_FORBIDDEN', `${tokenName}, you do not have permissions to ${action} this resource`);
  }
  static unexpected(cause?: unknown): HttpError {
    return new HttpError('SLUICE_CP_UNEXPECTED', 'An unexpected error occurred', { cause });
  }
}

/** Why the database counts as unavailable: it refused or dropped the connection, or it did not answer in time. */
export const DatabaseFault = {
  /** Connecting failed or the connection dropped (refused, reset, terminated, authentication). */
  CONNECTION: 'connection',
  /** A connect, statement or transaction timeout passed (the database hangs or is overloaded). */
  TIMEOUT: 'timeout',
  /** The database answered that it cannot serve now (shutting down, too many connections, recovery). */
  SERVER: 'server',
  /** The request that started the write went away before it committed; the write was rolled back. */
  CANCELLED: 'cancelled',
} as const;
export type DatabaseFault = (typeof DatabaseFault)[keyof typeof DatabaseFault];

/** Seconds a client is told to wait (`Retry-After`) after a 503 for an unavailable database. */
export const DATABASE_RETRY_AFTER_SECONDS = 1;

/**
 * The database cannot serve this operation: 503 `{"message":"database unavailable"}` (Kong answers
 * such failures with a 500; Sluice says what happened so clients retry). Raised by the store for
 * any connection-level failure or timeout; never for a constraint or SQL error. `fault` says which.
 */
export class DatabaseUnavailableError extends HttpError {
  readonly fault: DatabaseFault;
  constructor(fault: DatabaseFault, options?: { cause?: unknown }) {
    super('SLUICE_CP_DATABASE_UNAVAILABLE', 'database unavailable', options);
    this.fault = fault;
  }
}

/**
 * A form body (url-encoded or multipart) breaks one of the decoder's limits: more arguments than
 * `MAX_FORM_ARGUMENTS` (Kong's `Too many arguments`), an array index outside
 * 1..`MAX_FORM_ARRAY_INDEX`, a key nested deeper than `MAX_BODY_DEPTH`, or a multipart body without
 * its boundary. Always 400.
 */
export class FormArgumentError extends HttpError {
  constructor(message: string) {
    super('SLUICE_CP_FORM_ARGUMENT', message);
  }
}

/**
 * A write (POST, PUT, PATCH, DELETE) sent by a web page of another origin that is not allowed
 * (`--admin-gui-origin`): refused with 403 before the body is read, so a page cannot write through
 * a CORS "simple request" such as a form POST.
 */
export class CrossOriginError extends HttpError {
  readonly origin: string;
  constructor(origin: string) {
    super('SLUICE_CP_CROSS_ORIGIN', `cross-origin request refused: origin ${JSON.stringify(origin)} is not allowed (see --admin-gui-origin)`);
    this.origin = origin;
  }
}
