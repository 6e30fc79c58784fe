import { runInNewContext } from 'node:vm'
import t from 'tap'
import { collectStartupGarbage, growHeapInSteps } from '../../src/lib/startup-memory.ts'

// The server collects its start-up garbage once, without leaving `gc` exposed to any code after.
t.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined', 'tests run without --expose-gc')
collectStartupGarbage()
t.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined', 'not exposed in this context')
t.equal(runInNewContext('typeof gc'), 'undefined', 'nor in contexts made afterwards')

// The heap's growth step is the server's unless node was told one.
t.equal(growHeapInSteps(['--enable-source-maps', '--heap-growing-percent=30']), false, 'node --heap-growing-percent=30 wins')
t.equal(growHeapInSteps(['--heap_growing_percent=30']), false, 'also spelt with underscores')
t.equal(growHeapInSteps(['--heap-growing-percentage-of-nothing']), true, 'another flag is not that one')
t.equal(growHeapInSteps([]), true, 'otherwise the server sets it')
