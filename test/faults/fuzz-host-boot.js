/**
 * Starts test/faults/fuzz-host.ts in a process of its own (the fuzz suite forks this file). TypeScript is
 * compiled on load with the compiler's transpileModule, so the child runs the same sources as the suite;
 * the output is cached in the temp folder by content hash, which saves most of the start on a second run.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- a CommonJS bootstrap: it installs a require hook */
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const cacheDir = path.join(os.tmpdir(), 'adf-conductor-fuzz-ts');
let ts;

function compile(filename, source) {
  ts ??= require('typescript');
  return ts.transpileModule(source, {
    fileName: filename,
    compilerOptions: {
      module: ts.ModuleKind.CommonJS,
      target: ts.ScriptTarget.ES2022,
      esModuleInterop: true,
      resolveJsonModule: true,
      inlineSourceMap: true,
    },
  }).outputText;
}

require.extensions['.ts'] = (module, filename) => {
  const source = fs.readFileSync(filename, 'utf8');
  const key = crypto.createHash('sha1').update(`v1\0${filename}\0${source}`).digest('hex');
  const cached = path.join(cacheDir, `${key}.js`);
  let code;
  try {
    code = fs.readFileSync(cached, 'utf8');
  } catch {
    code = compile(filename, source);
    try {
      fs.mkdirSync(cacheDir, { recursive: true });
      const tmp = `${cached}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, code);
      fs.renameSync(tmp, cached);
    } catch {
      // a cache that cannot be written only costs time
    }
  }
  module._compile(code, filename);
};

require('./fuzz-host.ts');
