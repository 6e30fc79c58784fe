/** What a CSR types to log on to the customer's computer as another user. */
export interface LogonCredentialsInput {
  username: string
  password: string
  /** Windows domain; ignored on Linux. */
  domain?: string
}

function pemToDer(pem: string): ArrayBuffer {
  const body = pem.replace(/-----(BEGIN|END) PUBLIC KEY-----/g, '').replace(/\s+/g, '')
  const bytes = Uint8Array.from(atob(body), (c) => c.charCodeAt(0))
  return bytes.buffer
}

function toBase64(bytes: ArrayBuffer): string {
  let text = ''
  for (const b of new Uint8Array(bytes)) text += String.fromCharCode(b)
  return btoa(text)
}

/**
 * Encrypts logon credentials for one agent with its public key (RSA-OAEP with SHA-256, WebCrypto),
 * in the browser or in Node: the plain text never leaves the caller. Post the result to
 * POST /api/v1/sessions/{id}/logon/credentials; only that agent's private key opens it.
 */
export async function encryptCredentials(publicKeyPem: string, credentials: LogonCredentialsInput): Promise<string> {
  const subtle = globalThis.crypto?.subtle
  if (!subtle) throw new Error('WebCrypto is not available here (a browser needs https or localhost)')
  const key = await subtle.importKey('spki', pemToDer(publicKeyPem), { name: 'RSA-OAEP', hash: 'SHA-256' }, false, ['encrypt'])
  const body = { username: credentials.username, password: credentials.password, ...(credentials.domain ? { domain: credentials.domain } : {}) }
  const plain = new TextEncoder().encode(JSON.stringify(body))
  return toBase64(await subtle.encrypt({ name: 'RSA-OAEP' }, key, plain))
}
