/** The command line was wrong: exit code 2, with the usage hint. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** The data or a service refused the request: exit code 1, with the message. */
export class DataError extends Error {
  override readonly name: string = "DataError";
}
