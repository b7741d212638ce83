import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareKnown, errorOf, exchangeParser, keyExchange, parseRun } from './report.js';

// testdata/run-log.txt (a run.log): blocks cut from real runs of the harness against Homestack (7 Dec 2026):
// a passed test, a body Tempest's schema refused (with its captured HTTP log), a setUpClass
// failure, a setUpClass skip, an assertRaises that did not raise, a failed tearDownClass.
const runLog = readFileSync(join(import.meta.dirname, 'testdata', 'run-log.txt'), 'utf8');
const T = {
  ok: 'tempest.api.identity.admin.v3.test_application_credentials.ApplicationCredentialsV3AdminTest.test_create_application_credential_with_roles',
  type: 'tempest.api.volume.admin.test_volume_types.VolumeTypesTest.test_volume_type_update',
  imp: 'tempest.api.image.v2.test_images.ImportImagesTest.test_image_web_download_import',
  loc: 'tempest.api.image.v2.test_images.ImageLocationsTest.test_set_location',
  dom: 'tempest.api.identity.admin.v3.test_domains_negative.DomainsNegativeTestJSON.test_create_domain_with_name_length_over_64',
  neg: 'tempest.api.image.v2.test_images_negative.ImagesNegativeTest.test_get_image_null_id',
  lost: 'tempest.api.volume.test_versions.VersionsTest.test_list_versions',
};
const selected = [`${T.ok}[id-1,smoke]`, `${T.type}[id-2]`, T.imp, `${T.loc}[id-3]`, T.dom, T.neg, T.lost];

describe('parseRun', () => {
  const r = parseRun(runLog, selected);

  it('counts per selected test as run.sh does', () => {
    expect(r.status.get(T.ok)).toBe('passed');
    expect(r.status.get(T.type)).toBe('failed');
    expect(r.status.get(T.imp)).toBe('failed'); // its class failed in setUpClass
    expect(r.status.get(T.loc)).toBe('skipped'); // its class skipped in setUpClass
    expect(r.status.get(T.dom)).toBe('failed');
    expect(r.status.get(T.lost)).toBe('notrun'); // never reported
    expect(r.status.get('tempest.api.image.v2.test_images_negative.ImagesNegativeTest.tearDownClass')).toBe('failed');
    expect(r.status.get(T.neg)).toBe('notrun'); // its class's tearDownClass is not the test's result
    expect(r.skipReason.get(T.loc)).toBe('ImageLocationsTest skipped as show_multiple_locations is not available');
  });

  it('keeps each failure its own traceback and captured log, a class failure for each of its tests', () => {
    expect(r.detail.get(T.type)).toContain("'qos_specs_id' was unexpected");
    expect(r.detail.get(T.type)).toContain('Captured pythonlogging:');
    expect(r.detail.get(T.imp)).toMatch(/^\(setUpClass of tempest\.api\.image\.v2\.test_images\.ImportImagesTest failed\)/);
  });
});

