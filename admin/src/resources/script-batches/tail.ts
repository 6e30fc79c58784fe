import type { OutputChunk } from '../../api/resources/script-batches.ts'

/**
 * The last `lines` lines of an output, as chunks (the first one cut at a line start), and how
 * many lines come before them: what the chat shows of a run, the rest behind "Open output".
 */
export function outputTail(chunks: readonly OutputChunk[], lines: number): { chunks: OutputChunk[]; hidden: number } {
  const text = chunks.map((c) => c.data).join('')
  const all = text.endsWith('\n') ? text.slice(0, -1).split('\n') : text.split('\n')
  if (all.length <= lines) return { chunks: [...chunks], hidden: 0 }
  const hidden = all.length - lines
  // Where the kept text starts, in characters of the joined output.
  let cut = 0
  for (let i = 0; i < hidden; i++) cut = text.indexOf('\n', cut) + 1
  const out: OutputChunk[] = []
  let at = 0
  for (const chunk of chunks) {
    const end = at + chunk.data.length
    if (end > cut) out.push(at >= cut ? chunk : { ...chunk, data: chunk.data.slice(cut - at) })
    at = end
  }
  return { chunks: out, hidden }
}
