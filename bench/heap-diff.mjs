// What a heap grew by, per unit: `node bench/heap-diff.mjs a.heapsnapshot b.heapsnapshot N` prints
// (objects in b − objects in a) / N and their self bytes, by V8's type and constructor name.
// `node bench/heap-diff.mjs b.heapsnapshot --who 'closure<TAB>name'` instead prints what refers
// to the objects of one row (the holder's type and name, and the edge), most frequent first.
import { readFileSync } from 'node:fs'

function load(path) {
  const s = JSON.parse(readFileSync(path, 'utf8'))
  const fields = s.snapshot.meta.node_fields
  const types = s.snapshot.meta.node_types[0]
  const width = fields.length
  const at = { type: fields.indexOf('type'), name: fields.indexOf('name'), size: fields.indexOf('self_size'), edges: fields.indexOf('edge_count') }
  const key = (i) => {
    const type = types[s.nodes[i + at.type]]
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string') return `${type}\t`
    if (type === 'number' || type === 'code') return `${type}\t`
    return `${type}\t${s.strings[s.nodes[i + at.name]].slice(0, 80)}`
  }
  return { s, width, at, key }
}

function tally(snap) {
  const by = new Map()
  let total = 0
  for (let i = 0; i < snap.s.nodes.length; i += snap.width) {
    const k = snap.key(i)
    const e = by.get(k) ?? { n: 0, bytes: 0 }
    const size = snap.s.nodes[i + snap.at.size]
    e.n++
    e.bytes += size
    total += size
    by.set(k, e)
  }
  return { by, total }
}

function who(snap, wanted) {
  const { s, width, at } = snap
  const edgeFields = s.snapshot.meta.edge_fields
  const edgeTypes = s.snapshot.meta.edge_types[0]
  const ew = edgeFields.length
  const count = new Map()
  let edge = 0
  for (let i = 0; i < s.nodes.length; i += width) {
    const n = s.nodes[i + at.edges]
    for (let e = 0; e < n; e++, edge += ew) {
      const to = s.edges[edge + 2]
      if (snap.key(to) !== wanted) continue
      const type = edgeTypes[s.edges[edge]]
      const name = type === 'element' || type === 'hidden' ? `[${type}]` : s.strings[s.edges[edge + 1]]
      const k = `${snap.key(i).replace('\t', ' ')} .${name}`
      count.set(k, (count.get(k) ?? 0) + 1)
    }
  }
  for (const [k, n] of [...count].sort((x, y) => y[1] - x[1]).slice(0, 25)) console.log(String(n).padStart(8), k)
}

const [a, b, third] = process.argv.slice(2)
if (b === '--who') who(load(a), third)
else if (!b) {
  const t = tally(load(a))
  console.log('total bytes', t.total)
  for (const [k, e] of [...t.by].sort((x, y) => y[1].bytes - x[1].bytes).slice(0, 60)) console.log(String(e.n).padStart(8), String(e.bytes).padStart(10), k)
} else {
  const ta = tally(load(a))
  const tb = tally(load(b))
  const n = Number(third)
  const rows = [...tb.by].map(([k, e]) => {
    const o = ta.by.get(k) ?? { n: 0, bytes: 0 }
    return { k, n: (e.n - o.n) / n, bytes: (e.bytes - o.bytes) / n }
  })
  console.log(`per unit (${n}): ${((tb.total - ta.total) / n).toFixed(0)} bytes, ${rows.reduce((x, r) => x + r.n, 0).toFixed(1)} objects`)
  for (const r of rows.sort((x, y) => y.bytes - x.bytes).slice(0, Number(process.env.TOP ?? 80))) console.log(r.n.toFixed(2).padStart(8), r.bytes.toFixed(1).padStart(9), r.k)
}
