/**
 * YAML parsing that remembers where every value came from, so that a problem
 * found later (by the JSON Schema or by a cross-field check) can name the file,
 * line and column. Syntax errors, duplicate keys, unknown tags and alias bombs
 * are rejected here, before anything looks at the data.
 */
import { readFile, stat } from 'node:fs/promises';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { InvalidInputError, YamlError, type Problem } from '../core/errors.js';

/** Scenario and hosts files are hand-written; anything bigger is a mistake or an attack. */
export const MAX_INPUT_BYTES = 1024 * 1024;
/** Aliases are legitimate for sharing a disk list; thousands of them are an expansion bomb. */
export const MAX_ALIASES = 100;

export type PathSegment = string | number;

export interface YamlSource {
  readonly file: string;
  readonly text: string;
  readonly data: unknown;
  readonly doc: Document.Parsed;
  readonly lines: LineCounter;
}

export async function readYamlFile(file: string): Promise<YamlSource> {
  let size: number;
  try {
    const st = await stat(file);
    if (!st.isFile()) throw new InvalidInputError([atStart(file, 'not a regular file', 'name a YAML file')]);
    size = st.size;
  } catch (e) {
    if (e instanceof InvalidInputError) throw e;
    throw new InvalidInputError([atStart(file, `cannot read the file (${(e as NodeJS.ErrnoException).code ?? String(e)})`, 'check the path')]);
  }
  if (size > MAX_INPUT_BYTES) {
    throw new InvalidInputError([
      atStart(file, `the file is ${size} bytes; input files may be at most ${MAX_INPUT_BYTES} bytes`, 'split it, or use list values instead of repeating entries'),
    ]);
  }
  return parseYaml(file, await readFile(file, 'utf8'));
}

export function parseYaml(file: string, text: string): YamlSource {
  if (Buffer.byteLength(text) > MAX_INPUT_BYTES) {
    throw new InvalidInputError([atStart(file, `the text is larger than ${MAX_INPUT_BYTES} bytes`, 'split it')]);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: true, strict: true });
  const problems: Problem[] = [];
  for (const err of [...doc.errors, ...doc.warnings]) {
    const pos = err.linePos?.[0] ?? lines.linePos(err.pos[0]);
    const first = err.message.split('\n')[0] ?? err.message;
    problems.push({
      file,
      line: pos.line,
      column: pos.col,
      path: '',
      message: `YAML: ${first.replace(/ at line \d+, column \d+:?$/, '')}`,
      fix: yamlFix(err.code),
    });
  }
  if (problems.length > 0) throw new YamlError(problems);

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIASES });
  } catch (e) {
    throw new YamlError([atStart(file, `YAML: ${(e as Error).message}`, `use at most ${MAX_ALIASES} alias expansions; write list values instead`)]);
  }
  if (data === null || data === undefined) {
    throw new YamlError([atStart(file, 'the file is empty', 'see scenarios/quick.yaml for a complete example')]);
  }
  return { file, text, data, doc, lines };
}

function yamlFix(code: string): string | undefined {
  switch (code) {
    case 'DUPLICATE_KEY':
      return 'each key may appear once per mapping; remove or rename the repeated key';
    case 'TAG_RESOLVE_FAILED':
      return 'custom tags are not supported; write a plain value';
    case 'BAD_INDENT':
    case 'MISSING_CHAR':
    case 'UNEXPECTED_TOKEN':
      return 'check the indentation and punctuation on this line';
    default:
      return undefined;
  }
}

function atStart(file: string, message: string, fix?: string): Problem {
  return { file, line: 1, column: 1, path: '', message, ...(fix ? { fix } : {}) };
}

/** The node at `path`, or the deepest existing ancestor (a missing key is reported at its parent). */
function nodeAt(src: YamlSource, path: readonly PathSegment[]): Node | undefined {
  let node: unknown = src.doc.contents;
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) return node;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      const next = node.items[seg];
      if (next === undefined) return node;
      node = next;
    } else {
      break;
    }
  }
  return (node ?? undefined) as Node | undefined;
}

/** Where the key `key` of the mapping at `path` is written (for "unknown key" problems). */
function keyAt(src: YamlSource, path: readonly PathSegment[], key: string): Node | undefined {
  const parent = nodeAt(src, path);
  if (!isMap(parent)) return parent;
  const pair = parent.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === key);
  return (pair?.key as Node | undefined) ?? parent;
}

export interface Location {
  readonly line: number;
  readonly column: number;
}

export function locate(src: YamlSource, path: readonly PathSegment[], key?: string): Location {
  const node = key === undefined ? nodeAt(src, path) : keyAt(src, path, key);
  const offset = node?.range?.[0] ?? 0;
  const pos = src.lines.linePos(offset);
  return { line: pos.line, column: pos.col };
}

export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out ? `.${seg}` : seg;
  return out;
}

export function problemAt(
  src: YamlSource,
  path: readonly PathSegment[],
  message: string,
  fix?: string,
  key?: string,
): Problem {
  const { line, column } = locate(src, path, key);
  const full = key === undefined ? path : [...path, key];
  return { file: src.file, line, column, path: formatPath(full), message, ...(fix ? { fix } : {}) };
}
