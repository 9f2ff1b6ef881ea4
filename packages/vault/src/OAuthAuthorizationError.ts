/**
 * The errors of the downstream OAuth authorization flow (`OAuthAuthorization`). Each reaches the
 * client as a tool error. Messages name the provider, a reason or an option, never a `state`, a
 * code, a token or a one-time link.
 *
 * @since 0.1.0
 */
import { CredentialError } from "@mcp-credentials/core"
import * as Schema from "effect/Schema"

/**
 * The client cannot open a URL elicitation: the user must authorize the provider in a browser.
 * `connectUrl` asks the user to sign in first: it is not a capability, so it is safe in front of
 * the model.
 *
 * @since 0.1.0
 * @category errors
 */
export class AuthorizationRequiredError extends Schema.TaggedError<AuthorizationRequiredError>(
  "@mcp-credentials/vault/AuthorizationRequiredError"
)("AuthorizationRequiredError", {
  provider: Schema.String,
  title: Schema.String,
  connectUrl: Schema.String
}) {
  readonly [CredentialError.TypeId]: CredentialError.TypeId = CredentialError.TypeId
  override get message(): string {
    return `${this.title} authorization is required and none is stored for this user. ` +
      `Ask the user to open ${this.connectUrl} in a browser, sign in, and grant access; then call the tool again.`
  }
}

/**
 * The authorization did not end with a stored token: the user declined or cancelled the
 * elicitation, did not finish in time, the provider refused (`access_denied`) or answered with
 * another error, or the code exchange failed.
 *
 * @since 0.1.0
 * @category errors
 */
export class AuthorizationNotCompletedError extends Schema.TaggedError<AuthorizationNotCompletedError>(
  "@mcp-credentials/vault/AuthorizationNotCompletedError"
)("AuthorizationNotCompletedError", {
  provider: Schema.String,
  title: Schema.String,
  reason: Schema.Literal("declined", "cancelled", "timeout", "failed", "access_denied", "provider_error", "exchange_failed")
}) {
  readonly [CredentialError.TypeId]: CredentialError.TypeId = CredentialError.TypeId
  override get message(): string {
    switch (this.reason) {
      case "declined":
      case "cancelled":
        return `${this.title} authorization was ${this.reason}.`
      case "timeout":
        return `${this.title} authorization timed out. Please try again.`
      case "access_denied":
        return `${this.title} authorization was denied at the provider. Call the tool again to retry.`
      case "provider_error":
        return `${this.title} answered the authorization with an error. Call the tool again to retry.`
      case "exchange_failed":
        return `${this.title} authorization could not be completed (the code exchange failed). Call the tool again to retry.`
      default:
        return `${this.title} authorization failed. Please try again.`
    }
  }
}

/**
 * The stores failed during the authorization flow (the detail is in the server log).
 *
 * @since 0.1.0
 * @category errors
 */
export class AuthorizationUnavailableError extends Schema.TaggedError<AuthorizationUnavailableError>(
  "@mcp-credentials/vault/AuthorizationUnavailableError"
)("AuthorizationUnavailableError", {
  provider: Schema.String,
  operation: Schema.String
}) {
  readonly [CredentialError.TypeId]: CredentialError.TypeId = CredentialError.TypeId
  override get message(): string {
    return `${this.provider} authorization is unavailable right now (${this.operation} failed). Try again later.`
  }
}

/**
 * An option of an authorization definition or its layer is unusable. `field` names the option.
 *
 * @since 0.1.0
 * @category errors
 */
export class AuthorizationConfigError extends Schema.TaggedError<AuthorizationConfigError>(
  "@mcp-credentials/vault/AuthorizationConfigError"
)("AuthorizationConfigError", {
  field: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `OAuth authorization: invalid ${this.field}: ${this.reason}`
  }
}
