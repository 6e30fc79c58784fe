/**
 * verifyWebhook against signatures made independently (node:crypto, as Standard Webhooks
 * defines them): valid, tampered, wrong secret, old or future timestamp, missing headers; then
 * the README's receiver example as written, against a real server that ends a session.
 */
import { createHmac, randomBytes } from 'node:crypto'
import { rm, writeFile } from 'node:fs/promises'
import type { Server } from 'node:http'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { verifyWebhook, WebhookVerificationError } from '@helpline/sdk'
import { joinAgent } from '../../api/test/helpers/agent.ts'
import { startTestServer } from '../../api/test/helpers/server.ts'
import { example } from './helpers/readme.ts'

const secret = `whsec_${randomBytes(32).toString('base64')}`
const body = JSON.stringify({ type: 'session.ended', timestamp: new Date().toISOString(), data: { sessionId: 'x' } })

function signed(options: { id?: string; timestamp?: number; payload?: string; key?: string } = {}) {
  const id = options.id ?? 'msg_0123456789abcdef'
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000)
  const key = Buffer.from((options.key ?? secret).slice('whsec_'.length), 'base64')
  const signature = createHmac('sha256', key).update(`${id}.${timestamp}.${options.payload ?? body}`).digest('base64')
  return { 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': `v1,${signature}` }
}

async function refusedWith(t: { ok(v: unknown, m: string): void; match(v: unknown, p: RegExp, m: string): void }, call: Promise<unknown>, message: RegExp, what: string) {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  )
  t.ok(err instanceof WebhookVerificationError, `${what}: refused`)
  t.match((err as Error).message, message, what)
}

t.test('the verifier accepts what Standard Webhooks signs and refuses the rest', async (t) => {
  const message = await verifyWebhook(secret, body, signed())
  t.same(message.data, { sessionId: 'x' }, 'a valid delivery returns the parsed event')
  t.equal((await verifyWebhook(secret, new TextEncoder().encode(body), new Headers(signed()))).type, 'session.ended', 'bytes and a Headers object work too')
  const upper = Object.fromEntries(Object.entries(signed()).map(([k, v]) => [k.toUpperCase(), v]))
  t.equal((await verifyWebhook(secret, body, upper)).type, 'session.ended', 'header names in any case')
  const rotated = { ...signed(), 'webhook-signature': `v1,${Buffer.alloc(32).toString('base64')} ${signed()['webhook-signature']}` }
  t.ok(await verifyWebhook(secret, body, rotated), 'one good signature among several is enough')

  await refusedWith(t, verifyWebhook(secret, body.replace('"x"', '"y"'), signed()), /No valid signature/, 'a tampered body')
  await refusedWith(t, verifyWebhook(secret, body, { ...signed(), 'webhook-id': 'msg_other' }), /No valid signature/, 'a changed id')
  await refusedWith(t, verifyWebhook(`whsec_${randomBytes(32).toString('base64')}`, body, signed()), /No valid signature/, 'another endpoint’s secret')
  await refusedWith(t, verifyWebhook(secret, body, signed({ timestamp: Math.floor(Date.now() / 1000) - 600 })), /more than 300 s from now/, 'a 10-minute-old delivery (a replay)')
  await refusedWith(t, verifyWebhook(secret, body, signed({ timestamp: Math.floor(Date.now() / 1000) + 600 })), /more than 300 s from now/, 'a timestamp from the future')
  const old = signed({ timestamp: Math.floor(Date.now() / 1000) - 600 })
  t.ok(await verifyWebhook(secret, body, old, { toleranceSeconds: 900 }), 'the tolerance is configurable')
  await refusedWith(t, verifyWebhook(secret, body, { 'webhook-id': 'msg_1' }), /Missing/, 'missing headers')
  await refusedWith(t, verifyWebhook(secret, body, { ...signed(), 'webhook-signature': 'v2,abc' }), /No valid signature/, 'an unknown signature version')
  await refusedWith(t, verifyWebhook(secret, body, { ...signed(), 'webhook-timestamp': 'soon' }), /not a number/, 'a timestamp that is not a number')
})

t.test('the README receiver example gets a signed session.ended with the report link, and refuses a forgery', async (t) => {
  const server = await startTestServer(t, { PUBLIC_URL: 'https://help.example.com', WEBHOOK_WORKER_INTERVAL_MS: 50 })
  const { h } = server
  const file = fileURLToPath(new URL(`./.readme-example-webhook-receiver-${process.pid}.ts`, import.meta.url))
  await writeFile(file, await example('webhook-receiver'))
  const lines: string[] = []
  const log = console.log
  console.log = (...args: unknown[]) => void lines.push(args.map(String).join(' '))
  const env = { url: process.env.HELPLINE_URL, token: process.env.HELPLINE_TOKEN, port: process.env.PORT }
  process.env.HELPLINE_URL = server.url
  process.env.HELPLINE_TOKEN = h.admin.token
  process.env.PORT = '0'
  let receiver: Server | undefined
  t.teardown(async () => {
    console.log = log
    for (const [k, v] of [['HELPLINE_URL', env.url], ['HELPLINE_TOKEN', env.token], ['PORT', env.port]] as const) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
    receiver?.closeAllConnections()
    receiver?.close()
    await rm(file, { force: true })
  })
  receiver = ((await import(file)) as { server: Server }).server
  t.same(lines, ['receiving session.ended'])

  const { data: session } = await h.admin.client.POST('/api/v1/sessions', { body: { customerName: 'Alice' } })
  await joinAgent(h, session!.number)
  await h.admin.client.POST('/api/v1/sessions/{id}/end', { params: { path: { id: session!.id } } })
  const deadline = Date.now() + 20_000
  while (lines.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
  t.same(lines.slice(1), [`session ${session!.number} ended (ended); report: https://help.example.com/api/v1/sessions/${session!.id}/report`])

  const address = receiver.address() as { port: number }
  const forged = await fetch(`http://127.0.0.1:${address.port}/helpline`, {
    method: 'POST',
    body,
    headers: signed({ key: `whsec_${randomBytes(32).toString('base64')}` }),
  })
  t.equal(forged.status, 400, 'a delivery signed with another secret is refused')
})
