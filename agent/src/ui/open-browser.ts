import { spawn } from 'node:child_process'

/** How the customer's default browser is asked to open a page, per operating system. */
export function browserCommand(url: string, platform: NodeJS.Platform = process.platform): { command: string; args: string[] } {
  // `start` is a cmd built-in; its first quoted argument is a window title, hence the empty "".
  if (platform === 'win32') return { command: 'cmd.exe', args: ['/d', '/s', '/c', 'start', '""', url] }
  if (platform === 'darwin') return { command: 'open', args: [url] }
  return { command: 'xdg-open', args: [url] }
}

/**
 * Opens the customer window in the default browser, detached (the browser outlives nothing of
 * ours). HELPLINE_BROWSER=none opens nothing (tests, or a customer who will paste the address);
 * HELPLINE_BROWSER=<program> opens it with that program. Resolves false when it could not be started.
 */
export function openBrowser(url: string, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const chosen = env.HELPLINE_BROWSER
  if (chosen === 'none') return Promise.resolve(false)
  const { command, args } = chosen ? { command: chosen, args: [url] } : browserCommand(url)
  return new Promise((resolve) => {
    try {
      const child = spawn(command, args, { detached: true, stdio: 'ignore', windowsHide: true })
      child.once('error', () => resolve(false))
      child.once('spawn', () => {
        child.unref()
        resolve(true)
      })
    } catch {
      resolve(false)
    }
  })
}

/** Whether this computer shows a desktop the customer sits at (Linux: an X11 or Wayland display). */
export function hasDesktop(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): boolean {
  if (platform === 'win32' || platform === 'darwin') return true
  return Boolean(env.DISPLAY || env.WAYLAND_DISPLAY)
}
