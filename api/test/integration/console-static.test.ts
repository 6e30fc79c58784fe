/**
 * The built console as the API serves it (issue 14): compressed files the build wrote are sent to
 * browsers that accept them, hashed assets are cached for good, index.html is revalidated, and a
 * source map left in the folder is not served.
 */
import t from 'tap'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { brotliCompressSync, gzipSync } from 'node:zlib'
import { cacheControlFor } from '../../src/plugins/external/console.ts'
import { setupApp } from '../helpers/app.ts'

const JS = `console.log(${JSON.stringify('x'.repeat(4000))})\n`

function consoleFolder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'helpline-console-'))
  mkdirSync(join(dir, 'assets'))
  writeFileSync(join(dir, 'index.html'), '<!doctype html><script type="module" src="/assets/index-AbCd1234.js"></script>')
  writeFileSync(join(dir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>')
  const asset = join(dir, 'assets', 'index-AbCd1234.js')
  writeFileSync(asset, JS)
  writeFileSync(`${asset}.br`, brotliCompressSync(JS))
  writeFileSync(`${asset}.gz`, gzipSync(JS))
  writeFileSync(`${asset}.map`, '{"version":3}')
  return dir
}

t.test('cache rules by file name', async (t) => {
  t.equal(cacheControlFor('/x/dist/assets/index-BukWmDL_.js'), 'public, max-age=31536000, immutable')
  t.equal(cacheControlFor('/x/dist/assets/Select-C29Fa3LZ.js.br'), 'public, max-age=31536000, immutable')
  t.equal(cacheControlFor('/x/dist/index.html'), 'no-cache')
  t.equal(cacheControlFor('/x/dist/favicon.svg'), 'no-cache')
})

t.test('the console: precompressed, cached by name, no source maps', async (t) => {
  const dir = consoleFolder()
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const { app } = await setupApp(t, { CONSOLE_DIR: dir })

  const br = await app.inject({ url: '/assets/index-AbCd1234.js', headers: { 'accept-encoding': 'br, gzip' } })
  t.equal(br.statusCode, 200)
  t.equal(br.headers['content-encoding'], 'br', 'brotli for a browser that takes it')
  t.equal(br.headers['cache-control'], 'public, max-age=31536000, immutable', 'a hashed file is cached for good')
  t.ok(br.rawPayload.length < JS.length, 'the compressed bytes are sent')

  const gz = await app.inject({ url: '/assets/index-AbCd1234.js', headers: { 'accept-encoding': 'gzip' } })
  t.equal(gz.headers['content-encoding'], 'gzip', 'gzip otherwise')

  const plain = await app.inject({ url: '/assets/index-AbCd1234.js', headers: { 'accept-encoding': 'identity' } })
  t.equal(plain.body, JS, 'as it is for a client that takes no compression')

  const index = await app.inject({ url: '/', headers: { 'accept-encoding': 'gzip, deflate, br' } })
  t.equal(index.statusCode, 200)
  t.equal(index.headers['cache-control'], 'no-cache', 'index.html is revalidated: a new build shows at once')

  const favicon = await app.inject({ url: '/favicon.svg' })
  t.equal(favicon.statusCode, 200, 'a favicon')

  const map = await app.inject({ url: '/assets/index-AbCd1234.js.map' })
  t.equal(map.statusCode, 404, 'a source map is not served')
})
