import { Type } from 'typebox';
import { Value } from 'typebox/value';
import { describe, expect, it } from 'vitest';
import { BadRequest } from '../../shared/errors/index.js';
import {
  firstJsonschemaError,
  jsonschemaMessage,
  pathOf,
  pyRepr,
  validate,
  valueAt,
  type Rejection,
  type SchemaError,
} from './validate.js';

describe('the shared validation path', () => {
  it('returns a valid body typed and hands the errors of a bad one to the service rejection', () => {
    const S = Type.Object({ a: Type.Integer() });
    expect(validate(S, { a: 1 }).a).toBe(1);
    const seen: string[] = [];
    const reject: Rejection = (errs) => {
      seen.push(...errs.map((e) => `${e.instancePath} ${e.keyword}`));
      return new BadRequest('no');
    };
    expect(() => validate(S, { a: 'x' }, reject)).toThrow('no');
    expect(seen).toEqual(['/a type']);
    // Nova's wording stays the default.
    expect(() => validate(S, { a: 'x' })).toThrow('Invalid input for field/attribute a. Value: x. must be integer');
  });

  it('renders values as Python repr and errors as jsonschema words them', () => {
    expect(pyRepr({ id: 'x', n: [1, true, null], s: "it's" })).toBe(`{'id': 'x', 'n': [1, True, None], 's': "it's"}`);
    expect(pyRepr('a\\b')).toBe("'a\\\\b'");
    const S = Type.Object(
      {
        name: Type.String({ maxLength: 3 }),
        kind: Type.Unsafe<string>({ type: 'string', enum: ['x', 'y'] }),
        opt: Type.Optional(Type.Object({}, { additionalProperties: false })),
        n: Type.Optional(Type.Unsafe<string | null>({ type: ['string', 'null'] })),
      },
      { additionalProperties: true },
    );
    const msg = (body: unknown) => {
      const e = firstJsonschemaError([...Value.Errors(S, body)] as unknown as SchemaError[])!;
      return `${pathOf(e).join('/')}: ${jsonschemaMessage(e, valueAt(body, pathOf(e)))}`;
    };
    // A property's own error comes before the object's missing properties (jsonschema's order).
    expect(msg({ name: 'abcd' })).toBe("name: 'abcd' is too long");
    expect(msg({ name: 'ab' })).toBe(": 'kind' is a required property");
    expect(msg({ name: 'ab', kind: 'z' })).toBe("kind: 'z' is not one of ['x', 'y']");
    expect(msg({ name: 'ab', kind: 'x', opt: { a: 1, b: 2 } })).toBe(
      "opt: Additional properties are not allowed ('a', 'b' were unexpected)",
    );
    expect(msg({ name: 'ab', kind: 'x', n: 1 })).toBe("n: 1 is not of type 'string', 'null'");
  });
});
