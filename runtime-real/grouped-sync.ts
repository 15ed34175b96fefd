/**
 * Groups sync requests: one sync runs at a time; requests arriving while it runs share the next
 * one, which must start after them (the running one may have begun before their writes).
 */
export class GroupedSync {
  private inFlight: Promise<void> | null = null;
  private next: Promise<void> | null = null;
  private readonly run: () => Promise<void>;

  constructor(run: () => Promise<void>) {
    this.run = run;
  }

  /** Resolves once a sync that started after this call has finished. */
  request(): Promise<void> {
    if (this.inFlight === null) {
      this.inFlight = this.run().finally(() => {
        this.inFlight = null;
      });
      return this.inFlight;
    }
    if (this.next === null) {
      this.next = this.inFlight
        .catch(() => undefined)
        .then(() => {
          this.next = null;
          return this.request();
        });
    }
    return this.next;
  }
}
