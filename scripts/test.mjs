#!/usr/bin/env node
// The one test command (`npm test`): runs the whole tap suite, then the contract-coverage
// meta-test over what the suite exercised, and prints `N passed, N failed`.
// TEST_DATABASE_URL=postgres://… runs the same suite against a real PostgreSQL.
// Arguments (test files) run just those files, without the meta-test.
// TEST_BROWSER=0 leaves out the console's browser tests (admin/test/*.browser.test.ts): CI runs
// them in the PGlite pass only, since what they check lives in the browser, not in the database.
import { spawn, spawnSync } from 'node:child_process'
import { rmSync } from 'node:fs'
import { TapConfig } from '@tapjs/config'
import { signature } from '@tapjs/test'

// tap rebuilds its Test class when the configured plugins (package.json "tap".plugin) differ from
// those it was built with, but the run that notices still starts every test file with the old
// set's loaders. A fresh `npm ci` installs tap built with @tapjs/typescript, so the whole first
// run (CI's PGlite pass) loaded ts-node into each of ~90 test processes besides tsx: ~0.7 s more
// CPU per file. Rebuild first, once, when they differ.
if ((await TapConfig.load()).pluginSignature !== signature) {
  const built = spawnSync('npx', ['tap', 'build'], { stdio: ['ignore', 'inherit', 'inherit'] })
  if (built.status !== 0) {
    console.log('0 passed, 1 failed')
    process.exit(1)
  }
}

const coverageDir = new URL('../.tap/contract-coverage', import.meta.url).pathname
rmSync(coverageDir, { recursive: true, force: true })

/** Runs tap, streaming its output, and returns the counts from its closing summary. */
function run(args) {
  return new Promise((resolve) => {
    const child = spawn('npx', ['tap', ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, HELPLINE_COVERAGE_DIR: coverageDir },
    })
    let tail = ''
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk)
      tail = (tail + chunk.toString()).slice(-4096)
    })
    child.on('close', (code) => {
      const summary = /# \{ total: (\d+), pass: (\d+)(?:, fail: (\d+))?/.exec(tail)
      const pass = Number(summary?.[2] ?? 0)
      const fail = Number(summary?.[3] ?? 0)
      // A runner that died without a summary, or exited non-zero with none counted, is a failure too.
      resolve({ pass, fail: fail + (code !== 0 && fail === 0 ? 1 : 0) })
    })
  })
}

const files = process.argv.slice(2)
const excludes = process.env.TEST_BROWSER === '0' ? ['--exclude=admin/test/**/*.browser.test.ts'] : []
const suite = await run(files.length ? files : excludes)
const meta = files.length ? { pass: 0, fail: 0 } : await run(['api/test/meta/contract-coverage.meta.ts'])
const passed = suite.pass + meta.pass
const failed = suite.fail + meta.fail
console.log(`${passed} passed, ${failed} failed`)
process.exit(failed > 0 ? 1 : 0)
