import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// Served behind the gateway at `/` and `/app/*`; assets under `/assets/`.
// `npm run dev` proxies the APIs and the dev token endpoint to a running `make run` gateway.
const gateway = process.env.GATEWAY_URL ?? "http://127.0.0.1:8080";

export default defineConfig({
  plugins: [react()],
  base: "/",
  build: { outDir: "dist", sourcemap: false },
  server: { proxy: { "/api": gateway, "/dev": gateway } },
});
