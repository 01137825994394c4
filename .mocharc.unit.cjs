// Unit tests: next to each package, compiled to packages/*/dist/test.
module.exports = {
  spec: ['packages/*/dist/test/**/*.test.js', 'test/dist/soak/**/*.test.js'],
  timeout: 20000,
  reporter: 'spec',
};
