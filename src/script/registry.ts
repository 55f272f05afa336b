// The Registry resource scripts share (Twisted's `static.Registry`): components stored by key, kept
// for the life of the site, so data outlives each reload of a script.

/** What a component is stored under: a class (Twisted's interface key), or a string or symbol. */
export type ComponentKey<T> = (abstract new (...args: never[]) => T) | string | symbol;

/**
 * Components by key, shared by every resource script of a site and kept across reloads: a script
 * that keeps its state here (a counter, a connection pool) finds it again after an edit.
 *
 * ```ts
 * const counter = registry.getComponent(Counter) ?? registry.setComponent(Counter, new Counter());
 * ```
 *
 * A key is compared by identity: a class declared inside the script is a new class after each
 * reload, so keep shared classes in a module the script imports (imported modules are not reloaded),
 * or use a string key.
 */
export class Registry {
  readonly #components = new Map<unknown, unknown>();

  /** The component stored under `key`, or `fallback` (default undefined). */
  getComponent<T>(key: ComponentKey<T>): T | undefined;
  getComponent<T>(key: ComponentKey<T>, fallback: T): T;
  getComponent<T>(key: ComponentKey<T>, fallback?: T): T | undefined {
    return this.#components.has(key) ? (this.#components.get(key) as T) : fallback;
  }

  /** Stores `component` under `key`, replacing any other, and returns it. */
  setComponent<T>(key: ComponentKey<T>, component: T): T {
    this.#components.set(key, component);
    return component;
  }

  /** The component under `key`, made with `make()` and stored when there is none yet. */
  component<T>(key: ComponentKey<T>, make: () => T): T {
    if (this.#components.has(key)) return this.#components.get(key) as T;
    return this.setComponent(key, make());
  }

  /** Forgets the component under `key`; true when there was one. */
  removeComponent(key: ComponentKey<unknown>): boolean {
    return this.#components.delete(key);
  }
}
