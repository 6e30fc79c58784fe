import t from 'tap'
import { connectionBudget, FD_RESERVE, openFileLimit } from '../../src/lib/fd-limit.ts'

/** The open-file limit as the server reads it at start-up, and the connections it then holds. */
const limits = (soft: string, hard: string) =>
  `Limit                     Soft Limit           Hard Limit           Units\nMax cpu time              unlimited            unlimited            seconds\nMax open files            ${soft}                ${hard}                files\n`

t.same(openFileLimit(limits('1024', '524288')), { soft: 1024, hard: 524288 })
t.same(openFileLimit(limits('unlimited', 'unlimited')), { soft: Infinity, hard: Infinity })
t.equal(openFileLimit('nothing here'), undefined, 'not Linux: nothing to say')
t.equal(connectionBudget(20_000), 20_000 - FD_RESERVE, 'room kept for the database pool, files and logs')
t.equal(connectionBudget(100), 64, 'never below a usable floor')
t.equal(connectionBudget(Infinity), 0, 'no limit: no cap')
t.ok(openFileLimit() === undefined || openFileLimit()!.soft > 0, 'this machine’s limit reads')
