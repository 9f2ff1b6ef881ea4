/**
 * The CredentialBackend tag lives here so that the Env and Header modules and the
 * CredentialBackend module (which picks between them) import it without a cycle.
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
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
  }
>() {}
