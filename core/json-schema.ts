/**
 * The lab's one JSON Schema validator (Ajv with formats): scenarios, hosts
 * files and results are checked by the same rules. Strict, so a typo in a
 * schema fails at once; `x-hint` is the lab's own keyword (what to write
 * instead, in scenario errors); defaults are filled in where a schema gives
 * them (scenarios); every error is reported, with the data it is about.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, allowUnionTypes: true, verbose: true });
ajv.addVocabulary(['x-hint']);
// ajv-formats is CommonJS; its default export arrives under `.default` from ESM.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule) as unknown as (a: Ajv) => void;
addFormats(ajv);

const compiled = new WeakMap<object, ValidateFunction>();

/** The schema's validator, compiled once. */
export function validatorFor(schema: Record<string, unknown>): ValidateFunction {
  let v = compiled.get(schema);
  if (!v) {
    v = ajv.compile(schema);
    compiled.set(schema, v);
  }
  return v;
}
