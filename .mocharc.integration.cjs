// Suites that boot real VMs or start daemons: one at a time (2-core hosts).
module.exports = {
  spec: ['test/dist/integration/**/*.test.js'],
  require: ['test/dist/helpers/root-hooks.js'],
  timeout: 180000,
  slow: 10000,
  parallel: false,
  reporter: 'spec',
};
