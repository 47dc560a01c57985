/**
 * Errors of the control plane. Every error has a stable `code` (`SLUICE_CP_*`) that callers branch
 * on; messages are for people.
 *
 * Two families: {@link ControlPlaneError} subclasses for operational failures (store, migrations,
 * configuration), and {@link KongDaoError}, Kong's DAO errors (`kong/db/errors.lua`) with Kong's
 * numeric code, name, message and `fields`, which the Admin API turns into Kong's error bodies.
 */
import { type FieldErrors, formatLuaTable, schemaViolationMessage } from '@sluice/protocol';

/** Stable codes of control-plane errors. */
export const ControlPlaneErrorCode = {
  store: 'SLUICE_CP_STORE',
  migration: 'SLUICE_CP_MIGRATION',
  config: 'SLUICE_CP_CONFIG',
  closed: 'SLUICE_CP_CLOSED',
  dao: 'SLUICE_CP_DAO',
  http: 'SLUICE_CP_HTTP',
  formArgument: 'SLUICE_CP_FORM_ARGUMENT',
  crossOrigin: 'SLUICE_CP_CROSS_ORIGIN',
} as const;
export type ControlPlaneErrorCode = (typeof ControlPlaneErrorCode)[keyof typeof ControlPlaneErrorCode];

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
};

/** The body of a Kong DAO error: `{code, name, message, fields?}` (or `options` for code 11). */
export interface KongErrorBody {
  code: number;
  name: string;
  message: string;
  fields?: unknown;
  options?: unknown;
}

/** One of Kong's DAO errors; see the module comment. */
export class KongDaoError extends ControlPlaneError {
  readonly kongCode: KongErrorCode;
  readonly kongName: string;
  readonly fields: unknown;
  readonly options: unknown;
  constructor(kongCode: KongErrorCode, message: string, extra: { fields?: unknown; options?: unknown; name?: string; cause?: unknown } = {}) {
    super(ControlPlaneErrorCode.dao, message, { cause: extra.cause });
    this.kongCode = kongCode;
    this.kongName = extra.name ?? KONG_ERROR_NAMES[kongCode];
    this.fields = extra.fields;
    this.options = extra.options;
  }

  /** The HTTP status Kong answers this error with. */
  get statusCode(): number {
    return KONG_ERROR_HTTP_STATUS[this.kongCode];
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
    return new KongDaoError(KongErrorCode.schemaViolation, schemaViolationMessage(fields), { fields });
  }

  /** Code 3: an entity with this primary key exists already. */
  static primaryKeyViolation(id: string, cause?: unknown): KongDaoError {
    return new KongDaoError(KongErrorCode.primaryKeyViolation, `primary key violation on key '${formatLuaTable({ id })}'`, {
      fields: { id },
      cause,
    });
  }

  /** Code 4 on insert/update: the referenced entity does not exist. */
  static foreignKeyInvalidReference(field: string, key: { id: string }, parent: string, cause?: unknown): KongDaoError {
    return new KongDaoError(
      KongErrorCode.foreignKeyViolation,
      `the foreign key '${formatLuaTable(key)}' does not reference an existing '${parent}' entity.`,
      { fields: { [field]: key }, cause },
    );
  }

  /** Code 4 on delete: other entities still reference this one. */
  static foreignKeyRestricted(parent: string, child: string, cause?: unknown): KongDaoError {
    return new KongDaoError(KongErrorCode.foreignKeyViolation, `an existing '${child}' entity references this '${parent}' entity`, {
      fields: { '@referenced_by': child },
      cause,
    });
  }

  /** Code 5: a unique field already holds this value. */
  static uniqueViolation(key: Record<string, unknown>, cause?: unknown): KongDaoError {
    return new KongDaoError(KongErrorCode.uniqueViolation, `UNIQUE violation detected on '${formatLuaTable(key)}'`, { fields: key, cause });
  }

