/**
 * The console's own words for the workspace and the layout (issue 14), merged into the catalogue
 * beside en.ts. Every key here must exist in console.ja.ts too (test/i18n.test.ts).
 */
export const consoleEn = {
  workspace: {
    menu: 'Workspace',
    title: 'Workspace',
    sessions: 'Your sessions',
    empty_title: 'No active sessions',
    empty_hint: 'Sessions you open appear here as tabs as soon as they start; you can work several customers at once.',
    unread: '%{smart_count} unread message |||| %{smart_count} unread messages',
    consent_pending: 'Waiting for consent',
    running: 'Scripts running',
    select: 'Select %{name} for Run scripts',
    run_selected: 'Run scripts on %{smart_count} session |||| Run scripts on %{smart_count} sessions',
    run_current: 'Run scripts',
    open_page: 'Open as a page',
    shortcuts: 'Alt+↑/↓ or Alt+1…9: move between sessions',
    dropped_ended: 'The session with %{name} has ended: its tab was closed.',
    dropped_unknown: 'A session in the link is not one of your active sessions (ended, or not yours): it was not opened.',
    notify: 'Notify me while this tab is hidden',
    notify_denied: 'The browser blocks notifications for this site: allow them in its site settings.',
    notify_unsupported: 'This browser cannot show notifications.',
    news: {
      message: '%{name} wrote: %{body}',
      consent_approved: '%{name} allowed: %{kind}',
      consent_denied: '%{name} denied: %{kind}',
      consent_expired: '%{name} did not answer: %{kind}',
      agent_left: '%{name} disconnected',
      ended: 'The session with %{name} has ended',
    },
  },
  ui: {
    all_categories: 'All categories',
    sort_by: 'Order',
    sorts: { name: 'Name (A–Z)', updatedAt: 'Recently changed', categoryName: 'Category' },
    open_output: 'Open output',
    earlier_lines: '%{smart_count} earlier line not shown |||| %{smart_count} earlier lines not shown',
    reload_data: 'Reload the data on this page',
    dismiss: 'Dismiss',
  },
}
