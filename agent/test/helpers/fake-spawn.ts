import type { ChildProcess, SpawnOptions } from 'node:child_process'
import { EventEmitter } from 'node:events'
import { PassThrough } from 'node:stream'
import type { SpawnFn } from '../../src/platform/exec.ts'

export interface FakeCall {
  command: string
  args: readonly string[]
  options: SpawnOptions
}

/**
 * A spawnFn that never starts anything: `missing` commands fail like spawn does (an 'error' with
 * ENOENT, then 'close'); the others play `behave` on a fake child that has no pid (so no real
 * process group is ever signalled).
 */
export function fakeSpawn(missing: string[], behave: (child: FakeChild, call: FakeCall) => Promise<void> = async (child) => child.finish(0)) {
  const calls: FakeCall[] = []
  const spawnFn: SpawnFn = (command, args, options) => {
    const call = { command, args, options }
    calls.push(call)
    const child = new FakeChild()
    if (missing.includes(command)) {
      process.nextTick(() => {
        child.emit('error', Object.assign(new Error(`spawn ${command} ENOENT`), { code: 'ENOENT', errno: -2, syscall: `spawn ${command}` }))
        child.emit('close', -2, null)
      })
    } else {
      setImmediate(() => {
        child.emit('spawn')
        void behave(child, call)
      })
    }
    // Only the parts of a ChildProcess that executeScript touches are here.
    return child as unknown as ChildProcess
  }
  return { spawnFn, calls }
}

export class FakeChild extends EventEmitter {
  readonly pid = undefined
  readonly stdout = new PassThrough()
  readonly stderr = new PassThrough()
  /** What was written to the child's stdin, as text. */
  readonly stdin = new PassThrough()
  input = ''
  constructor() {
    super()
    this.stdin.on('data', (d: Buffer) => (this.input += d.toString('utf8')))
  }
  kill() {
    void this.finish(1)
    return true
  }
  async write(stream: 'stdout' | 'stderr', bytes: Uint8Array) {
    this[stream].write(bytes)
    await new Promise((resolve) => setImmediate(resolve))
  }
  async finish(code: number) {
    this.stdout.end()
    this.stderr.end()
    await new Promise((resolve) => setImmediate(resolve))
    this.emit('exit', code, null)
    this.emit('close', code, null)
  }
}
