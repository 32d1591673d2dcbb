/**
 * The `arc` program: what the package's `bin` runs (bundled to dist/cli/arc.js), however it is
 * reached — directly, through `npm link` or `npm install -g`, or a symlink on PATH. It always
 * runs the command line and exits with its code.
 */
import { main } from './arc';

main(process.argv.slice(2)).then((code) => process.exit(code));
