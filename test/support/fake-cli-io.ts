import type { CliIo } from '../../bin/adf-conductor';

/** An in-memory terminal and file system for the CLI; `extra` adds the network, clock, TTY and environment. */
export function fakeCliIo(files: Record<string, string>, extra: Partial<CliIo> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    out: (s) => out.push(s),
    err: (s) => err.push(s),
    readFile: (p) => {
      const text = files[p];
      if (text === undefined) throw Object.assign(new Error(`ENOENT: no such file or directory, open '${p}'`), { code: 'ENOENT' });
      return text;
    },
    ...extra,
  };
  return { io, out, err, all: () => [...out, ...err].join('\n') };
}
