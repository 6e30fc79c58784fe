import { defineConfig, type Plugin } from 'vite'
import react from '@vitejs/plugin-react'
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { brotliCompressSync, constants, gzipSync } from 'node:zlib'

// The API serves the built console at `/`, so in development we proxy the API
// paths to a locally running server instead of enabling CORS on it.
const api = process.env.HELPLINE_API ?? 'http://127.0.0.1:3000'

/** Text assets worth compressing; small files gain nothing. index.html is small and never cached: left as it is. */
const COMPRESSIBLE = /\.(js|mjs|css|svg|json|txt)$/
const MIN_BYTES = 1024

/**
 * Writes `.br` and `.gz` beside every text asset of the build, once, at build time: the server
 * (@fastify/static's `preCompressed`) sends them as they are instead of compressing per request.
 */
function precompress(): Plugin {
  let root = ''
  return {
    name: 'helpline-precompress',
    apply: 'build',
    configResolved(config) {
      root = resolve(config.root, config.build.outDir)
    },
    closeBundle() {
      for (const entry of readdirSync(root, { recursive: true, encoding: 'utf8' })) {
        const file = join(root, entry)
        if (!COMPRESSIBLE.test(file) || !statSync(file).isFile()) continue
        const content = readFileSync(file)
        if (content.length < MIN_BYTES) continue
        writeFileSync(`${file}.br`, brotliCompressSync(content, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }))
        writeFileSync(`${file}.gz`, gzipSync(content, { level: 9 }))
      }
    },
  }
}

export default defineConfig({
  base: '/',
  plugins: [react(), precompress()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Source maps are not published: CONSOLE_SOURCEMAP=1 builds them for debugging a build locally.
    sourcemap: process.env.CONSOLE_SOURCEMAP === '1',
    // Pages are split per route (React.lazy in App.tsx); react-admin and MUI stay one shared chunk.
    chunkSizeWarningLimit: 1000,
    // Browsers a CSR uses all run modules natively: no preload polyfill, no down-levelling.
    target: 'es2022',
    modulePreload: { polyfill: false },
  },
  server: {
    proxy: {
      '/api': { target: api, changeOrigin: false },
      '/health': { target: api, changeOrigin: false },
    },
  },
})
