import { describe, expect, it } from 'vitest';
import { DataPlaneErrorCode } from '../errors.js';
import { classifyUpstreamError, errorCode, RETRY, UPSTREAM_ERROR_ANSWERS } from './upstream-errors.js';

describe('classifyUpstreamError', () => {
  it('retries connection failures of replayable idempotent requests while attempts <= retries', () => {
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'EAI_AGAIN']) {
      expect(classifyUpstreamError(code, 'GET', true, 1, 5)).toBe(RETRY);
      expect(classifyUpstreamError(code, 'GET', true, 5, 5)).toBe(RETRY);
    }
    expect(classifyUpstreamError('ECONNREFUSED', 'GET', true, 6, 5)).toBe(UPSTREAM_ERROR_ANSWERS.badGateway);
    expect(classifyUpstreamError('ECONNREFUSED', 'GET', true, 1, 0)).toBe(UPSTREAM_ERROR_ANSWERS.badGateway);
    expect(classifyUpstreamError('ECONNREFUSED', 'POST', true, 1, 5)).toBe(UPSTREAM_ERROR_ANSWERS.badGateway);
    expect(classifyUpstreamError('ECONNREFUSED', 'PUT', false, 1, 5)).toBe(UPSTREAM_ERROR_ANSWERS.badGateway);
  });

  it('answers 503 when the host does not resolve, 504 on timeouts, 502 otherwise', () => {
    expect(classifyUpstreamError('ENOTFOUND', 'GET', true, 1, 5)).toEqual({ status: 503, message: 'name resolution failed' });
    expect(classifyUpstreamError('EAI_AGAIN', 'GET', true, 6, 5)).toEqual({ status: 503, message: 'name resolution failed' });
    for (const code of ['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', DataPlaneErrorCode.UPSTREAM_WRITE_TIMEOUT]) {
      expect(classifyUpstreamError(code, 'GET', true, 1, 5)).toEqual({ status: 504, message: 'The upstream server is timing out' });
    }
    expect(classifyUpstreamError('UND_ERR_CONNECT_TIMEOUT', 'GET', true, 1, 0)).toMatchObject({ status: 504 });
    expect(classifyUpstreamError('HPE_INVALID_CONSTANT', 'GET', true, 1, 5)).toEqual({ status: 502, message: 'An invalid response was received from the upstream server' });
    expect(classifyUpstreamError('', 'GET', true, 1, 5)).toBe(UPSTREAM_ERROR_ANSWERS.badGateway);
  });

  it('reads a string code off any error', () => {
    expect(errorCode(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBe('ECONNRESET');
    expect(errorCode(Object.assign(new Error('x'), { code: 42 }))).toBe('');
    expect(errorCode(new Error('x'))).toBe('');
  });
});
