/// <reference types="vitest/config" />
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

export default defineConfig({
  plugins: [react()],
  // Tauri serves ui/dist from its own scheme; relative URLs work there and from a plain file server.
  base: './',
  clearScreen: false,
  server: { port: 5173, strictPort: true },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2021',
    // Split per window (App.tsx lazy-loads each screen), because parsing code nobody shows costs a cold start even
    // from local disk. The largest chunk, ECharts with the date picker, loads after the dashboard's balance is painted.
    chunkSizeWarningLimit: 600,
  },
  test: {
    environment: 'jsdom',
    setupFiles: ['./src/test/setup.ts'],
    restoreMocks: true,
    // antd renders slowly under jsdom; a form test can take a few seconds on a busy machine.
    testTimeout: 20_000,
  },
});
