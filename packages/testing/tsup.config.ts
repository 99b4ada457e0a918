import { libraryConfig } from '../../tools/tsup.library.ts';

export default libraryConfig(['src/index.ts', 'src/checks.ts', 'src/golden.ts', 'src/readme.ts'], {
  external: ['vitest'],
});
