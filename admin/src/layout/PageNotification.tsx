import { useRef } from 'react'
import { Notification, useNotificationContext } from 'react-admin'
import { useLocation } from 'react-router-dom'

/** How long after an undoable notice (e.g. "Deleted — Undo") a page change leaves it alone. */
const UNDOABLE_MS = 15_000
/** A notice queued this shortly before a page change came with it (a redirect after "Created"). */
const REDIRECT_MS = 1500

/**
 * react-admin's notification, but one that does not follow the user to the next page: a page
 * change starts a new one (a fresh `key`), which drops the notice on screen. Kept: a notice
 * queued just before the page changed (it comes with a redirect, e.g. "Created" and then the
 * list; react-router navigates in a transition, so the two do not arrive in one render), and an
 * undoable notice, whose change is only sent when it closes.
 */
export function PageNotification() {
  const { pathname } = useLocation()
  const { notifications } = useNotificationContext()
  const queuedAt = useRef(0)
  const undoableUntil = useRef(0)
  const shown = useRef({ pathname, key: 0 })
  const now = Date.now()
  if (notifications.length > 0) queuedAt.current = now
  if (notifications.some((n) => n.notificationOptions?.undoable)) undoableUntil.current = now + UNDOABLE_MS
  if (shown.current.pathname !== pathname) {
    const keep = now < undoableUntil.current || now - queuedAt.current < REDIRECT_MS
    shown.current = { pathname, key: keep ? shown.current.key : shown.current.key + 1 }
  }
  return <Notification key={shown.current.key} />
}