  /** Code 6: the entity to update does not exist. */
  static notFound(key: Record<string, unknown>): KongDaoError {
    const message =
      'id' in key
        ? `could not find the entity with primary key '${formatLuaTable(key)}'`
        : `could not find the entity with '${formatLuaTable(key)}'`;
    return new KongDaoError(KongErrorCode.notFound, message, { fields: key });
  }

  /** Code 7: the pagination offset token cannot be decoded. */
  static invalidOffset(offset: string, reason: string): KongDaoError {
    return new KongDaoError(KongErrorCode.invalidOffset, `'${offset}' is not a valid offset: ${reason}`);
  }

  /** Code 9: the page size is not a number or out of range. */
  static invalidSize(message: string): KongDaoError {
    return new KongDaoError(KongErrorCode.invalidSize, message);
  }

  /** Code 10: the endpoint key in the URL is not a valid value of the unique field. */
  static invalidUnique(field: string, message: string): KongDaoError {
    return new KongDaoError(KongErrorCode.invalidUnique, message, { name: `invalid unique ${field}` });
  }

  /** Code 11: an invalid query option (tags filter). */
  static invalidOptions(options: Record<string, string>): KongDaoError {
    const parts = Object.keys(options)
      .sort()
      .map((k) => `${k}: ${options[k]}`);
    return new KongDaoError(KongErrorCode.invalidOptions, `invalid option (${parts.join('; ')})`, { options });
  }

  /** Code 13: a foreign key given by a unique field could not be resolved. */
  static foreignKeysUnresolved(field: string, keyField: string, value: string, parent: string): KongDaoError {
    const detail = `the foreign key cannot be resolved with '${formatLuaTable({ [keyField]: value })}' for an existing '${parent}' entity`;
    return new KongDaoError(KongErrorCode.foreignKeysUnresolved, `foreign key unresolved (${field}.${keyField}: ${detail})`, {
      fields: { [field]: { [keyField]: detail } },
    });
  }
}

/**
 * An Admin API error that is not a DAO error: Kong answers these with `{"message": ...}` (or an
 * empty body for 415).
 */
export class HttpError extends ControlPlaneError {
  readonly statusCode: number;
  /** The response body, or `null` for none. */
  readonly body: { message: string } | null;
  /** `options.code` is for subclasses, one per condition (default `SLUICE_CP_HTTP`). */
  constructor(statusCode: number, message: string | null, options?: { cause?: unknown; code?: ControlPlaneErrorCode }) {
    super(options?.code ?? ControlPlaneErrorCode.http, message ?? `HTTP ${statusCode}`, { cause: options?.cause });
    this.statusCode = statusCode;
    this.body = message === null ? null : { message };
  }

  static notFound(): HttpError {
    return new HttpError(404, 'Not found');
  }
  static methodNotAllowed(): HttpError {
    return new HttpError(405, 'Method not allowed');
  }
  static badRequest(message: string): HttpError {
    return new HttpError(400, message);
  }
  static cannotParseJson(cause?: unknown): HttpError {
    return new HttpError(400, 'Cannot parse JSON body', { cause });
  }
  static unsupportedMediaType(): HttpError {
    return new HttpError(415, null);
  }
  static payloadTooLarge(limitBytes: number): HttpError {
    return new HttpError(413, `Request body exceeds the limit of ${limitBytes} bytes`);
  }
  static unexpected(cause?: unknown): HttpError {
    return new HttpError(500, 'An unexpected error occurred', { cause });
  }
}

/**
 * A form body (url-encoded or multipart) breaks one of the decoder's limits: more arguments than
 * `MAX_FORM_ARGUMENTS` (Kong's `Too many arguments`), an array index outside
 * 1..`MAX_FORM_ARRAY_INDEX`, or a key nested deeper than `MAX_BODY_DEPTH`. Always 400.
 */
export class FormArgumentError extends HttpError {
  constructor(message: string) {
    super(400, message, { code: ControlPlaneErrorCode.formArgument });
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
    super(403, `cross-origin request refused: origin ${JSON.stringify(origin)} is not allowed (see --admin-gui-origin)`, {
      code: ControlPlaneErrorCode.crossOrigin,
    });
    this.origin = origin;
  }
}
