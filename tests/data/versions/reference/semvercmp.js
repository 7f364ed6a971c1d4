// Reference harness for the differential tests: reads "A<TAB>B" lines on stdin and prints
// "<", "=" or ">" as the npm `semver` package (strict mode) orders them, or "!" when it
// rejects either version. Usage: node semvercmp.js /path/to/semver/package
'use strict'
const SemVer = require(require('path').join(process.argv[2], 'classes', 'semver.js'))
const lines = require('fs').readFileSync(0, 'utf8').split('\n')
const out = []
for (const line of lines) {
  if (line === '') continue
  const tab = line.indexOf('\t')
  let a, b
  try {
    a = new SemVer(line.slice(0, tab))
    b = new SemVer(line.slice(tab + 1))
  } catch (e) {
    out.push('!')
    continue
  }
  const r = a.compare(b)
  out.push(r < 0 ? '<' : r > 0 ? '>' : '=')
}
process.stdout.write(out.join('\n') + '\n')