describe('errorOf', () => {
  const r = parseRun(runLog, selected);

  it('names the schema violation, where, and the Tempest client call', () => {
    expect(errorOf(r.detail.get(T.type)!)).toBe(
      "InvalidHTTPResponseBody (in types_client.create_volume_type): Additional properties are not allowed ('qos_specs_id' was unexpected [additionalProperties at schema['properties']['volume_type']] on body['volume_type']",
    );
  });

  it('gives an HTTP error with its details and the call', () => {
    expect(errorOf(r.detail.get(T.imp)!)).toMatch(/^NotFound \(in images_client\.info_import\): Object not found \{'message': /);
  });

  it('says when an error was expected and the call succeeded', () => {
    expect(errorOf(r.detail.get(T.dom)!)).toBe('MismatchError: an error was expected, but DomainsClient.create_domain succeeded');
  });

  it('lists each error of a failed class cleanup', () => {
    const e = errorOf(r.detail.get('tempest.api.image.v2.test_images_negative.ImagesNegativeTest.tearDownClass')!);
    expect(e).toMatch(/^MultipleExceptions: Forbidden: \{'message': 'Image [0-9a-f-]+ is protected and cannot be deleted\./);
  });
});

describe('exchanges', () => {
  it('reads status, path, bodies and the requested microversion; not the response header', () => {
    const p = exchangeParser();
    for (const l of parseRun(runLog, selected).detail.get(T.type)!.split('\n')) p.line(l);
    expect(p.all).toHaveLength(1);
    expect(p.all[0]).toMatchObject({
      key: 'VolumeTypesTest:test_volume_type_update',
      status: 200,
      method: 'POST',
      path: '/volume/v3/69b1a9969525af7189f95b2ace83a4d9/types',
      microversion: '', // the response carries 'openstack-api-version': 'volume 3.0'; the request none
      requestBody: '{"volume_type": {"name": "tempest-VolumeTypesTest-volume-type-349456635"}}',
    });
    expect(p.all[0]!.responseBody).toMatch(/^\{"volume_type":\{"id":"3fb3d0a6-/);

    const q = exchangeParser();
    for (const l of [
      '2026-12-07 10:15:30,903 18222 INFO     [tempest.lib.common.rest_client] Request (KeyPairsV22TestJSON:test_x): 400 POST http://198.51.100.1:8000/compute/v2.1/os-keypairs 0.009s',
      "2026-12-07 10:15:30,903 18222 DEBUG    [tempest.lib.common.rest_client] Request - Headers: {'Content-Type': 'application/json', 'X-OpenStack-Nova-API-Version': '2.2', 'X-Auth-Token': '<omitted>'}",
      '        Body: {"keypair": {"name": "k"}}',
      "    Response - Headers: {'status': '400', 'x-openstack-nova-api-version': '2.6'}",
      '        Body: b\'{"badRequest":{"code":400,',
      '    "message":"m"}}\'',
      '2026-12-07 10:15:31,000 18222 DEBUG    [urllib3.connectionpool] Resetting dropped connection: 198.51.100.1',
      '    not part of any exchange',
    ])
      q.line(l);
    expect(q.all[0]).toMatchObject({ microversion: '2.2', responseBody: '{"badRequest":{"code":400, "message":"m"}}' });

    // a captured log split inside "Response - Headers" (seen in real runs): still no microversion
    const r = exchangeParser();
    for (const l of [
      '2026-12-07 11:52:03,150 29260 INFO     [tempest.lib.common.rest_client] Request (C:test_y): 204 DELETE http://198.51.100.1:8000/compute/v2.1/servers/1 0.014s',
      "2026-12-07 11:52:03,150 29260 DEBUG    [tempest.lib.common.rest_client] Request - Headers: {'Content-Type': 'application/json'}",
      '        Body: None',
      '    Respo',
      "    nse - Headers: {'vary': 'OpenStack-API-Version', 'openstack-api-version': 'compute 2.1'}",
    ])
      r.line(l);
    expect(r.all[0]!.microversion).toBe('');
  });

  it('picks the exchange behind the error: its status first, the test before its cleanups', () => {
    const x = (key: string, status: number, path: string) => ({
      key,
      status,
      method: 'GET',
      path,
      microversion: '',
      requestBody: '',
      responseBody: '',
    });
    const all = [x('C:test_a', 404, '/ips'), x('C:test_a', 200, '/servers/1'), x('C:_run_cleanups', 404, '/servers/1')];
    expect(keyExchange(all, 'NotFound (in servers_client.list_addresses): …')!.path).toBe('/ips');
    expect(keyExchange(all, 'InvalidHTTPResponseBody: …')!.path).toBe('/servers/1');
    expect(keyExchange(all, 'InvalidHTTPResponseBody: …')!.key).toBe('C:test_a');
  });
});

describe('compareKnown', () => {
  const status = parseRun(runLog, selected).status;

  it('flags failures outside the file, listed tests that pass, lines for tests not selected', () => {
    const known = new Map([
      [T.type, 'not built yet: …'],
      [T.ok, 'not built yet: …'], // passes now
      [T.loc, 'not built yet: …'], // skipped: neither
      ['tempest.api.gone.Gone.test_gone', 'not built yet: …'],
      ['tempest.api.image.v2.test_images_negative.ImagesNegativeTest.tearDownClass', '…'],
    ]);
    const c = compareKnown(status, known);
    expect(c.fresh.sort()).toEqual([T.dom, T.imp, T.lost, T.neg].sort());
    expect(c.fixed).toEqual([T.ok]);
    expect(c.stale).toEqual(['tempest.api.gone.Gone.test_gone']);
  });

  it('counts a listed tearDownClass that no longer fails as passing', () => {
    const s = new Map(status);
    s.delete('tempest.api.image.v2.test_images_negative.ImagesNegativeTest.tearDownClass');
    s.set(T.neg, 'passed');
    const c = compareKnown(s, new Map([['tempest.api.image.v2.test_images_negative.ImagesNegativeTest.tearDownClass', '…']]));
    expect(c.fixed).toEqual(['tempest.api.image.v2.test_images_negative.ImagesNegativeTest.tearDownClass']);
  });
});
