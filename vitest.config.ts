import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

const src = (pkg: string) => fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url))

// Tests run against the sources, so `npm test` needs no build; `.ci/run` builds and type-checks first.
const alias = {
  "@mcp-credentials/core": src("core"),
  "@mcp-credentials/server": src("server"),
  "@mcp-credentials/auth": src("auth"),
  "@mcp-credentials/vault": src("vault")
}

export default defineConfig({
  resolve: { alias },
  test: {
    reporters: ["default", ["json", { outputFile: ".vitest-report.json" }]],
    projects: ["core", "server", "auth", "cli", "vault"].map((name) => ({
      resolve: { alias },
      test: {
        name,
        root: `./packages/${name}`,
        include: ["test/**/*.test.ts"],
        testTimeout: 60_000,
        hookTimeout: 60_000
      }
    }))
  }
})
