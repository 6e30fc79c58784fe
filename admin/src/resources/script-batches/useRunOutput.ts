import { useEffect, useState } from 'react'
import { useDataProvider } from 'react-admin'
import type { AppDataProvider } from '../../api/index.ts'
import type { OutputChunk, ScriptRunOutput } from '../../api/resources/script-batches.ts'
import { isFinal, mergeChunks } from './status.ts'

const POLL_MS = 1000

export interface RunOutputState {
  chunks: OutputChunk[]
  output: Omit<ScriptRunOutput, 'chunks' | 'next'> | undefined
  error: unknown
}

/**
 * A run's output, read from the start and then every second for what is new, until the run has
 * finished (the last read after the finish has everything). Stops when the component goes away.
 */
export function useRunOutput(runId: string | undefined): RunOutputState {
  const dataProvider = useDataProvider<AppDataProvider>()
  const [state, setState] = useState<RunOutputState>({ chunks: [], output: undefined, error: undefined })

  useEffect(() => {
    setState({ chunks: [], output: undefined, error: undefined })
    if (!runId) return
    let stopped = false
    let timer: ReturnType<typeof setTimeout> | undefined
    let after = -1
    const read = async () => {
      try {
        const page = await dataProvider.scriptRunOutput(runId, after)
        // On a 401 react-admin's proxy resolves with `{ data: {} }`: nothing to show, stop.
        if (stopped || !page?.chunks) return
        const { chunks, next: _next, ...output } = page
        after = chunks.at(-1)?.sequence ?? after
        setState((s) => ({ chunks: mergeChunks(s.chunks, chunks), output, error: undefined }))
        if (!isFinal(output.status)) timer = setTimeout(read, POLL_MS)
      } catch (error) {
        if (stopped) return
        setState((s) => ({ ...s, error }))
        // A refusal (not found, not yours) stays a refusal; a server or network problem may pass.
        const status = (error as { status?: unknown }).status
        if (typeof status === 'number' && status >= 400 && status < 500) return
        timer = setTimeout(read, POLL_MS * 3)
      }
    }
    void read()
    return () => {
      stopped = true
      clearTimeout(timer)
    }
  }, [dataProvider, runId])

  return state
}
