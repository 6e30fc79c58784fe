import { generateKeyPairSync } from 'node:crypto'
import type { HelplineClient, operations, Schemas } from '@helpline/sdk'
import type { TestApp } from './app.ts'

/** An in-test agent: the SDK with an agent token, as the real agent uses it. */
export interface TestAgent {
  joined: Schemas['AgentJoined']
  client: HelplineClient
  token: string
}

export const testPublicKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString()

export const testPlatform = { os: 'linux', osVersion: 'Debian GNU/Linux 12', arch: 'x64', hostname: 'customer-pc', kernel: '6.1.0' }

export async function joinAgent(h: TestApp, number: string): Promise<TestAgent> {
  const { data } = await h.client().POST('/api/v1/agent/join', {
    body: { number, protocol: 1, agentVersion: '0.1.0', platform: testPlatform, publicKey: testPublicKey },
  })
  return { joined: data!, client: h.client(data!.agentToken), token: data!.agentToken }
}

const ids = ['system', 'hardware', 'storage', 'network', 'software', 'processes', 'services', 'users', 'environment'] as const

/** A complete, valid upload: every category, one unavailable with its reason. */
export type SystemInfoUpload = operations['submitSystemInfo']['requestBody']['content']['application/json']

export function sampleUpload(): SystemInfoUpload {
  return {
    collectedAt: new Date().toISOString(),
    categories: ids.map((id) =>
      id === 'services'
        ? { id, title: 'Services', available: false, reason: 'systemd is not running', fields: [], tables: [] }
        : {
            id,
            title: id[0]!.toUpperCase() + id.slice(1),
            available: true,
            fields: id === 'system' ? [{ label: 'OS', value: 'Debian GNU/Linux' }, { label: 'Version', value: '12' }, { label: 'Hostname', value: 'customer-pc' }] : [{ label: 'Thing', value: `${id} value` }],
            tables: [{ title: `${id} table`, columns: ['Name', 'Value'], rows: [['a', '1'], ['b', '2']] }],
          },
    ),
  }
}
