/**
 * The SDKs are optional peer dependencies: an application installs the SDK line it uses. Each
 * case imports a built package (`packages/*\/dist`, built by `npx tsc -b`) in a fresh Node process
 * in which some packages cannot be resolved, as if they were not installed
 * (`fixtures/hidePackages.mjs`), and checks that it loads — or, for the package index, that it
 * names what is missing.
 */
import { spawn } from "node:child_process"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { join, relative } from "node:path"
import { fileURLToPath } from "node:url"
import { beforeAll, describe, expect, it } from "vitest"

const root = fileURLToPath(new URL("../../../", import.meta.url))
const hook = fileURLToPath(new URL("./fixtures/hidePackages.mjs", import.meta.url))
const timeout = 30_000

const v1 = "@modelcontextprotocol/sdk"
const v2 = "@modelcontextprotocol/server"
const platformNode = "@effect/platform-node"
/** The server package's modules that import no SDK (and no SDK-bound module). */
const neutral = ["ToolContext", "Scrubber", "ToolError"]

interface Run {
  readonly code: number | null
  readonly output: string
}

/** `await import(specifier)` from the repository root with `hidden` packages unresolvable. */
const importWithout = (specifier: string, hidden: ReadonlyArray<string>): Promise<Run> =>
  new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--import", hook, "--input-type=module", "-e", `await import(${JSON.stringify(specifier)}); console.log("loaded")`],
      { cwd: root, env: { ...process.env, HIDE_PACKAGES: hidden.join(",") }, stdio: ["ignore", "pipe", "pipe"], timeout }
    )
    let output = ""
    child.stdout.on("data", (d: Buffer) => (output += d.toString("utf8")))
    child.stderr.on("data", (d: Buffer) => (output += d.toString("utf8")))
    child.on("error", reject)
    child.on("close", (code) => resolve({ code, output }))
  })

const expectLoads = async (specifier: string, hidden: ReadonlyArray<string>) => {
  const run = await importWithout(specifier, hidden)
  if (run.code !== 0 || !run.output.includes("loaded")) {
    throw new Error(`${specifier} without ${hidden.join(", ")}: exit code ${run.code}\n${run.output}`)
  }
}

describe.concurrent("optional peer dependencies", () => {
  beforeAll(() => {
    if (!existsSync(`${root}packages/server/dist/index.js`)) throw new Error("packages/*/dist is missing: run `npx tsc -b` first")
  })

  it("the v1 modules load without the v2 SDK", { timeout }, async () => {
    await expectLoads("@mcp-credentials/server/McpCredentials", [v2])
    await expectLoads("@mcp-credentials/server/McpHttpServer", [v2])
  })

  it("the v2 modules load without the v1 SDK", { timeout }, async () => {
    await expectLoads("@mcp-credentials/server/McpCredentialsV2", [v1])
    await expectLoads("@mcp-credentials/server/McpHttpServerV2", [v1])
  })

  it("the SDK-neutral modules load with no SDK and no @effect/platform-node", { timeout }, async () => {
    for (const module of neutral) {
      await expectLoads(`@mcp-credentials/server/${module}`, [v1, v2, platformNode])
    }
  })

  it("@mcp-credentials/auth and @mcp-credentials/vault load with no SDK and no @effect/platform-node", { timeout }, async () => {
    await expectLoads("@mcp-credentials/core", [v1, v2, platformNode])
    await expectLoads("@mcp-credentials/auth", [v1, v2, platformNode])
    await expectLoads("@mcp-credentials/vault", [v1, v2, platformNode])
  })

  it("the type declarations of core, auth, vault and the SDK-neutral server modules name no SDK", () => {
    const offending: Array<string> = []
    const check = (file: string) => {
      const text = readFileSync(file, "utf8")
      for (const [, specifier] of text.matchAll(/(?:from |import\()"([^"]+)"/g)) {
        const server = /^@mcp-credentials\/server(?:\/(\w+))?$/.exec(specifier!)
        if (specifier!.startsWith("@modelcontextprotocol/") || (server !== null && !neutral.includes(server[1] ?? ""))) {
          offending.push(`${relative(root, file)}: ${specifier}`)
        }
      }
    }
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name)
        if (entry.isDirectory()) walk(path)
        else if (entry.name.endsWith(".d.ts")) check(path)
      }
    }
    for (const pkg of ["core", "auth", "vault"]) walk(join(root, "packages", pkg, "dist"))
    for (const module of neutral) check(join(root, "packages/server/dist", `${module}.d.ts`))
    expect(offending).toEqual([])
  })

  it("the package index loads both SDK lines: without one, the error names it (and the hook works)", { timeout }, async () => {
    const run = await importWithout("@mcp-credentials/server", [v2])
    expect(run.code).not.toBe(0)
    expect(run.output).toContain(`Cannot find package '${v2}'`)
  })
})
