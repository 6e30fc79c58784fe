/** The workspace's and the chat log's pure parts (issue 14): tab order, links, news, output tails. */
import t from 'tap'
import { outputTail } from '../src/resources/script-batches/tail.ts'
import { initialState } from '../src/resources/sessions/live.ts'
import { neighbour, newsBetween, parseOpen, summarize, workspacePath } from '../src/workspace/summary.ts'
import { session, SID } from './helpers/fixtures.ts'
import type { Schemas } from '@helpline/sdk'

const chunk = (sequence: number, data: string, stream: 'stdout' | 'stderr' = 'stdout') => ({ sequence, stream, data, createdAt: '2026-05-01T10:00:00.000Z' }) satisfies Schemas['OutputChunk']

function message(seq: number, sender: 'csr' | 'customer' | 'system', body: string): Schemas['ChatMessage'] {
  return { id: `m${seq}`, sessionId: SID, seq, sender, authorName: sender, body, systemEvent: null, createdAt: '2026-05-01T10:00:00.000Z' } as Schemas['ChatMessage']
}

function consent(status: Schemas['ConsentStatus']): Schemas['Consent'] {
  return { id: 'c1', kind: 'view_system_info', status, createdAt: '2026-05-01T10:00:00.000Z' } as Schemas['Consent']
}

const view = (over: Partial<Parameters<typeof initialState>[0]> = {}) =>
  initialState({ session, chat: [], consents: [], commands: [], snapshots: [], scriptRuns: [], ...over } as Parameters<typeof initialState>[0])

t.test('the output tail keeps the last lines, cut at a line start', async (t) => {
  const chunks = [chunk(0, 'one\ntwo\nthr'), chunk(1, 'ee\nfour\n', 'stderr')]
  const tail = outputTail(chunks, 2)
  t.equal(tail.hidden, 2)
  t.same(tail.chunks.map((c) => c.data), ['thr', 'ee\nfour\n'], 'from "three" on')
  t.same(outputTail(chunks, 10), { chunks, hidden: 0 }, 'short output as it is')
})

t.test('tabs: neighbours wrap around, links carry ids only', async (t) => {
  t.equal(neighbour(['a', 'b', 'c'], 'c', 1), 'a')
  t.equal(neighbour(['a', 'b', 'c'], 'a', -1), 'c')
  t.equal(neighbour(['a', 'b'], undefined, 1), 'a')
  t.equal(neighbour([], 'a', 1), undefined)
  t.same(parseOpen(`?open=${SID},nonsense`), [SID])
  t.equal(workspacePath([SID]), `/workspace?open=${SID}`)
})

t.test('badges and news from two states of a session', async (t) => {
  const before = view({ chat: [message(1, 'customer', 'hi')], consents: [consent('pending')] })
  const after = view({ chat: [message(1, 'customer', 'hi'), message(2, 'csr', 'hello'), message(3, 'customer', 'help')], consents: [consent('approved')] })
  const summary = summarize(before, 0)
  t.equal(summary.unread, 1, 'a customer message after the seen one')
  t.equal(summary.pendingConsents, 1)
  t.equal(summarize(after, 1).unread, 1, 'only the customer’s, after what was seen')
  t.same(newsBetween(before, after), [
    { kind: 'message', body: 'help' },
    { kind: 'consent', consentKind: 'view_system_info', status: 'approved' },
  ])
  const ended = view({ session: { ...session, status: 'ended' } })
  t.same(newsBetween(before, ended).map((n) => n.kind), ['ended'], 'the end is news (once: not also "the agent left")')
})

t.test('the console catalogue: the same keys and placeholders in English and Japanese', async (t) => {
  const { consoleEn } = await import('../src/i18n/console.en.ts')
  const { consoleJa } = await import('../src/i18n/console.ja.ts')
  const leaves = (tree: object, prefix = ''): [string, string][] =>
    Object.entries(tree).flatMap(([k, v]) => (typeof v === 'object' && v !== null ? leaves(v as object, `${prefix}${k}.`) : [[`${prefix}${k}`, String(v)] as [string, string]]))
  const ja = new Map(leaves(consoleJa))
  const holes = (s: string) => [...new Set([...s.matchAll(/%\{(\w+)\}/g)].map((m) => m[1]))].sort()
  for (const [key, text] of leaves(consoleEn)) {
    t.ok(ja.get(key)?.trim(), `${key} in Japanese`)
    t.same(holes(ja.get(key) ?? ''), holes(text), `${key}: same placeholders`)
  }
  t.equal(ja.size, leaves(consoleEn).length, 'no key only in Japanese')
})
