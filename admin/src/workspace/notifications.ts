import { useCallback, useEffect, useState } from 'react'

// Not "helpline.…": that prefix is for message keys (test/i18n.test.ts looks for them).
const STORAGE_KEY = 'hl-workspace-notify'

export type NotifyState = 'off' | 'on' | 'denied' | 'unsupported'

function supported(): boolean {
  return typeof window !== 'undefined' && 'Notification' in window
}

function initial(): NotifyState {
  if (!supported()) return 'unsupported'
  if (Notification.permission === 'denied') return 'denied'
  return localStorage.getItem(STORAGE_KEY) === 'on' && Notification.permission === 'granted' ? 'on' : 'off'
}

/**
 * Browser notifications for the workspace, opt-in: asked for only when the CSR turns them on
 * (never on page load), remembered in this browser, and shown only while the page is hidden.
 */
export function useWorkspaceNotifications() {
  const [state, setState] = useState<NotifyState>(initial)

  useEffect(() => {
    if (state === 'on') localStorage.setItem(STORAGE_KEY, 'on')
    else if (state === 'off') localStorage.removeItem(STORAGE_KEY)
  }, [state])

  const toggle = useCallback(async () => {
    if (!supported()) return setState('unsupported')
    if (state === 'on') return setState('off')
    const permission = Notification.permission === 'granted' ? 'granted' : await Notification.requestPermission()
    setState(permission === 'granted' ? 'on' : permission === 'denied' ? 'denied' : 'off')
  }, [state])

  /** Shows `body` under `title` when notifications are on and nobody is looking at the page. */
  const show = useCallback(
    (title: string, body: string, tag: string, onClick: () => void) => {
      if (state !== 'on' || document.visibilityState === 'visible') return
      const notification = new Notification(title, { body, tag })
      notification.onclick = () => {
        window.focus()
        onClick()
        notification.close()
      }
    },
    [state],
  )
  return { state, toggle, show }
}
