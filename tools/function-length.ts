/**
 * Functions longer than a limit, found with the TypeScript parser: the
 * runner's and the analysis's functions stay short enough to read whole
 * (issue #25: runPlan had grown to 274 lines with ten closures). A unit test
 * holds runner/ and analysis/ to it.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

export interface LongFunction {
  readonly file: string;
  readonly line: number;
  readonly name: string;
  readonly lines: number;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

function nameOf(n: ts.Node): string {
  const named = (n as { name?: ts.Node }).name;
  if (named) return named.getText();
  if (ts.isVariableDeclaration(n.parent) || ts.isPropertyAssignment(n.parent)) return n.parent.name.getText();
  return '(anonymous)';
}

/** Every function, method, arrow or constructor under `dirs` longer than `limit` lines (first to last line). */
export function longFunctions(root: string, dirs: readonly string[], limit: number): LongFunction[] {
  const found: LongFunction[] = [];
  for (const file of dirs.flatMap((d) => sourceFiles(join(root, d)))) {
    const src = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
    const visit = (n: ts.Node): void => {
      if (ts.isFunctionLike(n) && 'body' in n && n.body) {
        const first = src.getLineAndCharacterOfPosition(n.getStart()).line;
        const lines = src.getLineAndCharacterOfPosition(n.getEnd()).line - first + 1;
        if (lines > limit) found.push({ file: relative(root, file), line: first + 1, name: nameOf(n), lines });
      }
      ts.forEachChild(n, visit);
    };
    visit(src);
  }
  return found;
}
