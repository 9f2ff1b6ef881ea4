/**
 * The plain-code accessors and the stderr logger, shared by both SDK lines (SDK-neutral).
 */
import { CurrentCredential } from "@mcp-credentials/core"
import type { ResolvedCredential } from "@mcp-credentials/core/ResolvedCredential"
import type * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Redacted from "effect/Redacted"
import { AsyncResource } from "node:async_hooks"
import * as ToolError from "../ToolError.js"

export const layerLoggerStderr: Layer.Layer<never> = Logger.replace(
  Logger.defaultLogger,
  Logger.map(Logger.logfmtLogger, (line) => {
    process.stderr.write(line + "\n")
  })
)

export const getCredentials = (name?: string): ResolvedCredential => CurrentCredential.unsafeGet(name)

export const getField = (field: string, name?: string): string => {
  const credential = CurrentCredential.unsafeGet(name)
  const value = credential.type === "static" ? credential.fields[field] : undefined
  if (value === undefined) {
    throw new ToolError.ToolError({ message: `The credential has no field '${field}'.` })
  }
  return Redacted.value(value)
}

export const bind = <F extends (...args: Array<any>) => unknown>(f: F): F => AsyncResource.bind(f) as unknown as F
