/**
 * Every import of `@effect/platform-node` goes through this module, so a change of runtime (or of
 * Effect major version) touches one file.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { readFileSync } from "node:fs"

/** @internal */
export const layer = NodeContext.layer

/** @internal */
export const runMain = NodeRuntime.runMain

/**
 * The package version, from its package.json (found beside `dist/` and `src/` alike).
 * @internal
 */
export const version: string = (() => {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version?: unknown }
    return typeof pkg.version === "string" ? pkg.version : "0.0.0"
  } catch {
    return "0.0.0"
  }
})()

// eslint-disable-next-line no-control-regex
const ansi = /\u001b\[[0-9;]*[A-Za-z]/g

const wantsPlain = (stream: NodeJS.WriteStream): boolean =>
  stream.isTTY !== true || (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== "")

const plain = (args: ReadonlyArray<unknown>): Array<unknown> =>
  args.map((a) => (typeof a === "string" ? a.replace(ansi, "") : a))

const trimEnd = (args: ReadonlyArray<unknown>): Array<unknown> =>
  args.map((a, i) => (i === args.length - 1 && typeof a === "string" ? a.replace(/\s+$/, "") : a))

/**
 * Runs `self` with a console that drops the ANSI styling `@effect/cli` puts in help and error
 * text when the stream is not a terminal (a pipe, a file, a test) or `NO_COLOR` is set, and the
 * blank line it puts after an error message.
 * @internal
 */
/**
 * A parse error of `@effect/cli` quotes the argument it could not place (`Received unknown
 * argument: '--redis_url=redis://:password@host'`): a mistyped option's value, or a stray
 * positional, may be a secret or a URL with one. Only an option's name is kept (everything from
 * the first quote to the last: a value may hold quotes and line breaks). Nothing else is touched.
 */
export const withoutValues = (args: ReadonlyArray<any>): ReadonlyArray<any> =>
  args.map((a) => {
    if (typeof a !== "string") return a
    const m = /^(Received unknown argument: )'([\s\S]*)'(\s*)$/.exec(a)
    if (m === null) return a
    const quoted = m[2]!
    const shown = /^--?[A-Za-z][\w-]*$/.test(quoted)
      ? `'${quoted}'` // an option's name alone
      : /^--?[A-Za-z][\w-]*=/.test(quoted)
      ? `'${quoted.slice(0, quoted.indexOf("=") + 1)}…'`
      : "(a value, not shown)"
    return `${m[1]}${shown}${m[3]}`
  })

export const withPlainConsole = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Console.consoleWith((current) => {
    const out = wantsPlain(process.stdout)
    const err = wantsPlain(process.stderr)
    const log = (...args: ReadonlyArray<any>) => current.log(...(out ? plain(args) : args))
    const info = (...args: ReadonlyArray<any>) => current.info(...(out ? plain(args) : args))
    const error = (...args: ReadonlyArray<any>) => current.error(...trimEnd(withoutValues(err ? plain(args) : args)))
    const warn = (...args: ReadonlyArray<any>) => current.warn(...(err ? plain(args) : args))
    const unsafe = current.unsafe
    const wrapped: Console.Console = {
      ...current,
      log,
      info,
      error,
      warn,
      unsafe: {
        ...unsafe,
        log: (...args: ReadonlyArray<any>) => unsafe.log(...(out ? plain(args) : args)),
        info: (...args: ReadonlyArray<any>) => unsafe.info(...(out ? plain(args) : args)),
        error: (...args: ReadonlyArray<any>) => unsafe.error(...trimEnd(withoutValues(err ? plain(args) : args))),
        warn: (...args: ReadonlyArray<any>) => unsafe.warn(...(err ? plain(args) : args))
      }
    }
    return Effect.withConsole(self, wrapped)
  })
