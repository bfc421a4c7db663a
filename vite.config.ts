import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The renderer is built once, with relative URLs, and served two ways: Electron's app:// protocol and
// `pipefitter web`. No inline scripts, so the CSP can say script-src 'self'.
export default defineConfig({
  root: 'renderer',
  base: './',
  plugins: [react()],
  publicDir: 'public',
  logLevel: 'warn',
  build: {
    outDir: '../dist/renderer',
    emptyOutDir: true,
    sourcemap: true,
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 2000,
  },
});
