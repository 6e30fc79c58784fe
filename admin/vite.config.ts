import { defineConfig } from 'vite'
import react from '@vitejs/plugin-react'

// The API serves the built console at `/`, so in development we proxy the API
// paths to a locally running server instead of enabling CORS on it.
const api = process.env.HELPLINE_API ?? 'http://127.0.0.1:3000'

export default defineConfig({
  base: '/',
  plugins: [react()],
  // One bundle is fine for a console loaded once per working day; react-admin and MUI are most of it.
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true, chunkSizeWarningLimit: 1500 },
  server: {
    proxy: {
      '/api': { target: api, changeOrigin: false },
      '/health': { target: api, changeOrigin: false },
    },
  },
})
