// One error type for every weight-file reader and writer, so callers can tell "bad file" from a bug. The message
// always starts with the file name (as the caller passed it) and names the tensor / key / byte offset involved.

/** Where in a weight file an error was found. */
export interface WeightFileErrorDetail {
  /** Tensor name, zip entry or state-dict key the problem is about. */
  readonly key?: string;
  /** Byte offset in the file (or in the pickle stream) where the problem was found. */
  readonly offset?: number;
}

/** A weight file that cannot be read; the message names the file and what was wrong. */
export class WeightFileError extends Error {
  readonly file: string;
  readonly key: string | undefined;
  readonly offset: number | undefined;

  constructor(file: string, message: string, detail: WeightFileErrorDetail = {}) {
    super(`${file}: ${message}`);
    this.name = 'WeightFileError';
    this.file = file;
    this.key = detail.key;
    this.offset = detail.offset;
  }
}
