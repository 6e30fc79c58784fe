import { runInNewContext } from 'node:vm'
import t from 'tap'
import { collectStartupGarbage } from '../../src/lib/startup-memory.ts'

// The server collects its start-up garbage once, without leaving `gc` exposed to any code after.
t.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined', 'tests run without --expose-gc')
collectStartupGarbage()
t.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined', 'not exposed in this context')
t.equal(runInNewContext('typeof gc'), 'undefined', 'nor in contexts made afterwards')
