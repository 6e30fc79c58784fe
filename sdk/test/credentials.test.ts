import { constants, generateKeyPairSync, privateDecrypt } from 'node:crypto'
import t from 'tap'
import { encryptCredentials } from '@helpline/sdk'

/** The helper the console and integrators use: only the agent's private key opens what it makes. */
const keys = generateKeyPairSync('rsa', { modulusLength: 3072, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } })
const open = (ciphertext: string, key = keys.privateKey) =>
  JSON.parse(privateDecrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, Buffer.from(ciphertext, 'base64')).toString('utf8'))

t.test('RSA-OAEP-256 for the agent’s key; the domain only when given', async (t) => {
  const a = await encryptCredentials(keys.publicKey, { username: '管理者', password: 'pässwörd 1' })
  t.match(a, /^[A-Za-z0-9+/]+={0,2}$/, 'base64, as the API takes it')
  t.same(open(a), { username: '管理者', password: 'pässwörd 1' }, 'UTF-8 survives')
  const b = await encryptCredentials(keys.publicKey, { username: 'admin', password: 'x', domain: 'CORP' })
  t.same(open(b), { username: 'admin', password: 'x', domain: 'CORP' })
  t.not(a, await encryptCredentials(keys.publicKey, { username: '管理者', password: 'pässwörd 1' }), 'randomised: the same input never gives the same ciphertext')
  const other = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } })
  t.throws(() => open(a, other.privateKey), 'another key cannot open it')
  await t.rejects(encryptCredentials('not a key', { username: 'a', password: 'b' }), 'a malformed key is an error, not a silent plain text')
})
