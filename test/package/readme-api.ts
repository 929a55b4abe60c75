// The names README.md shows as the package's API: the imports of its code blocks and the bare names of its "API in
// brief" table (parenthesised details such as a model's methods, members listed after "with", WebGPU's own GPU*
// types and keywords left out). The consumer test type-checks a file that imports them all from the installed
// package, so a name the README promises but the package lacks fails.
const IDENT = /^[A-Za-z_$][\w$]*$/;
const KEYWORDS = new Set(['await', 'new', 'typeof']);

export interface ReadmeApi {
  /** Top-level exports. */
  readonly names: readonly string[];
  /** Members of the `io` namespace. */
  readonly io: readonly string[];
}

export function readmeApi(readme: string): ReadmeApi {
  const names = new Set<string>();
  const io = new Set<string>();
  for (const m of readme.matchAll(/^import \{([^}]*)\} from 'gelan-webgpu';$/gm)) {
    for (const n of m[1].split(',').map((s) => s.trim())) if (IDENT.test(n)) names.add(n);
  }
  const table = readme.split('### API in brief')[1]?.split('\n## ')[0] ?? '';
  for (const row of table.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| area'))) {
    let cell = row.split(' | ').slice(1).join(' | ');
    // drop parenthesised details (options, methods, fields) until none is left
    for (let prev = ''; prev !== cell; ) [prev, cell] = [cell, cell.replace(/\([^()]*\)/g, '')];
    cell = cell.replace(/ with `[^]*?(\. |$)/g, ' ');
    for (const [, code] of cell.matchAll(/`([^`]*)`/g)) {
      for (const word of code.split(/\s+/)) {
        const ns = /^io\.(\w+)((?:\/\w+)*)$/.exec(word);
        if (ns) [ns[1], ...ns[2].split('/').filter(Boolean)].forEach((n) => io.add(n));
        else if (IDENT.test(word) && !/^GPU/.test(word) && !KEYWORDS.has(word)) names.add(word);
      }
    }
  }
  return { names: [...names].sort(), io: [...io].sort() };
}

/** A TypeScript module importing every name (all of them values: functions, classes, constants). */
export function readmeApiModule(api: ReadmeApi): string {
  return [
    `import { ${[...api.names, 'io'].join(', ')} } from 'gelan-webgpu';`,
    `export const names: unknown[] = [${api.names.join(', ')}];`,
    `export const ioNames: unknown[] = [${api.io.map((n) => `io.${n}`).join(', ')}];`,
    '',
  ].join('\n');
}
