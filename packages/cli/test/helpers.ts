import { execFile } from "node:child_process"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

/** The built binary: the tests run it as a subprocess (`npm test` builds first: `pretest: tsc -b`). */
export const BIN = fileURLToPath(new URL("../dist/bin.js", import.meta.url))
/** The launcher that `package.json#bin` points at (npm links it as `mcp-credentials`). */
export const LAUNCHER = fileURLToPath(new URL("../bin/mcp-credentials.js", import.meta.url))

export const assertBuilt = () => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`npx tsc -b\` (or \`npm test\`, which builds first)`)
}

export interface Result {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/**
 * Runs the CLI with a minimal environment (only PATH and what `env` adds), so the caller's
 * MCP_CREDENTIAL_MODE or credential variables never leak in.
 */
export const run = (
  args: ReadonlyArray<string>,
  options: { readonly cwd?: string; readonly env?: Readonly<Record<string, string>>; readonly bin?: string } = {}
): Promise<Result> =>
  new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [options.bin ?? BIN, ...args],
      {
        cwd: options.cwd,
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...options.env },
        timeout: 30_000,
        maxBuffer: 4 * 1024 * 1024
      },
      (error, stdout, stderr) => {
        if (error !== null && typeof error.code !== "number") return reject(error)
        resolve({ code: error === null ? 0 : (error.code as number), stdout, stderr })
      }
    )
  })

/** A fresh temporary directory, removed by the returned cleanup. */
export const tempDir = (): { readonly dir: string; readonly cleanup: () => void } => {
  const dir = mkdtempSync(join(tmpdir(), "mcp-credentials-cli-"))
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) }
}

/** No stack trace, one line. */
export const isOneLine = (text: string): boolean => {
  const lines = text.trimEnd().split("\n")
  return lines.length === 1 && lines[0]!.length > 0 && !/\n\s+at /.test(text)
}
