import { libraryConfig } from '../../tools/tsup.library.ts';

// shims: import.meta.url (the bundled assets' folder) also works in the CommonJS build.
export default libraryConfig(['src/index.ts', 'src/node.ts'], { shims: true });
