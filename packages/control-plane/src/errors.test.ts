import { describe, expect, it } from 'vitest';
import { ADMIN_ERRORS, HttpError, KONG_ERROR_HTTP_STATUS, KongDaoError, type AdminErrorCode } from './errors.js';

describe('the Admin API error table', () => {
  it('answers each DAO condition with the status Kong gives its code', () => {
    for (const [code, row] of Object.entries(ADMIN_ERRORS)) {
      if (row.kong !== null) expect(row.status, code).toBe(KONG_ERROR_HTTP_STATUS[row.kong]);
    }
  });

  it('gives each condition its own code, status and body', () => {
    const restricted = KongDaoError.foreignKeyRestricted('services', 'routes');
    const dangling = KongDaoError.foreignKeyInvalidReference('service', { id: 'x' }, 'services');
    expect([restricted.code, restricted.statusCode, restricted.toBody().code]).toEqual(['SLUICE_CP_REFERENCED_BY', 400, 4]);
    expect([dangling.code, dangling.statusCode, dangling.toBody().code]).toEqual(['SLUICE_CP_FOREIGN_KEY_VIOLATION', 400, 4]);
    const unique = KongDaoError.uniqueViolation({ name: 'a' });
    expect([unique.code, unique.statusCode]).toEqual(['SLUICE_CP_UNIQUE_VIOLATION', 409]);
    const cases: [HttpError, AdminErrorCode, number][] = [
      [HttpError.notFound(), 'SLUICE_CP_NOT_FOUND', 404],
      [HttpError.methodNotAllowed(), 'SLUICE_CP_METHOD_NOT_ALLOWED', 405],
      [HttpError.cannotParseJson(), 'SLUICE_CP_INVALID_JSON', 400],
      [HttpError.unsupportedMediaType(), 'SLUICE_CP_UNSUPPORTED_MEDIA_TYPE', 415],
      [HttpError.payloadTooLarge(10), 'SLUICE_CP_BODY_TOO_LARGE', 413],
      [HttpError.unexpected(), 'SLUICE_CP_UNEXPECTED', 500],
    ];
    for (const [err, code, status] of cases) expect([err.code, err.statusCode]).toEqual([code, status]);
    expect(HttpError.unsupportedMediaType().body).toBeNull();
  });
});
