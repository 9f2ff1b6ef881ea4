#!/usr/bin/env node
// The `mcp-credentials` launcher. It lives outside dist/ because npm links a package's bin only
// when the file exists at install time: a bin pointing into dist/ would not be linked by a
// `npm ci` on a fresh checkout. It runs the built program, dist/bin.js.
//
// In a source checkout (src/ and tsconfig.json beside this package.json, TypeScript installed)
// where dist/ has not been built yet, which is the state `npm ci` leaves, it builds this package
// and the packages it references once with `tsc -b`, then runs. Anywhere else a missing build
// is one line on stderr and exit code 1.
import { spawnSync } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const packageDir = fileURLToPath(new URL("..", import.meta.url))
const entry = join(packageDir, "dist", "bin.js")

const fail = (message) => {
  console.error(`mcp-credentials: ${message}`)
  process.exitCode = 1
}

/** Builds with the workspace's TypeScript; returns an error message, or undefined on success. */
const build = () => {
  if (!existsSync(join(packageDir, "tsconfig.json")) || !existsSync(join(packageDir, "src", "bin.ts"))) {
    return "not built: dist/bin.js is missing from this installation"
  }
  let tsc
  try {
    const require = createRequire(join(packageDir, "package.json"))
    const manifest = require.resolve("typescript/package.json")
    const bin = JSON.parse(readFileSync(manifest, "utf8")).bin
    tsc = join(dirname(manifest), typeof bin === "string" ? bin : bin.tsc)
  } catch {
    return "not built yet: run `npm run build` at the repository root first (TypeScript is not installed here)"
  }
  console.error("mcp-credentials: dist/ is not built yet; building it once with `tsc -b` (npm run build does the same)…")
  const result = spawnSync(process.execPath, [tsc, "-b", packageDir], { stdio: "ignore", timeout: 300_000 })
  return result.status === 0 && existsSync(entry)
    ? undefined
    : "not built, and `tsc -b` failed: run `npm run build` at the repository root to see why"
}

const problem = existsSync(entry) ? undefined : build()
if (problem !== undefined) {
  fail(problem)
} else {
  import("../dist/bin.js").catch((error) => {
    const message = String(error?.message ?? error).split("\n")[0]
    if (error?.code === "ERR_MODULE_NOT_FOUND" && /^Cannot find module '[^']*[\\/]dist[\\/][^']*'/.test(message)) {
      // dist/bin.js is there but a package it needs is not built (an interrupted build)
      fail("not fully built: run `npm run build` at the repository root first")
    } else {
      fail(`cannot start: ${message}`)
    }
  })
}
