import { defineConfig } from "vite";

// Plain files for the app's web view: no inline scripts (the CSP forbids them), no CDN.
export default defineConfig({
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    assetsInlineLimit: 0,
  },
});
