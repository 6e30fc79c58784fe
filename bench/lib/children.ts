/**
 * Pieces the load benches share: a helper process of bench/lib (the load generator, the bare
 * server) with its stdout collected or driven over IPC, and the 1 MiB multipart script upload
 * they send.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { root } from './server.ts'
import { track } from './scratch.ts'

/** Runs a bench/lib script in its own process; its stdout. */
export function child(script: string, args: string[], env: Record<string, string> = {}): { proc: ChildProcess; output: Promise<string> } {
  const proc = track(spawn(process.execPath, ['--import', 'tsx', `bench/lib/${script}`, ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] }))
  let out = ''
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  const output = new Promise<string>((resolve) => proc.stdout!.on('end', () => resolve(out)))
  return { proc, output }
}

/**
 * Runs a bench/lib script in its own process, driven over IPC: `ask` sends a request and resolves
 * with the child's next message, which must be of the type asked for; a `{ type: 'error',
 * message }` rejects, and so does the child's exit. One request at a time.
 */
export function driven<Request, Reply extends { type: string }>(script: string) {
  const proc = track(fork(`${root}bench/lib/${script}`, [], { cwd: root, execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }))
  // A child that died (ctrl-C, a crash) is reported by the next ask, not thrown here.
  proc.on('error', () => undefined)
  const ask = <T extends Reply['type']>(request: Request, type: T): Promise<Extract<Reply, { type: T }>> =>
    new Promise((resolve, reject) => {
      if (!proc.connected) return reject(new Error(`${script} is gone`))
      const onExit = (code: number | null) => reject(new Error(`${script} exited (${code})`))
      proc.once('message', (reply: Reply) => {
        proc.off('exit', onExit)
        if (reply.type === type) resolve(reply as Extract<Reply, { type: T }>)
        else reject(new Error(reply.type === 'error' ? (reply as { message?: string }).message : `${script} answered ${reply.type}, not ${type}`))
      })
      proc.once('exit', onExit)
      proc.send(request as object)
    })
  /** Tells it to stop, and kills it if it does not. */
  const stop = (request: Request) => {
    if (proc.connected) proc.send(request as object)
    setTimeout(() => proc.kill('SIGKILL'), 2000).unref()
  }
  return { proc, ask, stop }
}

/** `size` bytes of shell script text: numbered lines with a little randomness, compressible as real scripts are. */
function shellText(size: number): Buffer {
  const lines: string[] = []
  let length = 0
  for (let i = 0; length < size; i++) {
    const line = `echo "step ${i}: checking ${randomBytes(6).toString('hex')}" >> "$LOG_DIR/run.log" || exit ${i % 120}\n`
    lines.push(line)
    length += line.length
  }
  return Buffer.from(lines.join('')).subarray(0, size)
}

/** A multipart body with exactly 1 MiB of files; its name carries the loadgen's counter. */
export function uploadBody(categoryId: string, text = false) {
  const boundary = `bench${randomBytes(8).toString('hex')}`
  // Random bytes by default (nothing to compress); `text`: lines of a shell script, as most scripts are.
  const content = (size: number) => (text ? shellText(size) : randomBytes(size))
  const files: [string, string, Buffer][] = [
    ['executable', 'run.sh', Buffer.concat([Buffer.from('#!/bin/sh\n'), content(256 * 1024 - 10)])],
    ['inputs', 'a.bin', content(256 * 1024)],
    ['inputs', 'b.bin', content(256 * 1024)],
    ['inputs', 'c.bin', content(256 * 1024)],
  ]
  const parts: Buffer[] = []
  for (const [field, value] of [['name', `Bench upload @@@@@@@@ ${randomBytes(3).toString('hex')}`], ['categoryId', categoryId], ['published', 'true']]) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${field}"\r\n\r\n${value}\r\n`))
  }
  for (const [field, filename, content] of files) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="${filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`), content, Buffer.from('\r\n'))
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`))
  return { payload: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${boundary}` }
}
