#!/usr/bin/env node
// The one test command (`npm test`): builds what the tests need, runs the whole tap suite, then
// the contract-coverage meta-test over what the suite exercised, and prints `N passed, N failed`.
// TEST_DATABASE_URL=postgres://… runs the same suite against a real PostgreSQL.
import { spawnSync } from 'node:child_process'
import { rmSync } from 'node:fs'

const coverageDir = new URL('../.tap/contract-coverage', import.meta.url).pathname
rmSync(coverageDir, { recursive: true, force: true })

function run(command, args, env = {}) {
  const result = spawnSync(command, args, {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, HELPLINE_COVERAGE_DIR: coverageDir, ...env },
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  })
  process.stdout.write(result.stdout ?? '')
  const summary = /# \{ total: (\d+), pass: (\d+)(?:, fail: (\d+))?/.exec(result.stdout ?? '')
  const pass = Number(summary?.[2] ?? 0)
  const fail = Number(summary?.[3] ?? 0)
  // A runner that died without a summary, or exited non-zero with none counted, is a failure too.
  return { pass, fail: fail + (result.status !== 0 && fail === 0 ? 1 : 0) }
}

const extra = process.argv.slice(2)
const suite = run('npx', ['tap', ...extra])
const meta = extra.length ? { pass: 0, fail: 0 } : run('npx', ['tap', 'api/test/meta/contract-coverage.meta.ts'])
const passed = suite.pass + meta.pass
const failed = suite.fail + meta.fail
console.log(`${passed} passed, ${failed} failed`)
process.exit(failed > 0 ? 1 : 0)
