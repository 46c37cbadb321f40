// Validate GLB/glTF files with the Khronos glTF Validator (npm package gltf-validator).
//
// Usage: node tests/gltf_validate.mjs FILE [FILE...]
// Prints one JSON object {"<file>": report-or-{"error": "..."}} on stdout.
// The package is looked up in $GLTF_VALIDATOR_DIR, then in .ci/node_modules next to
// this repository (where .ci/run installs it), then in node's normal search path.
// Exit codes: 0 every file got a report (read numErrors from it), 2 at least one file
// was rejected (not glTF/GLB at all), 3 the validator package is missing, 64 usage.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const candidates = [
  process.env.GLTF_VALIDATOR_DIR,
  join(resolve(here, '..'), '.ci', 'package.json'),
  join(here, 'package.json'),
].filter(Boolean);

function loadValidator() {
  for (const base of candidates) {
    try {
      // createRequire resolves 'gltf-validator' from base's node_modules.
      const req = createRequire(base.endsWith('.json') ? base : join(base, 'package.json'));
      return req('gltf-validator');
    } catch (e) {
      // Try the next place.
    }
  }
  return null;
}

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node tests/gltf_validate.mjs FILE [FILE...]');
  process.exit(64);
}
const validator = loadValidator();
if (!validator) {
  console.error('gltf-validator not found: run `npm install --prefix .ci gltf-validator`');
  process.exit(3);
}

const out = {};
let rejected = false;
for (const file of files) {
  try {
    const bytes = new Uint8Array(await readFile(file));
    out[file] = await validator.validateBytes(bytes, { uri: file, maxIssues: 50 });
  } catch (err) {
    // A rejected promise means the bytes are not glTF/GLB at all (or unreadable).
    rejected = true;
    out[file] = { error: String(err && err.message ? err.message : err) };
  }
}
process.stdout.write(JSON.stringify(out));
process.exit(rejected ? 2 : 0);
