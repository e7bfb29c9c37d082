/** Something of a Make scenario that topicflow cannot express: the reason, as a report line says it. */
export class Untranslatable extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'Untranslatable';
  }
}

/** A module that uses another module which is not translated: it is left out with it. */
export class DependsOn extends Untranslatable {
  readonly module: number;
  constructor(module: number, reason: string) {
    super(reason);
    this.name = 'DependsOn';
    this.module = module;
  }
}
