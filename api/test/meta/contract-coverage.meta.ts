import { readdirSync, readFileSync } from 'node:fs'
import t from 'tap'
import { coverageDir, operations } from '../helpers/contract.ts'

/**
 * Runs after the whole suite (scripts/test.mjs): every operation × documented status must have
 * been seen by some test. 500 is documented everywhere and is exempt: no test can honestly
 * provoke it for each route. 503 (the database is unavailable) is documented everywhere too and
 * exempt here because api/test/contract/database-down.test.ts walks every operation with the
 * database down and checks each answers 503 with Retry-After.
 */
const seen = new Set<string>()
for (const file of readdirSync(coverageDir).filter((f) => f.endsWith('.jsonl'))) {
  for (const line of readFileSync(`${coverageDir}/${file}`, 'utf8').split('\n')) {
    if (!line) continue
    const { operationId, status } = JSON.parse(line) as { operationId: string; status: number }
    seen.add(`${operationId} ${status}`)
  }
}

const missing: string[] = []
for (const op of operations) {
  for (const status of Object.keys(op.operation.responses)) {
    if (status === '500' || status === '503') continue
    const key = `${op.operation.operationId} ${status}`
    if (!seen.has(key)) missing.push(key)
  }
}
t.same(missing, [], 'every operation × documented status is exercised by a test')
t.ok(seen.size > 0, 'coverage was recorded')
