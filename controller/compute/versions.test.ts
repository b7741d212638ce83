import { describe, expect, it } from 'vitest';
import { CloudError } from '../../shared/errors/index.js';
import { mvAtLeast, parseMicroversion } from './versions.js';

describe('compute microversions', () => {
  it('means 2.1 without a header', () => {
    expect(parseMicroversion({})).toEqual({ major: 2, minor: 1 });
  });
  it('reads the legacy and the new header; the new one wins', () => {
    expect(parseMicroversion({ legacy: '2.10' }, '2.60')).toEqual({ major: 2, minor: 10 });
    expect(parseMicroversion({ openstack: 'compute 2.53', legacy: '2.10' }, '2.60')).toEqual({ major: 2, minor: 53 });
    expect(parseMicroversion({ openstack: 'volume 3.5, compute 2.37' }, '2.60')).toEqual({ major: 2, minor: 37 });
    expect(parseMicroversion({ openstack: 'volume 3.5', legacy: '2.2' }, '2.60')).toEqual({ major: 2, minor: 2 });
    expect(parseMicroversion({ openstack: 'compute latest' }, '2.60')).toEqual({ major: 2, minor: 60 });
  });
  it('answers 406 outside the range and 400 for garbage', () => {
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e as CloudError;
      }
      return null;
    };
    const e = err(() => parseMicroversion({ legacy: '2.90' }, '2.1'));
    expect(e?.status).toBe(406);
    expect(e?.message).toBe('Version 2.90 is not supported by the API. Minimum is 2.1 and maximum is 2.1.');
    expect(err(() => parseMicroversion({ legacy: '2.0' }))?.status).toBe(406);
    expect(err(() => parseMicroversion({ legacy: 'two' }))?.status).toBe(400);
    expect(err(() => parseMicroversion({ legacy: '2.01' }))?.status).toBe(400);
  });
  it('compares versions numerically', () => {
    expect(mvAtLeast({ major: 2, minor: 10 }, '2.9')).toBe(true);
    expect(mvAtLeast({ major: 2, minor: 1 }, '2.2')).toBe(false);
  });
});
