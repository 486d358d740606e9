// mocha runs TypeScript through tsx; the reporter is spec plus the one closing line CI reads.
module.exports = {
  'node-option': ['import=tsx'],
  reporter: './test/reporter.cjs',
  timeout: 20000,
  exit: false,
};
