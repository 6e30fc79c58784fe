/**
 * Pieces the load benches share: a helper process of bench/lib (the load generator, the bare
 * server) with its stdout collected, and the 1 MiB multipart script upload they send.
 */
import { spawn, type ChildProcess } from 'node:child_process'
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

/** A multipart body with exactly 1 MiB of files; its name carries the loadgen's counter. */
export function uploadBody(categoryId: string) {
  const boundary = `bench${randomBytes(8).toString('hex')}`
  const files: [string, string, Buffer][] = [
    ['executable', 'run.sh', Buffer.concat([Buffer.from('#!/bin/sh\n'), randomBytes(256 * 1024 - 10)])],
    ['inputs', 'a.bin', randomBytes(256 * 1024)],
    ['inputs', 'b.bin', randomBytes(256 * 1024)],
    ['inputs', 'c.bin', randomBytes(256 * 1024)],
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
