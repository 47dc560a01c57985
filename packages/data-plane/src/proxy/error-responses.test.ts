import { describe, expect, it } from 'vitest';
import { errorBody, errorFormatFor } from './error-responses.js';

describe('generated response formats (Kong’s kong.response.error)', () => {
  it.each([
    [undefined, 'json'],
    ['', 'json'],
    ['*/*', 'json'],
    ['application/json', 'json'],
    ['text/html', 'html'],
    ['TEXT/HTML; charset=utf-8', 'html'],
    ['application/xml', 'xml'],
    ['text/plain', 'plain'],
    ['text/*', 'plain'],
    ['application/*', 'json'],
    ['image/png', 'json'],
    // A browser: html first, q=1.
    ['text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', 'html'],
    // The highest q wins, whatever the order; the first of equals.
    ['application/xml;q=0.5, text/plain;q=0.9', 'plain'],
    ['text/plain, application/xml', 'plain'],
    // q=0 means "not this".
    ['text/html;q=0', 'json'],
    ['text/html;q=0, application/xml;q=0.1', 'xml'],
  ] as const)('Accept %j → %s', (accept, format) => {
    expect(errorFormatFor(accept)).toBe(format);
  });

  it('renders each format with the message and the request id', () => {
    const id = '0123456789abcdef0123456789abcdef';
    expect(errorBody('no Route matched with those values', id)).toEqual({
      contentType: 'application/json; charset=utf-8',
      body: `{"message":"no Route matched with those values","request_id":"${id}"}`,
    });
    const html = errorBody('no Route matched with those values', id, 'text/html');
    expect(html.contentType).toBe('text/html; charset=utf-8');
    expect(html.body).toContain('<p>no Route matched with those values.</p>');
    expect(html.body).toContain(`<p>request_id: ${id}</p>`);
    const xml = errorBody('a <b> & "c"', id, 'application/xml');
    expect(xml.body).toBe(`<?xml version="1.0" encoding="UTF-8"?>\n<error>\n  <message>a &lt;b&gt; &amp; &quot;c&quot;</message>\n  <requestid>${id}</requestid>\n</error>\n`);
    expect(errorBody('Bad request', id, 'text/plain')).toEqual({ contentType: 'text/plain; charset=utf-8', body: `Bad request\nrequest_id: ${id}\n` });
  });
});
