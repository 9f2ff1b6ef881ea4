import * as ConfigProvider from "effect/ConfigProvider"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { execFile } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import * as Cli from "../src/Cli.js"

/** The built program (`npm test` builds first: `pretest: tsc -b`). */
export const BIN = fileURLToPath(new URL("../dist/bin.js", import.meta.url))
/** The launcher that `package.json#bin` points at (npm links it as `mcp-credentials`); it runs BIN. */
export const LAUNCHER = fileURLToPath(
  new URL(
    `../${JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).bin["mcp-credentials"]}`,
    import.meta.url
  )
)

export const assertBuilt = () => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`npx tsc -b\` (or \`npm test\`, which builds first)`)
}

export interface Result {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/**
 * Runs the CLI as a subprocess through the package's bin (the launcher, which imports BIN), with a
 * minimal environment (only PATH and what `env` adds), so the caller's
 * MCP_CREDENTIAL_MODE or credential variables never leak in.
 */
export const run = (
  args: ReadonlyArray<string>,
  options: {
    readonly cwd?: string
    readonly env?: Readonly<Record<string, string>>
    readonly bin?: string
    readonly timeout?: number
    /** Run as this user and group (the test must run as root). */
    readonly user?: { readonly uid: number; readonly gid: number }
  } = {}
): Promise<Result> =>
  new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [options.bin ?? LAUNCHER, ...args],
      {
        cwd: options.cwd,
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...options.env },
        timeout: options.timeout ?? 60_000,
        ...(options.user !== undefined ? { uid: options.user.uid, gid: options.user.gid } : {}),
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

/**
 * Runs the command line in this process (the sources, not the binary), with `env` as the only
 * configuration and output captured. Cheap: for the variants of a case that the binary already
 * covers as a subprocess (argument validation, help). Paths must be absolute.
 */
export const runInProcess = (
  args: ReadonlyArray<string>,
  env: Readonly<Record<string, string>> = {}
): Promise<Result> => {
  const out: Array<string> = []
  const err: Array<string> = []
  const text = (args: ReadonlyArray<unknown>) => args.map(String).join(" ")
  const capture = (current: Console.Console): Console.Console => ({
    ...current,
    log: (...a) => Effect.sync(() => void out.push(text(a))),
    info: (...a) => Effect.sync(() => void out.push(text(a))),
    error: (...a) => Effect.sync(() => void err.push(text(a))),
    warn: (...a) => Effect.sync(() => void err.push(text(a))),
    unsafe: {
      ...current.unsafe,
      log: (...a) => void out.push(text(a)),
      info: (...a) => void out.push(text(a)),
      error: (...a) => void err.push(text(a)),
      warn: (...a) => void err.push(text(a))
    }
  })
  const joined = (l: ReadonlyArray<string>) => (l.length === 0 ? "" : l.join("\n") + "\n")
  return Effect.runPromise(
    Console.consoleWith((current) =>
      Cli.main(["node", "mcp-credentials", ...args]).pipe(
        Effect.withConsole(capture(current)),
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))
      )
    )
  ).then((code) => ({ code, stdout: joined(out), stderr: joined(err) }))
}
