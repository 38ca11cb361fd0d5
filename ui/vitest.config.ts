import { defineConfig } from "vitest/config";

// The screens run in jsdom, driven through a fake Ipc (test/fake.ts).
export default defineConfig({
  test: {
    environment: "jsdom",
    include: ["test/**/*.test.ts"],
    env: { TZ: "UTC" },
  },
});
