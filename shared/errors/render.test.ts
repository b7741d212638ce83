import { describe, expect, it } from 'vitest';
import { glanceErrorRepresentation, negotiate } from './render.js';

const E = { status: 404, message: 'No image found with ID 123', code: 'NotFound' };

describe("Glance's error representations (webob's content negotiation)", () => {
  // Captured from WebOb 1.8.6 (Debian's python3-webob), HTTPNotFound(explanation=...).
  it('answers text/plain without an Accept header, as glanceclient expects', () => {
    expect(glanceErrorRepresentation(undefined, E)).toEqual({
      contentType: 'text/plain; charset=UTF-8',
      body: '404 Not Found\n\nNo image found with ID 123\n\n   ',
    });
    expect(glanceErrorRepresentation('', E).contentType).toMatch(/^text\/plain/);
  });

  it('answers JSON to application/json and HTML to */* or a tie', () => {
    const j = glanceErrorRepresentation('application/json', E);
    expect(j.contentType).toBe('application/json');
    expect(JSON.parse(j.body)).toEqual({ message: 'No image found with ID 123', code: '404 Not Found', title: 'Not Found' });
    for (const a of ['*/*', 'text/html', 'application/json, */*', 'text/*, application/json']) {
      expect(glanceErrorRepresentation(a, E).contentType, a).toMatch(/^text\/html/);
    }
    expect(glanceErrorRepresentation('*/*', E).body).toBe(
      '<html>\n <head>\n  <title>404 Not Found</title>\n </head>\n <body>\n  <h1>404 Not Found</h1>\n  No image found with ID 123<br /><br />\n\n\n\n </body>\n</html>',
    );
    expect(glanceErrorRepresentation('application/json, */*;q=0.5', E).contentType).toBe('application/json');
    expect(glanceErrorRepresentation('image/png', E).contentType).toMatch(/^text\/plain/);
    expect(glanceErrorRepresentation('*/*', { ...E, message: '<b>x</b>' }).body).toContain('&lt;b&gt;x&lt;/b&gt;');
  });

  it('picks the highest quality, the most specific range deciding an offer', () => {
    expect(negotiate('text/html;q=0.1, application/json;q=0.9', ['text/html', 'application/json'])).toBe('application/json');
    expect(negotiate('*/*;q=0.8, text/html;q=0', ['text/html', 'application/json'])).toBe('application/json');
    expect(negotiate('text/plain', ['text/html', 'application/json'])).toBeNull();
  });
});
