/**
 * The service that resolves a credential for a tool call. A server has a default backend (this
 * tag) and may have named ones (`named("github")`), each from its own layer.
 *
 * @since 0.1.0
 */
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as CredentialMode from "./CredentialMode.js"
import * as EnvCredentialBackend from "./EnvCredentialBackend.js"
import * as HeaderCredentialBackend from "./HeaderCredentialBackend.js"
import { CredentialBackend } from "./internal/backend.js"
import type { ResolvedCredential } from "./ResolvedCredential.js"

export {
  /**
   * The default backend. `resolve` takes the credential kind, the request headers (absent over
   * stdio) and the user if known, and returns the credential or a tagged `CredentialError`.
   *
   * @since 0.1.0
   * @category tags
   */
  CredentialBackend
}

export type {
  /**
   * What a backend is asked to resolve.
   *
   * @since 0.1.0
   * @category models
   */
  CredentialRequest,
  /**
   * Request headers as Node and the MCP SDK give them: names in any case, a value or a list.
   *
   * @since 0.1.0
   * @category models
   */
  RequestHeaders
} from "./internal/backend.js"

/**
 * The name of the default credential.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultName = "default"

/**
 * The identifier of a named backend's tag.
 *
 * @since 0.1.0
 * @category models
 */
export interface Named<Name extends string> {
  readonly _: unique symbol
  readonly name: Name
}

const namedTags = new Map<string, Context.Tag<any, CredentialBackend["Type"]>>()

/**
 * The tag of a named backend (`"default"` is the `CredentialBackend` tag itself). The same name
 * always gives the same tag.
 *
 * @since 0.1.0
 * @category tags
 */
export const named = <const Name extends string>(
  name: Name
): Context.Tag<Named<Name>, CredentialBackend["Type"]> => {
  if (name === defaultName) return CredentialBackend as any
  let tag = namedTags.get(name)
  if (tag === undefined) {
    tag = Context.GenericTag<Named<Name>, CredentialBackend["Type"]>(`@mcp-credentials/core/CredentialBackend/${name}`)
    namedTags.set(name, tag)
  }
  return tag
}

/**
 * Provides a backend layer under a name, e.g.
 * `layerNamed("github", EnvCredentialBackend.layer({ prefix: "GITHUB_" }))`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerNamed = <const Name extends string, E, R>(
  name: Name,
  layer: Layer.Layer<CredentialBackend, E, R>
): Layer.Layer<Named<Name>, E, R> =>
  Layer.map(layer, (ctx) => Context.make(named(name), Context.get(ctx, CredentialBackend)))

/**
 * A backend that always returns `credential`, for tests.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerTest = (credential: ResolvedCredential): Layer.Layer<CredentialBackend> =>
  Layer.succeed(CredentialBackend, CredentialBackend.of({ resolve: () => Effect.succeed(credential) }))

/**
 * Picks the backend from `MCP_CREDENTIAL_MODE`: `oss` (default) → Env with `prefix`, `hosted` →
 * Header with `header` options. An invalid mode fails the layer with a `ConfigError`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerFromMode = (
  options: {
    readonly prefix?: string | undefined
    readonly header?: HeaderCredentialBackend.Options | undefined
  } = {}
): Layer.Layer<CredentialBackend, ConfigError.ConfigError> =>
  Layer.unwrapEffect(
    Effect.map(CredentialMode.get, (mode) =>
      mode === "hosted"
        ? HeaderCredentialBackend.layer(options.header)
        : EnvCredentialBackend.layer({ prefix: options.prefix }))
  )

/**
 * Resolves a credential with the default backend.
 *
 * @since 0.1.0
 * @category accessors
 */
export const resolve = (request: import("./internal/backend.js").CredentialRequest) =>
  Effect.flatMap(CredentialBackend, (backend) => backend.resolve(request))
