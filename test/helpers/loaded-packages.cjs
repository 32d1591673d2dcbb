// Preloaded into a built function's process (NODE_OPTIONS=--require): when the process exits,
// writes the npm packages it loaded (those in Node's module cache) to LOADED_PACKAGES_FILE,
// one per line. CommonJS packages an ES module imports are in that cache too.
const { writeFileSync } = require('node:fs');

process.on('exit', () => {
  const packages = new Set();
  for (const path of Object.keys(require.cache)) {
    const match = /node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)[\\/](?!.*node_modules)/.exec(path);
    if (match) packages.add(match[1].replace('\\', '/'));
  }
  writeFileSync(process.env.LOADED_PACKAGES_FILE, [...packages].sort().join('\n'));
});
