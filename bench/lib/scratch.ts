import { randomBytes } from 'node:crypto'
import { createServer } from 'node:net'
import postgres from 'postgres'

/** A free loopback port for a server the benchmark starts. */
export async function freePort(): Promise<number> {
  const srv = createServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const port = (srv.address() as { port: number }).port
  await new Promise((r) => srv.close(r))
  return port
}

/** A PostgreSQL database of the benchmark's own on `baseUrl`'s server; `drop()` removes it. */
export async function scratchDatabase(baseUrl: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const dbName = `helpline_bench_${process.pid}_${randomBytes(3).toString('hex')}`
  const admin = postgres(baseUrl, { max: 1, onnotice: () => {} })
  await admin.unsafe(`create database ${dbName}`)
  const url = new URL(baseUrl)
  url.pathname = `/${dbName}`
  return {
    url: url.toString(),
    drop: async () => {
      await admin.unsafe(`drop database if exists ${dbName} with (force)`).catch(() => undefined)
      await admin.end()
    },
  }
}
