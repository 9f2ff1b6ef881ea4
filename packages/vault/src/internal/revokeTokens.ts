/**
 * Revokes a grant's tokens at the provider (RFC 7009), best effort: the refresh token first (it
 * stands for the grant), then the access token. Used where tokens must not outlive what they were
 * for: a disconnect, and tokens issued that cannot be kept (a record deleted during a refresh, an
 * authorization whose link was used up or whose store failed). Failures are logged, never a
 * token.
 */
import * as Effect from "effect/Effect"
import type * as Redacted from "effect/Redacted"
import * as OAuthProvider from "../OAuthProvider.js"

/** `true` when the grant-level revocation (the refresh token's, else the access token's) was accepted. */
export const revokeTokens = (
  provider: OAuthProvider.OAuthProvider,
  tokens: { readonly accessToken: Redacted.Redacted<string>; readonly refreshToken?: Redacted.Redacted<string> | undefined },
  /** Names the occasion in the log lines: `"<provider> refresh: <context>"`. */
  context: string
): Effect.Effect<boolean> => {
  if (provider.revocationEndpoint === undefined) {
    return Effect.as(
      Effect.logWarning(`${context}: the provider has no revocation endpoint; the tokens stay valid there until they expire`),
      false
    )
  }
  const send = (token: Redacted.Redacted<string>, hint: "access_token" | "refresh_token") =>
    OAuthProvider.revoke(provider, { token, hint }).pipe(
      Effect.as(true),
      Effect.catchAll((e) => Effect.as(Effect.logWarning(`${context}: revoking the ${hint.replace("_", " ")}: ${e.message}`), false))
    )
  return tokens.refreshToken === undefined
    ? send(tokens.accessToken, "access_token")
    : Effect.zipLeft(send(tokens.refreshToken, "refresh_token"), send(tokens.accessToken, "access_token"))
}
