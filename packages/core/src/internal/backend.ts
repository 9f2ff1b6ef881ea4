/**
 * The CredentialBackend tag lives here so that the Env and Header modules and the
 * CredentialBackend module (which picks between them) import it without a cycle.
 */
import * as Context from "effect/Context"
import type * as DefaultServices from "effect/DefaultServices"
import type * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import type { CredentialError } from "../CredentialError.js"
import type { CredentialKind, ResolvedCredential } from "../ResolvedCredential.js"

/** @internal */
export type RequestHeaders = Readonly<Record<string, string | ReadonlyArray<string> | undefined>>

/** @internal */
export interface CredentialRequest {
  readonly kind: CredentialKind
  readonly headers?: RequestHeaders | undefined
  readonly user?: { readonly subject: string } | undefined
}

/** @internal */
export class CredentialBackend extends Context.Tag("@mcp-credentials/core/CredentialBackend")<
  CredentialBackend,
  {
    readonly resolve: (request: CredentialRequest) => Effect.Effect<ResolvedCredential, CredentialError>
    /**
     * The same resolution without a fiber, for the server's per-call hot path: given the default
     * services (`Clock`, `ConfigProvider`) of the runtime the call runs on, the outcome `resolve`
     * would have there, or `undefined` when it cannot answer synchronously (the caller then runs
     * `resolve`). Optional; backends that wait (stores, refreshes, elicitation) leave it out.
     */
    readonly unsafeResolve?:
      | ((
        request: CredentialRequest,
        services: Context.Context<DefaultServices.DefaultServices>
      ) => Either.Either<ResolvedCredential, CredentialError> | undefined)
      | undefined
  }
>() {}
