/** One line of `mayu check`. */
export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface HostCheck {
  name: string;
  status: CheckStatus;
  detail: string;
  /** What to do about a warning or failure. */
  fix?: string;
}
