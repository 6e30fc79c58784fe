import type { Schemas } from '@helpline/sdk'

/** One active session with an online agent, as the API returns it: the console tests' fixture. */
export const SID = '5e551040-0000-4000-8000-000000000001'
export const USER = { id: '7d1c7c1e-0000-4000-8000-000000000001', name: 'Casey' }
export const agent: Schemas['AgentInfo'] = {
  id: 'a9e00000-0000-4000-8000-000000000001',
  status: 'online',
  agentVersion: '0.1.0',
  platform: { os: 'linux', osVersion: 'Debian GNU/Linux 12', arch: 'x64', hostname: 'customer-pc' },
  joinedAt: '2026-05-01T10:00:00.000Z',
  lastSeenAt: '2026-05-01T10:00:00.000Z',
  leftAt: null,
  workingAs: null,
  rebooting: false,
}

export const session: Schemas['Session'] = {
  id: SID,
  number: '123-456-789',
  status: 'active',
  customerName: 'Jane Doe',
  customerEmail: null,
  description: null,
  csr: USER,
  createdAt: '2026-05-01T09:59:00.000Z',
  startedAt: '2026-05-01T10:00:00.000Z',
  endedAt: null,
  endedReason: null,
  expiresAt: null,
  agent,
  joinAttempt: null,
  admission: null,
  systemInfoConsent: null,
  cursor: 7,
}
