/**
 * Runs a JSON Schema over a parsed YAML (or JSON) file and turns ajv's errors
 * into Problems a person can act on: located to the line, naming the key or
 * value, and saying what is allowed. ajv's raw output for `anyOf` (used for
 * "a value or a list of values") reports both branches; only the branch that
 * matches the shape the user wrote is kept.
 */
import type { ErrorObject } from 'ajv';
import type { Problem } from '../core/errors.js';
import { validatorFor } from '../core/json-schema.js';
import { problemAt, type PathSegment, type YamlSource } from './yaml-source.js';

/** Validates `src.data` in place (defaults are filled in) and returns every problem found. */
export function checkSchema(src: YamlSource, schema: Record<string, unknown>): Problem[] {
  const validate = validatorFor(schema);
  if (validate(src.data)) return [];
  const errors = pruneAnyOf(validate.errors ?? [], src.data);
  const seen = new Set<string>();
  const problems: Problem[] = [];
  for (const err of errors) {
    const p = toProblem(src, err);
    const key = `${p.line}:${p.column}:${p.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      problems.push(p);
    }
  }
  return problems;
}

function pointerToPath(pointer: string): PathSegment[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function valueAt(data: unknown, path: readonly PathSegment[]): unknown {
  let v: unknown = data;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[seg];
  }
  return v;
}

/**
 * Keep, for each failing anyOf, only the errors of the branch the value's shape
 * selects: branch 1 (a list) when the user wrote a list, branch 0 otherwise.
 */
function pruneAnyOf(errors: readonly ErrorObject[], data: unknown): ErrorObject[] {
  const anyOfs = errors.filter((e) => e.keyword === 'anyOf');
  const kept = errors.filter((e) => {
    // if/then/else (a workload's kind) reports the failing branch's own errors too; "must match else" says nothing more.
    if (e.keyword === 'anyOf' || e.keyword === 'if') return false;
    for (const a of anyOfs) {
      const prefix = `${a.schemaPath}/`;
      if (!e.schemaPath.startsWith(prefix)) continue;
      const branch = Number(e.schemaPath.slice(prefix.length).split('/')[0]);
      const isList = Array.isArray(valueAt(data, pointerToPath(a.instancePath)));
      if ((isList && branch !== 1) || (!isList && branch !== 0)) return false;
    }
    return true;
  });
  // An anyOf whose kept branch reported nothing still deserves a message.
  for (const a of anyOfs) {
    if (!kept.some((e) => e.schemaPath.startsWith(`${a.schemaPath}/`))) kept.push(a);
  }
  return kept;
}

function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return String(v);
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'list';
  if (typeof v === 'object') return 'mapping';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
    }
  }
  return d[a.length]![b.length]!;
}

export function didYouMean(word: string, options: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const o of options) {
    const dist = editDistance(word.toLowerCase(), o.toLowerCase());
    if (dist < bestD) {
      bestD = dist;
      best = o;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function hintOf(err: ErrorObject): string | undefined {
  const ps = err.parentSchema as Record<string, unknown> | undefined;
  return typeof ps?.['x-hint'] === 'string' ? (ps['x-hint'] as string) : undefined;
}

function toProblem(src: YamlSource, err: ErrorObject): Problem {
  const path = pointerToPath(err.instancePath);
  const value = err.data;
  const hint = hintOf(err);
  switch (err.keyword) {
    case 'additionalProperties': {
      const key = String((err.params as { additionalProperty: string }).additionalProperty);
      const allowed = Object.keys(((err.parentSchema as { properties?: object })?.properties ?? {}) as object);
      const guess = didYouMean(key, allowed);
      const fix = [guess ? `did you mean "${guess}"?` : undefined, hint, allowed.length ? `allowed keys: ${allowed.join(', ')}` : undefined]
        .filter(Boolean)
        .join(' ');
      return problemAt(src, path, `unknown key "${key}"`, fix || undefined, key);
    }
    case 'required': {
      const key = String((err.params as { missingProperty: string }).missingProperty);
      return problemAt(src, path, `missing required key "${key}"`, `add "${key}:" here`);
    }
    case 'type': {
      const want = String((err.params as { type: string }).type);
      return problemAt(src, path, `must be ${article(want)}, got ${typeName(value)} ${show(value)}`, hint);
    }
    case 'enum': {
      const allowed = (err.params as { allowedValues: unknown[] }).allowedValues.map(String);
      const guess = typeof value === 'string' ? didYouMean(value, allowed) : undefined;
      return problemAt(
        src,
        path,
        `${show(value)} is not allowed`,
        `${guess ? `did you mean "${guess}"? ` : ''}allowed: ${allowed.join(', ')}`,
      );
    }
    case 'propertyNames': {
      const name = String((err.params as { propertyName: string }).propertyName);
      return problemAt(src, path, `key "${name}" is not allowed here`, hint, name);
    }
    case 'pattern':
      return problemAt(src, path, `${show(value)} is not a valid value here`, hint ?? `must match ${(err.params as { pattern: string }).pattern}`);
    case 'anyOf':
      return problemAt(src, path, `${show(value)} is neither a valid value nor a list of valid values`, hint);
    case 'uniqueItems':
      return problemAt(src, path, 'lists the same value twice', 'remove the repeated value');
    default:
      return problemAt(src, path, `${show(value)} ${err.message ?? 'is not valid'}`, hint);
  }
}

function article(type: string): string {
  const t = type === 'object' ? 'mapping' : type === 'array' ? 'list' : type;
  return /^[aeiou]/.test(t) ? `an ${t}` : `a ${t}`;
}
