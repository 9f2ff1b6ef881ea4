import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

const packages = fileURLToPath(new URL("./packages/", import.meta.url))

// Tests run against the sources, so `npm test` needs no build; `.ci/run` builds and type-checks first.
// A package's index and its modules by path (`@mcp-credentials/server/ToolContext`), as the
// packages' `exports` map them.
const alias = [
  { find: /^@mcp-credentials\/(core|server|auth|vault)$/, replacement: `${packages}$1/src/index.ts` },
  { find: /^@mcp-credentials\/(core|server|auth|vault)\/([A-Za-z0-9]+)$/, replacement: `${packages}$1/src/$2.ts` }
]

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
