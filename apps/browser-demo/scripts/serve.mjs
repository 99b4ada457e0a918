// Serves dist/ on http://127.0.0.1:PORT (default 4173) for trying the demo by hand.
import { startStaticServer } from './static-server.mjs';

const server = await startStaticServer(
  new URL('../dist/', import.meta.url),
  Number(process.env.PORT ?? 4173),
);
console.log(`browser-demo: open ${server.url}`);
