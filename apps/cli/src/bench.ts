// `node apps/cli/dist/bench.js [options]`: the same as `mlzoo bench [options]` (the root `pnpm bench`).
import { main } from './program.js';

process.exitCode = await main(['bench', ...process.argv.slice(2)]);
