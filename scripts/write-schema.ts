// Writes schema/trellis-config.schema.json from the option table of `trellis web`
// (`node --import tsx scripts/write-schema.ts`); test/cli/config-file.test.ts checks it is current.
import { writeFileSync } from 'node:fs';
import { configSchema } from '../src/cli/config-file.js';
import { webPlugin } from '../src/cli/web.js';

writeFileSync(
  new URL('../schema/trellis-config.schema.json', import.meta.url),
  `${JSON.stringify(configSchema([webPlugin]), null, 2)}\n`,
);
