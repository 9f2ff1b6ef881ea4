/**
 * Parsing shared by the Env and Header backends. Nothing here ever puts a value in a message.
 */
import * as Either from "effect/Either"

/** @internal */
export const jsonObjectExample = `'{"keyId":"...","keySecret":"..."}'`

/** The example for non-secret metadata (`X-MCP-Cred-Extra`). @internal */
export const extraObjectExample = `'{"region":"eu-west-1"}'`

/**
 * Parses JSON that must be an object. Left carries a reason that never quotes the value.
 * @internal
 */
export const parseJsonObject = (
  raw: string,
  example: string = jsonObjectExample
): Either.Either<Record<string, unknown>, string> => {
  let parsed: unknown
  try {
    parsed = JSON.parse(raw)
  } catch {
    return Either.left(`not valid JSON. Value must be a JSON object, e.g. ${example}.`)
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    return Either.left(`must be a JSON object, e.g. ${example}, not ${describeJson(parsed)}.`)
  }
  // an own "__proto__" key (JSON.parse makes one) would become the prototype of a copy
  if (Object.prototype.hasOwnProperty.call(parsed, "__proto__")) return Either.left(`the key "__proto__" is not allowed.`)
  return Either.right(parsed as Record<string, unknown>)
}

const describeJson = (u: unknown): string =>
  u === null ? "null" : Array.isArray(u) ? "an array" : typeof u === "object" ? "an object" : `a ${typeof u}`

/**
 * Converts the values of a JSON object to strings with JSON spelling (`true`, `42`); null,
 * arrays and objects are refused, naming the field.
 * @internal
 */
export const fieldsFromJson = (
  object: Record<string, unknown>
): Either.Either<Record<string, string>, string> => {
  const out: Record<string, string> = {}
  for (const [key, value] of Object.entries(object)) {
    // as a key of the result it would set its prototype: the field would be lost
    if (key === "__proto__") return Either.left(`field "__proto__" is not allowed.`)
    switch (typeof value) {
      case "string":
        out[key] = value
        break
      case "number":
        // JSON.parse has already rounded an integer past 2^53 (its digits would be wrong), and made
        // a number past the range of a double Infinity (`JSON.stringify` spells it "null")
        if (!Number.isFinite(value) || (Number.isInteger(value) && !Number.isSafeInteger(value))) {
          return Either.left(`field ${JSON.stringify(key)} is a number too large to keep exactly; write it as a string.`)
        }
        out[key] = JSON.stringify(value)
        break
      case "boolean":
        out[key] = JSON.stringify(value)
        break
      default:
        return Either.left(
          `field ${JSON.stringify(key)} must be a string, number or boolean, not ${describeJson(value)}.`
        )
    }
  }
  return Either.right(out)
}

/**
 * Splits scopes on any run of white space; an empty result is `undefined`.
 * @internal
 */
export const splitScopes = (raw: string): ReadonlyArray<string> | undefined => {
  const scopes = raw.split(/\s+/).filter((s) => s.length > 0)
  return scopes.length === 0 ? undefined : scopes
}

// the date and the time each in extended or basic format, not mixed within one (as Python's
// `fromisoformat`: `2026-0504` and `12:0000` are refused, `20260504T12:00` is not)
const isoPattern = new RegExp(
  "^(\\d{4})(?:-(\\d{2})-(\\d{2})|(\\d{2})(\\d{2})|-W(\\d{2})(?:-(\\d))?|W(\\d{2})(\\d)?)" + // calendar or week date
    "(?:[T ](\\d{2})(?::(\\d{2})(?::(\\d{2})(?:[.,](\\d+))?)?|(\\d{2})(?:(\\d{2})(?:[.,](\\d+))?)?)?" + // time
    "(Z|[+-]\\d{2}(?::?\\d{2})?)?)?$" // offset
)

/** `Date.UTC` with years 0–99 as themselves (`Date.UTC` reads them as 1900–1999). */
const utc = (year: number, month: number, day: number, hour = 0, minute = 0, second = 0, millis = 0): number => {
  const date = new Date(Date.UTC(2000, 0, 1, hour, minute, second, millis))
  date.setUTCFullYear(year, month, day)
  return date.getTime()
}

const daysInMonth = (year: number, month: number): number => new Date(utc(year, month, 0)).getUTCDate()

const dayMillis = 86_400_000

/** Monday of ISO week 1 (the week with January 4th), epoch milliseconds. */
const isoWeekOne = (year: number): number => {
  const jan4 = utc(year, 0, 4)
  return jan4 - ((new Date(jan4).getUTCDay() + 6) % 7) * dayMillis
}

/** The calendar date of an ISO week date, or `undefined` (week 0, a 53rd week the year lacks, day 0 or 8). */
const fromWeekDate = (year: number, week: number, weekday: number): { year: number; month: number; day: number } | undefined => {
  const weekOne = isoWeekOne(year)
  const weeks = (isoWeekOne(year + 1) - weekOne) / (7 * dayMillis)
  if (week < 1 || week > weeks || weekday < 1 || weekday > 7) return undefined
  const date = new Date(weekOne + ((week - 1) * 7 + weekday - 1) * dayMillis)
  return { year: date.getUTCFullYear(), month: date.getUTCMonth() + 1, day: date.getUTCDate() }
}

/**
 * Parses an ISO-8601 date or date-time the way Python's `datetime.fromisoformat` accepts it
 * (extended or basic format, calendar or week dates (`2026-W18-1`, `2026W18`), `T` or space,
 * `Z`/`±HH[:MM]` offsets, a date alone is midnight, no offset is UTC). Refuses surrounding space,
 * a lowercase `z`, epoch numbers, hour 24 and a date or time that mixes extended and basic
 * format. Returns epoch milliseconds (fractions beyond milliseconds are truncated).
 * @internal
 */
export const parseIsoDateTime = (raw: string): number | undefined => {
  const m = isoPattern.exec(raw)
  if (m === null) return undefined
  const [, y, mo, d, mob, db, w, wd, wb, wdb, h, mi, s, frac, mib, sb, fracb, offset] = m
  let year = Number(y), month: number, day: number
  const week = w ?? wb
  if (week !== undefined) {
    // year 0 does not exist for Python's datetime (MINYEAR is 1)
    const date = year < 1 ? undefined : fromWeekDate(year, Number(week), Number(wd ?? wdb ?? "1"))
    if (date === undefined) return undefined
    ;({ year, month, day } = date)
  } else {
    month = Number(mo ?? mob)
    day = Number(d ?? db)
  }
  const hour = h === undefined ? 0 : Number(h)
  const minuteText = mi ?? mib, secondText = s ?? sb, fraction = frac ?? fracb
  const minute = minuteText === undefined ? 0 : Number(minuteText)
  const second = secondText === undefined ? 0 : Number(secondText)
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined
  if (hour > 23 || minute > 59 || second > 59) return undefined
  const millis = fraction === undefined ? 0 : Number((fraction + "00").slice(0, 3))
  let offsetMinutes = 0
  if (offset !== undefined && offset !== "Z") {
    const sign = offset.startsWith("-") ? -1 : 1
    const digits = offset.slice(1).replace(":", "")
    const oh = Number(digits.slice(0, 2)), om = digits.length > 2 ? Number(digits.slice(2, 4)) : 0
    if (oh > 23 || om > 59) return undefined
    offsetMinutes = sign * (oh * 60 + om)
  }
  return utc(year, month - 1, day, hour, minute, second, millis) - offsetMinutes * 60_000
}
