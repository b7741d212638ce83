import { describe, expect, it } from 'vitest';
import { testCloud } from '../identity/testing/kit.js';
import { actionBody } from './json-body.js';

describe('action bodies', () => {
  it('accepts an object or nothing, refuses other JSON with 400', () => {
    expect(actionBody(undefined)).toEqual({});
    expect(actionBody({ 'os-start': null })).toEqual({ 'os-start': null });
    for (const v of [9, 'x', [], true]) expect(() => actionBody(v)).toThrow(/expected a JSON object/);
  });

  it('a flavor action with a number for a body is a 400, not a 500 (found by the fault suite fuzzing)', async () => {
    const c = await testCloud();
    const r = await c.req('POST', '/compute/v2.1/flavors/1/action', c.adminToken, '9', { 'content-type': 'application/json' });
    expect(r.status).toBe(400);
    await c.close();
  });
});
