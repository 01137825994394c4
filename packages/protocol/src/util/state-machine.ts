import { MayuError } from '../errors/mayu-error.js';

/**
 * An explicit state machine: a table of allowed transitions, and an error
 * naming `from` and `to` for any other.
 */
export class StateMachine<S extends string> {
  private current: S;

  constructor(
    private readonly what: string,
    initial: S,
    private readonly allowed: Readonly<Record<S, readonly S[]>>,
    private readonly onChange?: (from: S, to: S) => void,
  ) {
    this.current = initial;
  }

  get state(): S {
    return this.current;
  }

  can(to: S): boolean {
    return this.allowed[this.current].includes(to);
  }

  /** Throws the transition's error if it is not allowed now, and changes nothing (check before acting, move after). */
  assertCan(to: S): void {
    if (!this.can(to)) {
      throw new MayuError('ERR_INVALID_STATE', `${this.what}: cannot go from ${this.current} to ${to}`, { details: { from: this.current, to } });
    }
  }

  transition(to: S): void {
    const from = this.current;
    this.assertCan(to);
    this.current = to;
    this.onChange?.(from, to);
  }
}
