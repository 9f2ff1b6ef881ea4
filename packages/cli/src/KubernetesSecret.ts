/**
 * A Kubernetes `Secret` manifest holding a private key file, for `kubectl apply -f -`: the whole
 * file, base64-encoded, under `data.mcp_jwks` (the seed's key). Mount it and point
 * `MCP_KEY_FILE_PATH` at the mounted file.
 *
 * Unlike the seed, this reads an existing key file instead of generating (and silently
 * overwriting) one, and validates the name and namespace instead of pasting them into the YAML.
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import { type FileError, InvalidArgumentError, KeyFormatError } from "./CliError.js"
import * as Files from "./internal/files.js"
import * as KeyFile from "./KeyFile.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** `metadata.name`, an RFC 1123 subdomain. Default `mcp-auth-keys`. */
  readonly name?: string | undefined
  /** `metadata.namespace`, an RFC 1123 label. Default `default`. */
  readonly namespace?: string | undefined
  /** The key under `data:`. Default `mcp_jwks`. */
  readonly dataKey?: string | undefined
}

/**
 * @since 0.1.0
 * @category constants
 */
export const defaults = { name: "mcp-auth-keys", namespace: "default", dataKey: "mcp_jwks" } as const

/**
 * The default key file: `.keys/mcp-private.json`.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultKeyFile = `${KeyFile.defaultDirectory}/${KeyFile.fileNames.enc.private}`

/**
 * Renders the manifest for file content `content`. Fails when the name, namespace or data key
 * is not valid for Kubernetes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (content: Uint8Array, options: Options = {}): Effect.Effect<string, InvalidArgumentError> =>
  Effect.gen(function*() {
    const name = options.name ?? defaults.name
    const namespace = options.namespace ?? defaults.namespace
    const dataKey = options.dataKey ?? defaults.dataKey
    if (!isSubdomain(name)) {
      return yield* new InvalidArgumentError({
        option: "--name",
        reason: "must be lowercase letters, digits, '-' and '.', start and end alphanumeric, at most 253 characters"
      })
    }
    if (!isLabel(namespace)) {
      return yield* new InvalidArgumentError({
        option: "--namespace",
        reason: "must be lowercase letters, digits and '-', start and end alphanumeric, at most 63 characters"
      })
    }
    if (!/^[-._a-zA-Z0-9]{1,253}$/.test(dataKey) || dataKey === "." || dataKey.startsWith("..")) {
      return yield* new InvalidArgumentError({
        option: "--data-key",
        reason: "must be letters, digits, '-', '_' and '.', at most 253 characters, and not '.' or start with '..'"
      })
    }
    return [
      "apiVersion: v1",
      "kind: Secret",
      "metadata:",
      // quoted: a valid name such as `null`, `true`, `on` or `1e3` is not a string to a YAML parser
      `  name: ${JSON.stringify(name)}`,
      `  namespace: ${JSON.stringify(namespace)}`,
      "type: Opaque",
      "data:",
      `  ${JSON.stringify(dataKey)}: ${Buffer.from(content).toString("base64")}`,
      ""
    ].join("\n")
  })

/**
 * Reads a private key file (it must parse as a JWK or JWKS with private parts, so a public file
 * given by mistake is refused) and renders its manifest.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromKeyFile = (
  path: string,
  options: Options = {}
): Effect.Effect<string, FileError | KeyFormatError | InvalidArgumentError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const text = yield* Files.readText(path)
    const keys = yield* KeyFile.parse(path, text)
    if (keys.some((k) => k.d === undefined)) {
      return yield* new KeyFormatError({ path, reason: "not a private key file (a key has no private part)" })
    }
    return yield* make(Buffer.from(text, "utf8"), options)
  })

// internals

const label = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
const isLabel = (s: string): boolean => s.length <= 63 && new RegExp(`^${label}$`).test(s)
const isSubdomain = (s: string): boolean => s.length <= 253 && new RegExp(`^${label}(\\.${label})*$`).test(s)
