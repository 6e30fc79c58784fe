import { useCallback, useEffect, useReducer, useState } from 'react'
import { useDataProvider, useLocaleState, useLogoutIfAccessDenied } from 'react-admin'
import type { AppDataProvider } from '../../api/index.ts'
import type { StreamState } from '../../api/session-stream.ts'
import type { SessionView } from '../../api/resources/sessions.ts'
import { initialState, liveReducer, type LiveChange, type LiveState } from './live.ts'

type Action = { type: 'load'; view: SessionView } | { type: 'change'; change: LiveChange }

function reducer(state: LiveState | undefined, action: Action): LiveState | undefined {
  if (action.type === 'load') return initialState(action.view)
  return state ? liveReducer(state, action.change) : state
}

/** Applies a change the page itself caused (the answer to a call), the same way as a streamed one. */
export type ApplyChange = (change: LiveChange) => void

/**
 * A session page's data: read once, then followed live through the session's stream from the
 * cursor the read returned. The stream stops when the page goes away.
 */
export function useSessionLive(id: string | undefined) {
  const dataProvider = useDataProvider<AppDataProvider>()
  const [live, dispatch] = useReducer(reducer, undefined)
  const [error, setError] = useState<unknown>()
  const [stream, setStream] = useState<StreamState>('connecting')
  const logoutIfAccessDenied = useLogoutIfAccessDenied()

  useEffect(() => {
    if (!id) return
    let stop: (() => void) | undefined
    let cancelled = false
    setError(undefined)
    const start = async () => {
      const view = await dataProvider.loadSessionView(id)
      // On a 401 react-admin's proxy logs out and resolves with `{ data: {} }`: nothing to show.
      if (cancelled || !view?.session) return
      dispatch({ type: 'load', view })
      const stopStream = await dataProvider.followSession(id, view.session.cursor, {
        onEvent: (change) => dispatch({ type: 'change', change }),
        onState: (state, reason) => {
          setStream(state)
          // The sign-in ended while the page was open (revoked, expired, account disabled): sign out now.
          if (state === 'failed' && reason) void logoutIfAccessDenied(reason)
        },
      })
      if (cancelled) stopStream()
      else stop = stopStream
    }
    start().catch((err: unknown) => {
      if (!cancelled) setError(err)
    })
    return () => {
      cancelled = true
      stop?.()
    }
  }, [dataProvider, id, logoutIfAccessDenied])

  const apply = useCallback<ApplyChange>((change) => dispatch({ type: 'change', change }), [])
  return { live: live?.session.id === id ? live : undefined, error, stream, apply }
}

/** Dates and times in the console's language. */
export function useFormatTime() {
  const [locale] = useLocaleState()
  return useCallback(
    (iso: string | null | undefined) =>
      iso ? new Date(iso).toLocaleString(locale, { dateStyle: 'medium', timeStyle: 'medium' }) : '—',
    [locale],
  )
}
